"""Which script pairs with which notebook, and the jupytext calls that convert between them.

Pair paths are computed here without importing jupytext (a port of the part of jupytext's
``paired_paths`` that nbkit supports: prefix folders, mirror roots ``dir///``, file-name
prefixes and suffixes), so that a no-op sync only reads and hashes files. Converting a
notebook to text or back imports jupytext lazily.

Scripts are written with ``notebook_metadata_filter = "-all"``: no header, so no jupytext
version and no machine-specific kernelspec that would churn between machines. The same
filter is recorded in the notebook's ``metadata.jupytext`` so Jupyter with jupytext writes the
same script nbkit does.
"""

from __future__ import annotations

import copy
import difflib
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import lazy, notebook
from nbkit.config import Config, jupytext_formats
from nbkit.errors import BadInput, ConflictError
from nbkit.fsutil import atomic_write_text, detect_newline

NOTEBOOK_METADATA_FILTER = "-all"
_COMMON_NAMES = {
    "notebook": "ipynb",
    "rmarkdown": "Rmd",
    "quarto": "qmd",
    "markdown": "md",
    "myst": "md:myst",
    "pandoc": "md:pandoc",
}

Inputs = tuple[tuple[str, str], ...]  # (cell_type, normalised source) per cell


class Pair(NamedTuple):
    notebook: Path  # absolute
    script: Path  # absolute
    fmt: str  # jupytext format of the script, e.g. "py:percent", "md:myst"


class Fmt(NamedTuple):
    """One entry of a jupytext formats string, e.g. ``scripts///py:percent``."""

    prefix: str  # "", "scripts/", "notebooks//" (a mirror root), "nb_" (a file-name prefix)
    suffix: str  # ".nb" in "nb.py" ("" when none)
    ext: str  # ".py", ".md", ".ipynb"
    name: str  # "percent", "myst", "" (jupytext's default for the extension)

    @property
    def short(self) -> str:
        """What jupytext's reads/writes take: ``py:percent``."""
        return self.ext[1:] + (f":{self.name}" if self.name else "")


def parse_format(text: str) -> Fmt:
    """Parse one jupytext format the way ``jupytext.formats.long_form_one_format`` does."""
    text = _COMMON_NAMES.get(text.strip().lower(), text.strip())
    prefix = ""
    if text.rfind("/") > 0:
        prefix, text = text.rsplit("/", 1)
    name = ""
    if ":" in text:
        text, name = text.rsplit(":", 1)
    suffix = ""
    if text.rfind(".") > 0:
        dot = text.rfind(".")
        suffix, text = text[:dot], text[dot:]
    ext = text if text.startswith(".") else f".{text}"
    if ext in (".", ".auto") or "/" in ext:
        raise BadInput(f"unsupported jupytext format {text!r} (give an extension, e.g. py:percent)")
    return Fmt(prefix, suffix, ext, name)


def parse_formats(formats: str) -> tuple[Fmt, Fmt]:
    """The notebook entry and the (first) text entry of a formats string such as
    ``ipynb,py:percent``; nbkit pairs each notebook with one script."""
    parsed = [parse_format(part) for part in formats.split(",") if part.strip()]
    nb_fmt = next((f for f in parsed if f.ext == ".ipynb"), None)
    text_fmt = next((f for f in parsed if f.ext != ".ipynb"), None)
    if nb_fmt is None or text_fmt is None:
        raise BadInput(f"formats {formats!r} must name ipynb and one text format")
    return nb_fmt, text_fmt


def _split_prefix(prefix: str) -> tuple[str, str, str]:
    root = ""
    if "//" in prefix:
        root, prefix = prefix.rsplit("//", 1)
    folder, _, name = prefix.rpartition("/")
    return root, folder, name


