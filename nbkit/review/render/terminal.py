"""Plain text for a terminal (and ``git diff``-like reading): one block per changed cell."""

from __future__ import annotations

from nbkit.cli.output import safe as _safe  # the one escaping rule (notebook text is untrusted)
from nbkit.review.diff import CellChange, NotebookDiff, Report
from nbkit.review.outputs import OutputChange
from nbkit.review.render import RenderOptions, cell_where, change_phrase, summary_line

_CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "dim": "2"}


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m" if self.color else text

    def diff_line(self, line: str) -> str:
        if line.startswith("@@"):
            return self(line, "cyan")
        if line.startswith("+"):
            return self(line, "green")
        if line.startswith("-"):
            return self(line, "red")
        return line


def _output_lines(out: OutputChange, options: RenderOptions, paint: _Painter) -> list[str]:
    lines = [f"    output {paint(_safe(out.summary), 'yellow')}"]
    if options.outputs:
        if out.diff:
            lines += [f"      {paint.diff_line(_safe(d))}" for d in out.diff]
        else:
            for sign, v in (("-", out.old), ("+", out.new)):
                if v is not None:
                    lines += [
                        f"      {paint.diff_line(sign + _safe(t))}"
                        for t in v.text.splitlines()[:40]
                    ]
    return lines


def _cell(cell: CellChange, options: RenderOptions, paint: _Painter) -> list[str]:
    where = cell_where(cell.new_index, cell.old_index)
    ident = f" id={_safe(cell.cell_id)}" if cell.cell_id else ""
    kind = _safe(cell.cell_type)
    if cell.old_cell_type and cell.old_cell_type != cell.cell_type:
        kind = _safe(f"{cell.old_cell_type} -> {cell.cell_type}")
    phrase = change_phrase(cell.change, cell.old_index, cell.new_index)
    lines = [paint(f"## cell {where} [{kind}{ident}] {phrase}", "bold")]
    lines += [f"  {paint.diff_line(_safe(d))}" for d in cell.source_diff]
    if cell.whitespace_only:
        lines.append(f"  whitespace only: {cell.whitespace_only}")
    for m in cell.metadata:
        lines.append(f"    metadata {_safe(m.key)}: {_safe(str(m.old))} -> {_safe(str(m.new))}")
    if cell.outputs and cell.change in ("added", "removed") and not options.outputs:
        lines.append(f"    {len(cell.outputs)} output(s) {cell.change}")
    else:
        for out in cell.outputs:
            lines += _output_lines(out, options, paint)
    return lines


def _notebook(nb: NotebookDiff, options: RenderOptions, paint: _Painter) -> list[str]:
    title = _safe(nb.path)
    if nb.old_path and nb.old_path != nb.path and nb.status != "added":
        title = f"{_safe(nb.old_path)} -> {title}"
    head = f"{title} ({nb.status})"
    if nb.paired:
        head += f" + paired script {', '.join(_safe(p) for p in nb.paired)}"
    lines = [paint(f"=== {head}", "bold")]
    for m in nb.metadata:
        lines.append(
            f"  notebook metadata {_safe(m.key)}: {_safe(str(m.old))} -> {_safe(str(m.new))}"
        )
    for cell in nb.cells:
        lines += _cell(cell, options, paint)
    return lines


def render(report: Report, options: RenderOptions) -> str:
    paint = _Painter(options.color)
    changed = [nb for nb in report.notebooks if nb.changed]
    if not changed and not report.notes:
        return ""
    lines = [
        paint(
            f"{_safe(report.old_label)} -> {_safe(report.new_label)}: {summary_line(report)}",
            "dim",
        )
    ]
    for nb in changed:
        lines += _notebook(nb, options, paint)
    lines += [f"note: {_safe(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"
