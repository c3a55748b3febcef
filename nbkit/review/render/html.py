"""One self-contained HTML page: summary on top, each changed cell before/after side by side.

Everything from a notebook is untrusted. Text is escaped; output HTML was sanitized by nh3
when the diff was built; images are inline ``data:`` URIs of validated base64, SVG only as an
``<img>`` (where its scripts cannot run); and a Content-Security-Policy with no script source
means that even a sanitizer miss cannot execute anything or fetch anything.
"""

from __future__ import annotations

import difflib
from html import escape

from nbkit.review.diff import CellChange, NotebookDiff, Report
from nbkit.review.outputs import OutputChange, OutputView, PixelBudget, highlight
from nbkit.review.render import RenderOptions, cell_where, change_phrase, summary_line
from nbkit.review.render.markup import (
    Span,
    changed_words,
    highlight_lines,
    line_html,
    markdown_html,
    stylesheet,
)

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CONTEXT = 3

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:16px;color:#1f2328}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;border-bottom:1px solid #d0d7de;padding:4px 0}
.summary{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:12px;margin:12px 0}
.summary table,.notebook table{border-collapse:collapse}
.summary td,.summary th{padding:2px 10px;text-align:right}.summary td:first-child{text-align:left}
.cell{border:1px solid #d0d7de;border-radius:6px;margin:12px 0;overflow:hidden}
.cell h3{font-size:14px;margin:0;padding:6px 10px;background:#f6f8fa}
.added h3{background:#dafbe1}.removed h3{background:#ffebe9}.moved h3{background:#fff8c5}
table.sbs{width:100%;table-layout:fixed}.sbs td{vertical-align:top;width:50%;padding:0 6px}
.sbs th{font-weight:normal;color:#57606a;text-align:left;padding:2px 6px}
pre{margin:0;white-space:pre-wrap;word-break:break-word;font:12px/1.4 ui-monospace,monospace}
.del{background:#ffebe9}.ins{background:#dafbe1}.skip{color:#57606a;font-style:italic}
.out{border-top:1px dashed #d0d7de;padding:4px 0}
.out img{max-width:100%;height:auto;border:1px solid #d0d7de;background:#fff}
.label{color:#57606a;font-size:12px}.meta{font-size:12px;color:#57606a;padding:4px 10px}
.badge{font-size:12px;padding:1px 6px;border-radius:10px;background:#eaeef2;margin-left:6px}
pre.hl{background:transparent}.del .wd{background:#ff8182}.ins .wd{background:#4ac26b}
.md{padding:2px 4px;overflow-wrap:anywhere}.md h1{font-size:1.6em}.md h2{font-size:1.35em}
.md h1,.md h2,.md h3{margin:.4em 0;border:0}.md p{margin:.4em 0}
.md pre{background:#f6f8fa;padding:6px;border-radius:4px}
.md code{font:12px ui-monospace,monospace;background:#eff1f3;padding:0 3px;border-radius:3px}
.md table{border-collapse:collapse}.md td,.md th{border:1px solid #d0d7de;padding:2px 6px}
.md img{max-width:100%}.md blockquote{margin:0;padding:0 10px;border-left:3px solid #d0d7de}
.math{font-family:ui-monospace,monospace;color:#0550ae}div.math{margin:.4em 0}
details summary{color:#57606a;font-size:12px;cursor:pointer;padding:2px 6px}
"""


def _source_rows(old: str, new: str, language: str | None) -> str:
    """Side-by-side rows of a line diff, highlighted, changed words marked inside changed
    lines; long unchanged stretches are folded."""
    a, b = old.splitlines(), new.splitlines()
    hl_a, hl_b = highlight_lines(old, language), highlight_lines(new, language)
    rows = []
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            span = a1 - a0
            if span > 2 * _CONTEXT + 1:
                keep = list(range(a0, a0 + _CONTEXT)) if a0 else []
                tail = list(range(a1 - _CONTEXT, a1)) if a1 < len(a) else []
                rows += [_row(line_html(hl_a[k]), "", line_html(hl_a[k]), "") for k in keep]
                rows.append(
                    f'<tr><td colspan="2" class="skip">… {span - len(keep) - len(tail)}'
                    " unchanged lines</td></tr>"
                )
                rows += [_row(line_html(hl_a[k]), "", line_html(hl_a[k]), "") for k in tail]
            else:
                rows += [
                    _row(line_html(hl_a[k]), "", line_html(hl_a[k]), "") for k in range(a0, a1)
                ]
            continue
        for k in range(max(a1 - a0, b1 - b0)):
            i, j = a0 + k, b0 + k
            left, right = (hl_a[i] if i < a1 else None), (hl_b[j] if j < b1 else None)
            words: tuple[list[Span], list[Span]] = ([], [])
            if left is not None and right is not None:
                words = changed_words(a[i], b[j])
            rows.append(
                _row(
                    None if left is None else line_html(left, words[0]),
                    "del",
                    None if right is None else line_html(right, words[1]),
                    "ins",
                )
            )
    return "".join(rows)


def _row(left: str | None, lcls: str, right: str | None, rcls: str) -> str:
    """One row of two already-escaped lines (None: no line on that side)."""

    def td(html: str | None, cls: str) -> str:
        if html is None:
            return "<td></td>"
        return f'<td class="{cls}"><pre class="hl">{html or " "}</pre></td>'

    return f"<tr>{td(left, lcls)}{td(right, rcls)}</tr>"


def _rendered_row(cell: CellChange) -> str:
    """Markdown cells as a reader sees them, before and after."""
    if cell.cell_type != "markdown" and cell.old_cell_type != "markdown":
        return ""

    def side(source: str, kind: str | None, present: bool) -> str:
        if not present or kind != "markdown":
            return "<td></td>"
        return f'<td><div class="md">{markdown_html(source)}</div></td>'

    old_side = side(cell.old_source, cell.old_cell_type or cell.cell_type, cell.change != "added")
    new_side = side(cell.new_source, cell.cell_type, cell.change != "removed")
    return f'<tr class="rendered">{old_side}{new_side}</tr>'


def _view(v: OutputView | None) -> str:
    if v is None:
        return ""
    label = f'<div class="label">{escape(v.kind)}</div>'
    if v.image is not None:
        mime = v.kind if v.kind.startswith("image/") else "image/png"
        dims = f" {v.size[0]}×{v.size[1]}" if v.size else ""
        return (
            f'{label}<img alt="{escape(v.kind + dims)}" src="data:{escape(mime)};base64,{v.image}">'
        )
    if v.html is not None:
        return f'{label}<div class="html-output">{v.html}</div>'
    if v.kind == "text/markdown":
        return f'{label}<div class="md">{markdown_html(v.text)}</div>'
    text = v.text if len(v.text) < 20000 else v.text[:20000] + "\n…"
    return f"{label}<pre>{escape(text)}</pre>"


def _highlight_row(o: OutputChange, budget: PixelBudget) -> str:
    """Where two same-size images differ, drawn in red over the faded new image."""
    if not o.pixels_changed or o.old is None or o.new is None or not budget.take():
        return ""
    if not (o.old.image and o.new.image):
        return ""
    marked = highlight(o.old.image, o.new.image)
    if marked is None:
        return ""
    return (
        '<tr class="out"><td class="out"></td><td class="out"><div class="label">'
        f'changed pixels in red</div><img alt="changed pixels" src="data:image/png;base64,'
        f'{marked}"></td></tr>'
    )


def _output_row(o: OutputChange, budget: PixelBudget) -> str:
    return (
        f'<tr><th colspan="2">output: {escape(o.summary)}</th></tr>'
        f'<tr class="out"><td class="out">{_view(o.old)}</td>'
        f'<td class="out">{_view(o.new)}</td></tr>{_highlight_row(o, budget)}'
    )


def _source_block(cell: CellChange, language: str | None) -> str:
    """The source diff: code highlighted in the notebook's language; under a markdown
    cell's rendered view it folds away (open when the text was edited)."""
    lang = language if cell.cell_type == "code" else None
    rows = _source_rows(cell.old_source, cell.new_source, lang)
    rendered = _rendered_row(cell)
    if not rendered:
        return rows
    opened = " open" if cell.change not in ("added", "removed") else ""
    return (
        f'{rendered}<tr><td colspan="2"><details{opened}><summary>markdown source</summary>'
        f'<table class="sbs">{rows}</table></details></td></tr>'
    )


def _cell(cell: CellChange, budget: PixelBudget, language: str | None) -> str:
    where = cell_where(cell.new_index, cell.old_index)
    kind = cell.cell_type
    if cell.old_cell_type and cell.old_cell_type != cell.cell_type:
        kind = f"{cell.old_cell_type} → {cell.cell_type}"
    title = f"cell {where} · {kind} · {change_phrase(cell.change, cell.old_index, cell.new_index)}"
    if cell.cell_id:
        title += f" · id {cell.cell_id}"
    parts = [f'<div class="cell {escape(cell.change)}"><h3>{escape(title)}</h3>']
    for m in cell.metadata:
        parts.append(
            f'<div class="meta">metadata {escape(m.key)}: {escape(str(m.old))} → '
            f"{escape(str(m.new))}</div>"
        )
    rows = [_output_row(o, budget) for o in cell.outputs]
    if cell.old_source != cell.new_source or cell.change in ("added", "removed"):
        rows.insert(0, _source_block(cell, language))
    elif cell.moved:
        parts.append('<div class="meta">source unchanged</div>')
    if rows:
        parts.append('<table class="sbs"><tr><th>before</th><th>after</th></tr>')
        parts += [*rows, "</table>"]
    parts.append("</div>")
    return "".join(parts)


def _notebook(nb: NotebookDiff, anchor: str, budget: PixelBudget) -> str:
    title = escape(nb.path)
    if nb.old_path and nb.old_path != nb.path and nb.status != "added":
        title = f"{escape(nb.old_path)} → {title}"
    parts = [
        f'<section class="notebook" id="{anchor}"><h2>{title}'
        f'<span class="badge">{escape(nb.status)}</span></h2>'
    ]
    if nb.paired:
        parts.append(f"<p>Paired script changed with it: {escape(', '.join(nb.paired))}</p>")
    for m in nb.metadata:
        parts.append(
            f'<div class="meta">notebook metadata {escape(m.key)}: '
            f"{escape(str(m.old))} → {escape(str(m.new))}</div>"
        )
    parts += [_cell(c, budget, nb.language) for c in nb.cells]
    parts.append("</section>")
    return "".join(parts)


def _summary(report: Report, changed: list[NotebookDiff]) -> str:
    c = report.counts
    rows = "".join(
        f'<tr><td><a href="#nb-{k}">{escape(nb.path)}</a></td><td>{escape(nb.status)}</td>'
        + "".join(f"<td>{n}</td>" for n in nb.counts.as_tuple()[:5])
        + "</tr>"
        for k, nb in enumerate(changed)
    )
    totals = "".join(f"<td>{n}</td>" for n in c.as_tuple()[:5])
    notes = "".join(f"<p>note: {escape(n)}</p>" for n in report.notes)
    return (
        f'<section class="summary" id="summary"><p>{escape(summary_line(report))}</p>'
        "<table><tr><th>notebook</th><th>status</th><th>cells added</th><th>removed</th>"
        "<th>modified</th><th>moved</th><th>outputs changed</th></tr>"
        f"{rows}<tr><td><b>total</b></td><td></td>{totals}</tr></table>{notes}</section>"
    )


def render(report: Report, options: RenderOptions) -> str:
    changed = [nb for nb in report.notebooks if nb.changed]
    title = f"nbkit review: {report.old_label} → {report.new_label}"
    budget = PixelBudget(100)  # highlight images drawn per page
    body = "".join(_notebook(nb, f"nb-{k}", budget) for k, nb in enumerate(changed))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}{stylesheet()}</style></head><body>"
        f"<header><h1>Notebook review</h1><p>{escape(report.old_label)} → "
        f"{escape(report.new_label)}</p></header>{_summary(report, changed)}{body}"
        "</body></html>\n"
    )