class Base(NamedTuple):
    """A path with what a format adds taken away: ``outer/<root>/inner/name``."""

    outer: str  # folders above the mirror root ("" without a root)
    inner: str  # folders below the mirror root, or the whole folder without a root
    name: str
    rooted: bool  # the format had a mirror root (``dir///``)


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def base_path(rel: str, fmt: Fmt) -> Base | None:
    """``rel`` (a posix path relative to the project root) without what ``fmt`` adds to it,
    or None when the path does not fit the format (jupytext's ``base_path``)."""
    stem, dot, ext = rel.rpartition(".")
    if not dot or f".{ext}" != fmt.ext:
        return None
    if fmt.suffix:
        if not stem.endswith(fmt.suffix):
            return None
        stem = stem[: -len(fmt.suffix)]
    root, folder, name_prefix = _split_prefix(fmt.prefix)
    directory, _, name = stem.rpartition("/")
    if name_prefix:
        if not name.startswith(name_prefix):
            return None
        name = name[len(name_prefix) :]
    if folder:
        want = folder.split("/")
        have = directory.split("/") if directory else []
        if ".." in want or len(have) < len(want) or have[len(have) - len(want) :] != want:
            return None
        directory = "/".join(have[: len(have) - len(want)])
    if not root:
        return Base("", directory, name, False)
    long_dir, long_root = f"/{directory}/", f"/{root.strip('/')}/"
    if long_root not in long_dir:
        return None
    left, right = long_dir.rsplit(long_root, 1)
    return Base(left.strip("/"), right.strip("/"), name, True)


def full_path(base: Base, fmt: Fmt) -> str:
    """The path ``fmt`` gives to ``base`` (jupytext's ``full_path``)."""
    root, folder, name_prefix = _split_prefix(fmt.prefix)
    if bool(root) != base.rooted:
        raise BadInput("use a mirror root ('dir///') in every paired format or in none")
    directory = _join(base.outer, root.strip("/"), base.inner, folder)
    return _join(directory, f"{name_prefix}{base.name}{fmt.suffix}{fmt.ext}")


def _rel(path: Path, root: Path) -> tuple[str, Path]:
    try:
        return path.relative_to(root).as_posix(), root
    except ValueError:
        return path.name, path.parent


def declared_formats(config: Config) -> str | None:
    """Formats the project declares for every notebook (nbkit or jupytext config), if any."""
    declared = config.raw.get("formats")
    if isinstance(declared, str) and declared:
        return declared
    return jupytext_formats(config.root)


def notebook_formats(nb: notebook.Notebook) -> str | None:
    """The pairing jupytext recorded in a notebook (``metadata.jupytext.formats``)."""
    meta = nb.get("metadata", {}).get("jupytext")
    formats = meta.get("formats") if isinstance(meta, dict) else None
    return formats if isinstance(formats, str) and "," in formats else None


def _pair_from(nb_path: Path, formats: str, config: Config) -> Pair | None:
    nb_fmt, text_fmt = parse_formats(formats)
    rel, root = _rel(nb_path, config.root)
    base = base_path(rel, nb_fmt)
    if base is None:
        return None
    script = root / full_path(base, text_fmt)
    return Pair(nb_path, script, text_fmt.short)


def _script_candidates(script: Path, config: Config) -> list[tuple[Path, str | None]]:
    """Notebooks that may pair with ``script``: from the project formats, then next to it."""
    found: list[tuple[Path, str | None]] = []
    declared = declared_formats(config)
    if declared:
        nb_fmt, text_fmt = parse_formats(declared)
        rel, root = _rel(script, config.root)
        base = base_path(rel, text_fmt)
        if base is not None:
            found.append((root / full_path(base, nb_fmt), declared))
    found.append((script.with_suffix(".ipynb"), None))
    return found


