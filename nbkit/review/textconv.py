"""A notebook as plain text for ``git diff`` / ``git log -p`` (the textconv driver).

Cells get a header line, the source follows verbatim, outputs become short summaries (with
a content hash for images so a changed plot still shows as a changed line). What cleaning
strips (counts, timings, widget state) never appears, so re-running a notebook adds no noise.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nbkit.errors import BadInput
from nbkit.notebook import Notebook, loads, read_bytes, source_text
from nbkit.review.outputs import view

MAX_OUTPUT_LINES = 8


def _output_lines(output: dict[str, object]) -> list[str]:
    v = view(output)
    if v.image is not None and v.kind != "image/svg+xml":
        digest = hashlib.sha256(v.image.encode()).hexdigest()[:12]
        return [f"# > {v.text} sha256:{digest}"]
    lines = v.text.splitlines()
    shown = [f"# > {line}" for line in lines[:MAX_OUTPUT_LINES]]
    if len(lines) > MAX_OUTPUT_LINES:
        shown.append(f"# > ... {len(lines) - MAX_OUTPUT_LINES} more lines ({v.kind})")
    return [f"# > [{v.kind}]", *shown]


def notebook_text(nb: Notebook) -> str:
    meta = nb.get("metadata", {})
    kernel = meta.get("kernelspec", {}) if isinstance(meta, dict) else {}
    name = kernel.get("name", "?") if isinstance(kernel, dict) else "?"
    out = [f"# notebook: {len(nb.get('cells', []))} cells, kernel {name}"]
    for k, cell in enumerate(nb.get("cells", [])):
        cid = cell.get("id")
        tags = cell.get("metadata", {}).get("tags")
        head = f"# %% [{k + 1}] {cell.get('cell_type')}"
        if isinstance(cid, str):
            head += f" id={cid}"
        if isinstance(tags, list) and tags:
            head += f" tags={','.join(str(t) for t in tags)}"
        out += ["", head, *source_text(cell).splitlines()]
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if isinstance(output, dict):
                out += _output_lines(output)
    return "\n".join(out) + "\n"


def textconv_text(path: str | Path) -> str:
    """The readable text of a notebook; a file that is not one is passed through, noted
    (git runs this once per blob in ``git log -p``: it must never fail or import much)."""
    data = read_bytes(path)
    try:
        nb = loads(data, path)
    except BadInput as exc:
        return f"# nbkit: {exc.message}; the file follows as it is\n" + data.decode(
            "utf-8", "replace"
        )
    return notebook_text(nb)
