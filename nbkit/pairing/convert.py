"""Converting between a notebook and its paired script (these functions import jupytext).

A script is the text jupytext itself writes for the notebook: with the jupytext
configuration that applies to it (``jupytext_config``) and the notebook's own
``metadata.jupytext``, so ``jupytext --sync`` finds nothing to change. When nbkit creates a
pairing itself it records ``notebook_metadata_filter = "-all"`` with the formats (no header:
no jupytext version and no machine-specific kernelspec churning between machines), unless
the notebook or the jupytext configuration already chose a filter or the script already
has a header: nbkit never strips what jupytext would put back.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nbkit import lazy, notebook
from nbkit.errors import BadInput, shown
from nbkit.fsutil import atomic_write_text, detect_newline, make_folder
from nbkit.pairing import jupytext_config
from nbkit.pairing.languages import LANGUAGES, language_of
from nbkit.pairing.paths import Inputs, Pair, notebook_formats, resolve_formats

NOTEBOOK_METADATA_FILTER = "-all"


def normalise(source: str) -> str:
    """A cell source as compared between the two sides: jupytext drops the newlines that
    start and end a cell and turns CRLF into LF, so those differences are not edits."""
    return source.replace("\r\n", "\n").strip("\n")


def normalise_cell(cell_type: str, source: str) -> str:
    """``normalise``, and a markdown cell without the whitespace that ends it: MyST cannot
    carry it (jupytext strips it on reading) and Markdown gives it no meaning. Trailing
    spaces inside a markdown cell, and all of a code cell, still count."""
    text = normalise(source)
    return text.rstrip() if cell_type == "markdown" else text


def inputs_of(nb: notebook.Notebook) -> Inputs:
    """What sync compares: each cell's type and normalised source, in order."""
    return tuple(
        (kind, normalise_cell(kind, notebook.source_text(cell)))
        for cell in nb.get("cells", [])
        for kind in (str(cell.get("cell_type")),)
    )


def read_script(data: bytes, path: Path, fmt: str) -> notebook.Notebook:
    """Parse a script's bytes with jupytext into a plain notebook dict."""
    jupytext = lazy.jupytext(myst=lazy.needs_myst(fmt))

    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte {exc.start})", path) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if notebook.has_conflict_markers(data):
        raise BadInput(
            "contains git conflict markers (<<<<<<< / >>>>>>>)",
            shown(path),
            hint=f"nbkit resolve {shown(path)} (rebuilds it from its resolved notebook),"
            " or edit the markers out as in any text file",
        )
    settings = jupytext_config.for_path(path)
    try:
        with _no_cell_schema_check():
            parsed = jupytext.reads(text, fmt=fmt, config=settings)
    except Exception as exc:  # jupytext raises many types for text it cannot read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"jupytext cannot read this as {fmt}: {first}", path) from None
    result: notebook.Notebook = _plain(parsed)
    return result


@contextlib.contextmanager
def _no_cell_schema_check() -> Iterator[None]:
    """jupytext builds each cell with nbformat's ``new_*_cell``, which checks every cell (and
    then the whole notebook) against the JSON schema: half of a hook's time on edited pairs,
    measured. The cells jupytext reads from text are plain type + source + metadata, and
    nbkit checks what it relies on itself (``inputs_of`` on every side, the round trip before
    a script is written, ``validate`` before a notebook is committed). Single-threaded use
    only: the check is switched off for the duration of one ``jupytext.reads``."""
    from nbformat.v4 import nbbase

    original = nbbase.validate
    nbbase.validate = _skip_validation
    try:
        yield
    finally:
        nbbase.validate = original


def _skip_validation(node: Any, ref: str | None = None) -> None:
    return None