def pair_of(path: Path, config: Config) -> Pair | None:
    """Given a notebook OR a paired script path, the pair (None if the file is unpaired).

    A notebook is paired by its own ``metadata.jupytext.formats`` or, failing that, by
    formats the project declares. A script whose notebook was deleted still has a pair when
    the project declares formats and the notebook is in HEAD (``notebook`` then does not
    exist); any other script is unpaired.
    """
    path = _real_folder(path)
    if path.suffix == ".ipynb":
        formats = notebook_formats(notebook.read(path)) or declared_formats(config)
        return _pair_from(path, formats, config) if formats else None
    for nb_path, declared in _script_candidates(path, config):
        if nb_path.is_file():
            pair = pair_of(nb_path, config)
            if pair is not None and pair.script == path:
                return pair
        elif declared and not nb_path.exists() and _in_head(nb_path):
            return Pair(nb_path, path, parse_formats(declared)[1].short)
    return None


def _real_folder(path: Path) -> Path:
    """The path with its folder's symlinks resolved (as the project root is), not the file's
    own: a symlinked notebook pairs with a script next to the link."""
    path = Path(path).absolute()
    return path.parent.resolve() / path.name


def _in_head(path: Path) -> bool:
    """Whether the last commit has ``path``: a script whose notebook is gone from disk is half
    of a pair only if the notebook was committed; otherwise it is an ordinary module."""
    from nbkit import git

    top = git.toplevel(path.parent if path.parent.exists() else Path.cwd())
    if top is None:
        return False
    rel = git.relpath(top, path.resolve())
    return not rel.startswith("../") and rel in git.tree_blobs(top, "HEAD", [rel])


# --- conversions (these import jupytext) ------------------------------------------------


def normalise(source: str) -> str:
    """A cell source as compared between the two sides: jupytext drops the newlines that
    start and end a cell and turns CRLF into LF, so those differences are not edits."""
    return source.replace("\r\n", "\n").strip("\n")


def inputs_of(nb: notebook.Notebook) -> Inputs:
    """What sync compares: each cell's type and normalised source, in order."""
    return tuple(
        (str(cell.get("cell_type")), normalise(notebook.source_text(cell)))
        for cell in nb.get("cells", [])
    )


def read_script(data: bytes, path: Path, fmt: str) -> notebook.Notebook:
    """Parse a script's bytes with jupytext into a plain notebook dict."""
    jupytext = lazy.jupytext()

    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte {exc.start})", path) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if notebook.has_conflict_markers(data):
        raise BadInput("contains git conflict markers (<<<<<<< / >>>>>>>)", path)
    try:
        parsed = jupytext.reads(text, fmt=fmt)
    except Exception as exc:  # jupytext raises many types for text it cannot read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"jupytext cannot read this as {fmt}: {first}", path) from None
    result: notebook.Notebook = _plain(parsed)
    return result


def _plain(node: Any) -> Any:
    """nbformat NotebookNodes as plain dicts and lists."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def script_text(nb: notebook.Notebook, formats: str, fmt: str, path: Path | None = None) -> str:
    """The script jupytext writes for ``nb``: no header, no version, no kernelspec."""
    jupytext = lazy.jupytext()
    nbformat = lazy.nbformat()

    meta = with_pairing({"metadata": nb.get("metadata", {})}, formats)["metadata"]
    cells = [_cell_for_text(cell) for cell in nb.get("cells", [])]
    if not cells:
        return ""  # jupytext's MyST writer fails on a notebook without cells
    node = nbformat.from_dict({**nb, "metadata": meta, "cells": cells})
    try:
        text: str = jupytext.writes(node, fmt=fmt)
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


def render_script(pair: Pair, nb: notebook.Notebook, formats: str) -> str:
    """The pair's script for ``nb``, checked to give back every cell (else ``BadInput``)."""
    text = script_text(nb, formats, pair.fmt, pair.script)
    check_round_trip(text, inputs_of(nb), pair.script, pair.fmt)
    return text


