"""GitHub-flavoured Markdown for a pull-request comment.

Notebook content is untrusted: outside code blocks it is escaped so GitHub renders no HTML,
links, mentions or emphasis from it; inside, each block's fence is longer than any backtick
run in its content, so a notebook cannot close the block. The comment always fits the size
limit (65,536 characters on GitHub): whole cell blocks are dropped from the end, with a note.
"""

from __future__ import annotations

import re

from nbkit.review.diff import CellChange, NotebookDiff, Report
from nbkit.review.render import RenderOptions, cell_where, change_phrase, summary_line

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")
_MAX_LINE = 400
_NOTE_RESERVE = 600


def escape(text: str) -> str:
    """Inline text GitHub shows literally: no HTML, links, emphasis, mentions or refs."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "&#64;")


def fenced(lines: list[str], lang: str = "") -> str:
    """A code block no content can close (the fence outgrows the longest backtick run)."""
    clipped = [ln if len(ln) <= _MAX_LINE else ln[:_MAX_LINE] + " …" for ln in lines]
    runs = [len(m) for ln in clipped for m in re.findall(r"`+", ln)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return "\n".join([fence + lang, *clipped, fence])


def _cell_block(nb: NotebookDiff, cell: CellChange, options: RenderOptions) -> str:
    where = cell_where(cell.new_index, cell.old_index)
    kind = cell.cell_type
    if cell.old_cell_type and cell.old_cell_type != cell.cell_type:
        kind = f"{cell.old_cell_type} → {cell.cell_type}"
    phrase = change_phrase(cell.change, cell.old_index, cell.new_index)
    head = f"**cell {where}** · {escape(kind)} · {escape(phrase)}"
    if cell.cell_id:
        head += f" · id {escape(cell.cell_id)}"
    parts = [head]
    if cell.source_diff:
        parts.append(fenced(list(cell.source_diff), "diff"))
    if cell.whitespace_only:
        parts.append(f"- whitespace only: {escape(cell.whitespace_only)}")
    for m in cell.metadata:
        parts.append(f"- metadata {escape(m.key)}: {escape(str(m.old))} → {escape(str(m.new))}")
    if cell.change in ("added", "removed"):
        if cell.outputs:
            parts.append(f"- {len(cell.outputs)} output(s) {cell.change}")
    else:
        for out in cell.outputs:
            parts.append(f"- output: {escape(out.summary)}")
            if options.outputs and out.diff:
                parts.append(fenced(list(out.diff), "diff"))
    return "\n\n".join(parts) + "\n"


def _heading(nb: NotebookDiff) -> str:
    title = escape(nb.path)
    if nb.old_path and nb.old_path != nb.path and nb.status != "added":
        title = f"{escape(nb.old_path)} → {title}"
    text = f"### {title} ({nb.status})"
    if nb.paired:
        text += f"\n\nPaired script changed with it: {', '.join(escape(p) for p in nb.paired)}"
    counts = nb.counts
    if nb.status == "modified":
        text += (
            f"\n\ncells: {counts.added} added, {counts.removed} removed, "
            f"{counts.modified} modified, {counts.moved} moved; outputs changed in "
            f"{counts.outputs}"
        )
    for m in nb.metadata:
        text += (
            f"\n- notebook metadata {escape(m.key)}: {escape(str(m.old))} → {escape(str(m.new))}"
        )
    return text + "\n"


def _header(report: Report) -> str:
    title = f"## Notebook review: {escape(report.old_label)} → {escape(report.new_label)}"
    lines = [title, "", escape(summary_line(report)), ""]
    changed = [nb for nb in report.notebooks if nb.changed]
    if changed:
        lines += [
            "| notebook | status | added | removed | modified | moved | outputs |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for nb in changed:
            c = nb.counts
            lines.append(
                f"| {escape(nb.path)} | {nb.status} | {c.added} | {c.removed} | "
                f"{c.modified} | {c.moved} | {c.outputs} |"
            )
        lines.append("")
    lines += [f"> note: {escape(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"


def width(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units: an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _truncate_block(block: str, room: int) -> str:
    """A block cut to ``room`` characters, its code fence closed again."""
    cut = block[: max(0, room // 2 - 40)] if width(block) > len(block) else block[: room - 40]
    cut = cut.rsplit("\n", 1)[0]
    fences = re.findall(r"^(`{3,})", cut, flags=re.MULTILINE)
    if len(fences) % 2:
        cut += "\n" + fences[-1]
    return cut + "\n\n*(cell cut short)*\n"


def render(report: Report, options: RenderOptions) -> str:
    limit = max(options.max_chars, 2 * _NOTE_RESERVE)
    out = [_header(report)]
    size = width(out[0])
    blocks: list[str] = []
    for nb in (n for n in report.notebooks if n.changed):
        blocks.append(_heading(nb))
        blocks += [_cell_block(nb, cell, options) for cell in nb.cells]
    for k, block in enumerate(blocks):
        if size + width(block) + 1 > limit - _NOTE_RESERVE:
            room = limit - _NOTE_RESERVE - size
            if room > 200:
                out.append(_truncate_block(block, room))
            hint = f" Run `{options.command}` for the full report." if options.command else ""
            out.append(
                f"\n---\n**Report truncated:** {len(blocks) - k} of {len(blocks)} "
                f"sections not shown, to stay under the {options.max_chars:,}-character "
                f"comment limit.{hint}\n"
            )
            break
        out.append(block)
        size += width(block) + 1
    text = "\n".join(out)
    assert width(text) <= limit, "markdown report over its size limit"
    return text