def _plain(node: Any) -> Any:
    """nbformat NotebookNodes as plain dicts and lists."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def script_text(
    nb: notebook.Notebook,
    formats: str,
    fmt: str,
    path: Path | None = None,
    *,
    header: bool = False,
) -> str:
    """The script jupytext writes for ``nb`` paired by ``formats``, with the jupytext
    configuration that applies to ``path`` (the script). A pairing that neither the notebook
    records nor that configuration declares is nbkit's own: recorded as ``with_pairing``
    records it (``header``: the script has a jupytext header, which is kept)."""
    jupytext = lazy.jupytext(myst=lazy.needs_myst(fmt))
    nbformat = lazy.nbformat()

    settings = jupytext_config.for_path(path) if path is not None else None
    meta = nb.get("metadata", {})
    groups = (settings.formats or []) if settings is not None else []
    declared = any(formats in (group, _resolved(group, meta)) for group in groups)
    if notebook_formats(nb) is None and not declared:
        meta = with_pairing({"metadata": meta}, formats, header=header)["metadata"]
    cells = [_cell_for_text(cell) for cell in nb.get("cells", [])]
    if not cells:
        return ""  # jupytext's MyST writer fails on a notebook without cells
    node = nbformat.from_dict({**nb, "metadata": meta, "cells": cells})
    try:
        text: str = jupytext.writes(node, fmt=fmt, config=settings)
    except Exception as exc:  # a jupytext writer failing is a format limit, not our bug
        raise BadInput(f"jupytext cannot write this notebook as {fmt}: {exc!r}", path) from None
    return text


def _cell_for_text(cell: dict[str, Any]) -> dict[str, Any]:
    """Only what the script carries: jupytext ignores outputs, so skip copying them."""
    out = {k: v for k, v in cell.items() if k not in ("outputs", "execution_count")}
    out["source"] = notebook.source_text(cell)
    if cell.get("cell_type") == "code":
        out["outputs"], out["execution_count"] = [], None
    return out


def check_round_trip(text: str, expected: Inputs, path: Path, fmt: str) -> None:
    """Refuse a script that would not give back every cell (e.g. a '# %%' line in a cell)."""
    got = inputs_of(read_script(text.encode("utf-8"), path, fmt))
    if got != expected:
        where = _first_difference(expected, got)
        raise BadInput(
            f"the {fmt} script would not keep every cell ({where}); nothing was written",
            path,
            hint="a cell probably contains a cell marker of that format; pick another format",
        )


def _first_difference(expected: Inputs, got: Inputs) -> str:
    for index, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want != have:
            return f"cell {index} differs"
    return f"{len(expected)} cells became {len(got)}"


def render_script(
    pair: Pair, nb: notebook.Notebook, formats: str, existing: bytes | None = None
) -> str:
    """The pair's script for ``nb``, checked to give back every cell (else ``BadInput``);
    ``existing``: the script on disk (its jupytext header, if any, is kept)."""
    text = script_text(nb, formats, pair.fmt, pair.script, header=has_header(existing))
    try:
        check_round_trip(text, inputs_of(nb), pair.script, pair.fmt)
    except BadInput as exc:
        raise _language_mismatch(exc, nb, pair) or exc from None
    return text


def _language_mismatch(exc: BadInput, nb: notebook.Notebook, pair: Pair) -> BadInput | None:
    """A round trip lost in a script of another language (an R or C++ notebook in a
    ``.py``: jupytext comments out what it takes for magics): say that, not "cell marker"."""
    language = language_of(nb.get("metadata", {}))
    ext = "." + pair.fmt.split(":")[0]  # Pair.fmt is short: "py:percent"
    if language.ext is None or language.ext == ext or ext not in LANGUAGES:
        return None
    if language.ext in LANGUAGES:
        better = f"{language.ext[1:]}:percent (or auto:percent)"
    else:
        better = "md:myst"
    return BadInput(
        f"{exc.message}: a {language.name} notebook in a {ext} script",
        exc.path,
        hint=f"pair it as {better}: nbkit pair --format {better.split()[0]} NOTEBOOK",
    )


def write_script(pair: Pair, nb: notebook.Notebook, formats: str, text: str | None = None) -> str:
    """Write the pair's script from ``nb`` (``text``: already rendered by ``render_script``),
    verified before and after writing; returns the text."""
    existing = notebook.read_bytes(pair.script) if pair.script.exists() else None
    if text is None:
        text = render_script(pair, nb, formats, existing)
    newline = "\n"
    if existing is not None:
        newline = detect_newline(existing)
    make_folder(pair.script.parent)
    atomic_write_text(pair.script, text, newline=newline)
    # The text was checked to give back every cell (render_script); reading the file back
    # byte for byte proves the disk holds that text, without parsing it a second time.
    want = text.replace("\r\n", "\n").replace("\n", newline).encode("utf-8")
    if notebook.read_bytes(pair.script) != want:
        raise BadInput("read back differs from what was written", pair.script)
    return text


def merge_inputs(old: notebook.Notebook, new: notebook.Notebook) -> notebook.Notebook:
    """``old`` with the cells of ``new``: cells whose source did not change are kept whole
    (source bytes, id, outputs, metadata); changed cells keep their id and metadata but lose
    their now stale outputs; new cells get fresh ids."""
    old_cells = old.get("cells", [])
    new_cells = new.get("cells", [])
    matcher = difflib.SequenceMatcher(
        a=list(inputs_of(old)), b=list(inputs_of(new)), autojunk=False
    )
    opcodes = matcher.get_opcodes()
    cells: list[dict[str, Any]] = []
    used_ids = {  # ids of the cells kept whole; a changed cell may keep its own id
        c.get("id") for tag, i1, i2, _j1, _j2 in opcodes if tag == "equal" for c in old_cells[i1:i2]
    }
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            cells.extend(copy.deepcopy(old_cells[i1:i2]))
            continue
        priors = _match_block(old_cells[i1:i2], new_cells[j1:j2]) if tag == "replace" else {}
        for offset, cell in enumerate(new_cells[j1:j2]):
            prior = priors.get(offset)
            cells.append(_updated_cell(cell, prior, old, used_ids))
    return {**copy.deepcopy(old), "cells": cells}


_MATCH_LIMIT = 40  # cells per side of a changed block matched by similarity; beyond: by position
_MATCH_RATIO = 0.5


def _match_block(
    old_cells: list[dict[str, Any]], new_cells: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Which old cell each new cell of a changed block continues: in order, of the same type,
    the most similar one (at least half alike), so a cell inserted before an edited cell does
    not take the edited cell's id, tags and attachments. Equal-length blocks of one-to-one
    edits keep the simple pairing by position."""
    if len(old_cells) == len(new_cells) or max(len(old_cells), len(new_cells)) > _MATCH_LIMIT:
        return {k: old_cells[k] for k in range(min(len(old_cells), len(new_cells)))}
    found: dict[int, dict[str, Any]] = {}
    start = 0
    for j, cell in enumerate(new_cells):
        text = normalise(notebook.source_text(cell))
        best, best_ratio = None, _MATCH_RATIO
        for i in range(start, len(old_cells)):
            if old_cells[i].get("cell_type") != cell.get("cell_type"):
                continue
            matcher = difflib.SequenceMatcher(
                a=normalise(notebook.source_text(old_cells[i])), b=text, autojunk=False
            )
            if matcher.real_quick_ratio() >= best_ratio and matcher.ratio() >= best_ratio:
                best, best_ratio = i, matcher.ratio()
        if best is not None:
            found[j] = old_cells[best]
            start = best + 1
    return found