def write_script(pair: Pair, nb: notebook.Notebook, formats: str, text: str | None = None) -> str:
    """Write the pair's script from ``nb`` (``text``: already rendered by ``render_script``),
    verified before and after writing; returns the text."""
    expected = inputs_of(nb)
    if text is None:
        text = render_script(pair, nb, formats)
    newline = "\n"
    if pair.script.exists():
        newline = detect_newline(notebook.read_bytes(pair.script))
    pair.script.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(pair.script, text, newline=newline)
    written = notebook.read_bytes(pair.script)
    if inputs_of(read_script(written, pair.script, pair.fmt)) != expected:
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
        for offset, cell in enumerate(new_cells[j1:j2]):
            prior = old_cells[i1 + offset] if tag == "replace" and i1 + offset < i2 else None
            cells.append(_updated_cell(cell, prior, old, used_ids))
    return {**copy.deepcopy(old), "cells": cells}


def _updated_cell(
    cell: dict[str, Any], prior: dict[str, Any] | None, nb: notebook.Notebook, used: set[Any]
) -> dict[str, Any]:
    kind = cell.get("cell_type", "code")
    same_kind = prior is not None and prior.get("cell_type") == kind
    meta = dict(prior.get("metadata", {})) if prior is not None and same_kind else {}
    meta.update(cell.get("metadata", {}))
    out: dict[str, Any] = {"cell_type": kind, "metadata": meta, "source": cell.get("source", "")}
    if kind == "code":
        out["outputs"], out["execution_count"] = [], None
    if nb.get("nbformat_minor", 0) >= 5:
        cell_id = prior.get("id") if prior is not None and same_kind else None
        while not cell_id or cell_id in used:
            cell_id = uuid.uuid4().hex[:8]
        used.add(cell_id)
        out["id"] = cell_id
    return out


def with_pairing(nb: notebook.Notebook, formats: str) -> notebook.Notebook:
    """``nb`` with the pairing recorded the way jupytext records it."""
    nb = copy.deepcopy(nb)
    meta = nb.setdefault("metadata", {})
    current = meta.get("jupytext")
    meta["jupytext"] = {
        **(current if isinstance(current, dict) else {}),
        "formats": formats,
        "notebook_metadata_filter": NOTEBOOK_METADATA_FILTER,
    }
    meta["jupytext"].pop("text_representation", None)
    return nb


def pairing_formats(nb: notebook.Notebook, config: Config, fmt: str | None) -> str:
    """The formats string a notebook gets: ``--format`` (a text format or a whole formats
    string), else the notebook's own pairing, else the project's."""
    if fmt:
        return fmt if "," in fmt else f"ipynb,{fmt}"
    return notebook_formats(nb) or config.formats


def pair_notebook(notebook_path: Path, config: Config, fmt: str | None = None) -> Pair:
    """Create the paired script (default ``config.formats``, e.g. py:percent next to it, or a
    mirror folder such as "notebooks///ipynb,scripts///py:percent") and record the pairing
    in the notebook metadata the way jupytext does (metadata.jupytext.formats).

    An existing script with the same cells is kept; one with different cells is a
    ``ConflictError`` (sync decides those). Nothing is written when conversion would lose a
    cell.
    """
    path = _real_folder(notebook_path)
    if path.suffix != ".ipynb":
        raise BadInput("not a notebook (.ipynb)", notebook_path)
    original = notebook.read_bytes(path)
    nb = notebook.loads(original, notebook_path)
    formats = pairing_formats(nb, config, fmt)
    pair = _pair_from(path, formats, config)
    if pair is None:
        raise BadInput(f"does not fit the paired formats {formats!r}", notebook_path)
    paired = with_pairing(nb, formats)
    if pair.script.exists():
        existing = read_script(notebook.read_bytes(pair.script), pair.script, pair.fmt)
        if inputs_of(existing) != inputs_of(nb):
            raise ConflictError(
                f"already exists and differs from {notebook_path}; nothing was written",
                pair.script,
                hint=f"nbkit sync --prefer notebook|script {notebook_path}",
            )
        script_text(paired, formats, pair.fmt, pair.script)  # formats must be writable by jupytext
    else:
        write_script(pair, paired, formats)
    notebook.write(path, paired, original=original)
    return pair