def _updated_cell(
    cell: dict[str, Any], prior: dict[str, Any] | None, nb: notebook.Notebook, used: set[Any]
) -> dict[str, Any]:
    kind = cell.get("cell_type", "code")
    same_kind = prior is not None and prior.get("cell_type") == kind
    out: dict[str, Any] = {
        "cell_type": kind,
        "metadata": _merged_metadata(prior if same_kind else None, cell),
        "source": cell.get("source", ""),
    }
    if kind == "code":
        out["outputs"], out["execution_count"] = [], None
    elif same_kind and prior is not None and "attachments" in prior:
        out["attachments"] = copy.deepcopy(prior["attachments"])  # the script cannot hold them
    if nb.get("nbformat_minor", 0) >= 5:
        cell_id = prior.get("id") if prior is not None and same_kind else None
        while not cell_id or cell_id in used:
            cell_id = uuid.uuid4().hex[:8]
        used.add(cell_id)
        out["id"] = cell_id
    return out


def _merged_metadata(prior: dict[str, Any] | None, cell: dict[str, Any]) -> dict[str, Any]:
    """The matched notebook cell's metadata with the script cell's on top; tags are a union,
    so a tag added in Jupyter since the script was written survives a script edit."""
    old = copy.deepcopy(prior.get("metadata", {})) if prior is not None else {}
    new = cell.get("metadata", {})
    meta = {**old, **copy.deepcopy(new)}
    old_tags, new_tags = old.get("tags"), new.get("tags")
    if isinstance(old_tags, list) and isinstance(new_tags, list):
        meta["tags"] = [*old_tags, *(t for t in new_tags if t not in old_tags)]
    return meta


def _resolved(formats: str, metadata: dict[str, Any]) -> str:
    """``formats`` with ``auto`` resolved when the notebook's language allows (callers that
    can fail resolve first, naming the notebook: ``paths.resolve_formats``)."""
    try:
        return resolve_formats(formats, language_of(metadata), "")
    except BadInput:
        return formats


def with_pairing(nb: notebook.Notebook, formats: str, header: bool = False) -> notebook.Notebook:
    """``nb`` with the pairing recorded the way jupytext records it (``auto`` resolved for
    the notebook's language, as jupytext records it too). A metadata filter the notebook
    already has is kept; otherwise the script gets no header (``-all``), unless it already
    has one (``header``): jupytext would write it back."""
    nb = copy.deepcopy(nb)
    meta = nb.setdefault("metadata", {})
    current = meta.get("jupytext")
    meta["jupytext"] = {
        **(current if isinstance(current, dict) else {}),
        "formats": _resolved(formats, meta),
    }
    if not header:
        meta["jupytext"].setdefault("notebook_metadata_filter", NOTEBOOK_METADATA_FILTER)
    meta["jupytext"].pop("text_representation", None)
    return nb


def piped(
    nb: notebook.Notebook,
    formats: str,
    fmt: str,
    path: Path,
    format_text: Callable[[str], str],
    *,
    whole: bool,
) -> tuple[notebook.Notebook, str, bool]:
    """``nb`` with its code cells as a formatter leaves them (``pipe``), the formatted text
    of ``fmt``, and whether any code cell changed. Only code sources are taken back: ids,
    metadata and outputs stay. ``whole``: the text is the script to write, so a formatter
    that touched a markdown or raw cell (ruff strips trailing spaces in comments) is
    refused; else only code is taken and the rest of the text is dropped. A formatter that
    joins, splits or retypes cells is refused: nothing is written rather than a line lost."""
    text = script_text(nb, formats, fmt, path)
    if not text:
        return nb, text, False
    out = format_text(text)
    got = read_script(out.encode("utf-8"), path, fmt).get("cells", [])
    cells = nb.get("cells", [])
    hint = "the formatter must keep every cell marker; see docs/pairing-and-sync.md"
    if [c.get("cell_type") for c in cells] != [c.get("cell_type") for c in got]:
        where = _first_difference(inputs_of(nb), inputs_of({"cells": got}))
        message = f"the pipe changed the cells of the script ({where}); nothing written"
        raise BadInput(message, path, hint)
    result: list[dict[str, Any]] = []
    changed = False
    for index, (cell, new) in enumerate(zip(cells, got, strict=True)):
        old_source, new_source = notebook.source_text(cell), notebook.source_text(new)
        if normalise(old_source) == normalise(new_source):
            result.append(cell)
        elif cell.get("cell_type") == "code":
            result.append({**cell, "source": normalise(new_source)})
            changed = True
        elif whole:
            raise BadInput(
                f"the pipe changed {cell.get('cell_type')} cell {index} (only code may change:"
                " trailing spaces, or a line a formatter rewrites?); nothing written",
                path,
                hint="edit that cell (a markdown line break can be a trailing backslash), or"
                " pair with md:myst",
            )
        else:
            result.append(cell)
    return {**nb, "cells": result}, out, changed


# The first line of a jupytext header (YAML between '---' lines), after any shebang and
# encoding lines: '# ---' in scripts, '---' (or '<!--' hiding it) in Markdown.
_HEADER_START = re.compile(
    rb"^(?:#!.*\n)?(?:#.*coding[:=].*\n)?(?:(?:#|//|%|;;|--)\s*)?(?:---|<!--)\s*\n"
)


def has_header(data: bytes | None) -> bool:
    """Whether a script's text starts with a jupytext header (YAML metadata)."""
    return data is not None and _HEADER_START.match(data.replace(b"\r\n", b"\n")) is not None


def metadata_from_script(
    nb: notebook.Notebook, script_nb: notebook.Notebook, fmt: str, script_data: bytes
) -> notebook.Notebook:
    """``nb`` (updated from the script) with the notebook metadata jupytext gives it: what
    the script's header holds, over what its metadata filter leaves out of the script
    (``jupytext.combine``). A script without a header leaves the metadata alone."""
    if not has_header(script_data):
        return nb
    nbformat = lazy.nbformat()
    lazy.jupytext()
    from jupytext.combine import combine_inputs_with_outputs

    minor = nb.get("nbformat_minor", 5)
    empty = {"cells": [], "nbformat": 4, "nbformat_minor": minor}
    source = nbformat.from_dict({**empty, "metadata": copy.deepcopy(script_nb.get("metadata", {}))})
    target = nbformat.from_dict({**empty, "metadata": copy.deepcopy(nb.get("metadata", {}))})
    meta = _plain(combine_inputs_with_outputs(source, target, fmt=fmt).metadata)
    jupytext_meta = meta.get("jupytext")
    if isinstance(jupytext_meta, dict):  # as jupytext writes an .ipynb
        jupytext_meta.pop("text_representation", None)
        if not jupytext_meta:
            del meta["jupytext"]
    return {**nb, "metadata": meta}


def settled_notebook(nb: notebook.Notebook, text: str, pair: Pair) -> notebook.Notebook | None:
    """``nb`` with the metadata jupytext gives it from ``text``, the script just rendered for
    it, when that differs (None: nothing to change). jupytext records the options of its
    configuration (a cell metadata filter, say) in the script's header and, reading the
    script back, in the notebook: without this, the next ``jupytext --sync`` would rewrite
    the notebook nbkit left."""
    data = text.encode("utf-8")
    if not has_header(data):
        return None
    combined = metadata_from_script(nb, read_script(data, pair.script, pair.fmt), pair.fmt, data)
    return None if combined.get("metadata") == nb.get("metadata") else combined
