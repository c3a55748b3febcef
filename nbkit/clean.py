"""Strip what makes notebooks churn in git: outputs, counts, volatile metadata.

``clean_notebook`` is pure (a dict in, a new dict out) and idempotent; ``clean_file`` adds the
I/O: content-hash cache, canonical write, nothing rewritten when nothing changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import notebook
from nbkit.cache import Cache, digest
from nbkit.config import CleanPolicy
from nbkit.fsutil import atomic_write_bytes, detect_newline
from nbkit.notebook import copy_json

# Cell metadata that records how and when a cell ran, or how it was last displayed.
VOLATILE_CELL_METADATA = ("ExecuteTime", "execution", "collapsed", "scrolled", "papermill")
# Notebook metadata that records a run (papermill), widget state, or the local interpreter.
VOLATILE_NOTEBOOK_METADATA = ("widgets", "papermill", "vscode", "execution")
# language_info fields that describe the language, not the interpreter that last ran it:
# `jupyter nbconvert --to script` picks the extension and exporter from them (nbstripout keeps
# them too). Everything else there (`version`) changes with every Python upgrade.
STABLE_LANGUAGE_INFO = (
    "codemirror_mode",
    "file_extension",
    "mimetype",
    "name",
    "nbconvert_exporter",
    "pygments_lexer",
)
# Bumped when the cleaning rules change, so cache entries made under older rules are not
# trusted (they are keyed by content and policy only).
RULES_VERSION = "2"


class CleanResult(NamedTuple):
    path: str
    changed: bool  # the file was rewritten (or, with check, would be)


def _drop(meta: dict[str, Any], keys: tuple[str, ...], keep: tuple[str, ...]) -> None:
    """Remove keys (dotted paths reach into sub-objects) unless the policy keeps them."""
    for key in keys:
        if key in keep:
            continue
        if "." not in key:
            meta.pop(key, None)
            continue
        parts = key.split(".")
        target: Any = meta
        for part in parts[:-1]:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target.pop(parts[-1], None)


def nbstripout_marker(cell: dict[str, Any]) -> bool | None:
    """nbstripout's own per-cell decision (None when the cell says nothing), so a team moving
    from nbstripout keeps the outputs it chose to keep: ``init_cell`` decides when present,
    then a ``keep_output`` tag or ``keep_output`` metadata (the tag wins a contradiction)."""
    meta = cell.get("metadata")
    if not isinstance(meta, dict):
        return None
    if "init_cell" in meta:
        return bool(meta["init_cell"])
    tags = meta.get("tags")
    if isinstance(tags, list) and "keep_output" in tags:
        return True
    if "keep_output" in meta:
        return bool(meta["keep_output"])
    return None


def _keep_outputs(cell: dict[str, Any], policy: CleanPolicy, notebook_keeps: bool) -> bool:
    """Whether a code cell keeps its outputs: the policy's mode and tag, then nbstripout's
    markers (cell, then notebook) when the policy honours them."""
    if policy.keep_output == "all":
        return True
    tags = cell.get("metadata", {}).get("tags", [])
    if policy.keep_output == "tagged" and isinstance(tags, list) and policy.keep_output_tag in tags:
        return True
    if not policy.nbstripout_markers:
        return False
    marker = nbstripout_marker(cell)
    return notebook_keeps if marker is None else marker


def _clean_cell(cell: dict[str, Any], policy: CleanPolicy, notebook_keeps: bool) -> dict[str, Any]:
    """A cleaned copy of one cell. Dropped outputs are never copied: on an executed
    notebook they are most of the bytes, and copying them cost more than the rest of
    ``clean`` together (see docs/benchmarks.md)."""
    keep = cell.get("cell_type") != "code" or _keep_outputs(cell, policy, notebook_keeps)
    cell = {k: ([] if k == "outputs" and not keep else copy_json(v)) for k, v in cell.items()}
    meta = cell.get("metadata")
    if isinstance(meta, dict):
        _drop(meta, VOLATILE_CELL_METADATA + policy.drop_cell_metadata, policy.keep_cell_metadata)
    if cell.get("cell_type") != "code":
        return cell
    cell["execution_count"] = None
    if not keep:
        cell["outputs"] = []
        return cell
    kept = []
    for output in cell.get("outputs", []):
        if (
            policy.max_output_bytes is not None
            and notebook.output_size(output) > policy.max_output_bytes
        ):
            continue
        if "execution_count" in output:
            output["execution_count"] = None
        if isinstance(output.get("metadata"), dict):
            _drop(output["metadata"], VOLATILE_CELL_METADATA, ())
        kept.append(output)
    cell["outputs"] = kept
    return cell


def _requires_ids(nb: notebook.Notebook) -> bool:
    """nbformat 4.5 made cell ids required."""
    minor = nb.get("nbformat_minor")
    return nb.get("nbformat") == 4 and isinstance(minor, int) and minor >= 5


def _fill_missing_ids(cells: list[Any]) -> None:
    """Give each cell without an id one derived from its position and source: valid
    (``[a-zA-Z0-9-_]``), unique in the notebook, and the same every time, so that a clean
    filter run twice on the same content stages the same bytes."""
    taken = {c.get("id") for c in cells if isinstance(c, dict)}
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("id") is not None:
            continue
        seed = f"{index}\0{notebook.source_text(cell)}"
        new = digest(seed.encode("utf-8", "surrogatepass"))[:8]
        while new in taken:
            seed += "\0"
            new = digest(seed.encode("utf-8", "surrogatepass"))[:8]
        cell["id"] = new
        taken.add(new)


def clean_notebook(nb: notebook.Notebook, policy: CleanPolicy | None = None) -> notebook.Notebook:
    """A cleaned copy of ``nb`` (``nb`` is not changed). Cell ids, tags, kernelspec and
    the stable language_info fields are kept; a missing id is filled where 4.5+ needs one."""
    policy = policy or CleanPolicy()
    cells = nb.get("cells")
    nb = {k: copy_json(v) for k, v in nb.items() if k != "cells"}
    meta = nb.setdefault("metadata", {})
    _drop(
        meta,
        VOLATILE_NOTEBOOK_METADATA + policy.drop_notebook_metadata,
        policy.keep_notebook_metadata,
    )
    info = meta.get("language_info")
    if isinstance(info, dict) and "language_info" not in policy.keep_notebook_metadata:
        meta["language_info"] = {k: v for k, v in info.items() if k in STABLE_LANGUAGE_INFO}
    notebook_keeps = policy.nbstripout_markers and meta.get("keep_output") is True
    if isinstance(cells, list):
        nb["cells"] = [
            _clean_cell(c, policy, notebook_keeps) if isinstance(c, dict) else c for c in cells
        ]
        if _requires_ids(nb):
            _fill_missing_ids(nb["cells"])
    elif cells is not None:
        nb["cells"] = copy_json(cells)
    return nb


def cache_key(data: bytes, policy: CleanPolicy) -> str:
    return digest(data + b"\0" + _rules_key(policy).encode())


def _rules_key(policy: CleanPolicy) -> str:
    return f"{RULES_VERSION}\0{policy.key()}"


def clean_bytes(data: bytes, path: str | Path, policy: CleanPolicy) -> bytes:
    """The cleaned, canonical bytes for a notebook file's bytes (line endings kept)."""
    nb = notebook.loads(data, path)
    return notebook.to_bytes(clean_notebook(nb, policy), detect_newline(data))


# A file's stat (size, mtime, inode) stands in for its content only when the file was last
# written this long before it was checked: a write in the same clock tick as the check could
# otherwise go unseen (git's "racy clean" rule for its index).
_SETTLED_SECONDS = 2.0


def _stat_key(path: str | Path, policy: CleanPolicy) -> tuple[str, bool] | None:
    """A cache key from the file's stat, and whether the file is old enough to trust it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    raw = f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"
    settled = st.st_mtime < time.time() - _SETTLED_SECONDS
    return digest(f"{raw}\0{_rules_key(policy)}".encode()), settled


def clean_file(
    path: str | Path,
    policy: CleanPolicy,
    *,
    check: bool = False,
    cache: Cache | None = None,
    data: bytes | None = None,
) -> CleanResult:
    """Clean one notebook in place (or only report, with ``check``). Raises ``BadInput``.

    With a cache, a notebook known clean is not even read when its stat is unchanged and
    settled; otherwise its content hash decides before any parsing. ``data``: the file's
    bytes, when the caller has read them already (a hook reads each file once).
    """
    stat = _stat_key(path, policy) if cache is not None else None
    if cache is not None and stat is not None and cache.has("clean-stat", stat[0]):
        return CleanResult(str(path), False)
    data = notebook.read_bytes(path) if data is None else data
    key = cache_key(data, policy)
    if cache is not None and cache.has("clean", key):
        if stat is not None and stat[1]:
            cache.add("clean-stat", stat[0])
        return CleanResult(str(path), False)
    cleaned = clean_bytes(data, path, policy)
    if cleaned == data:
        if cache is not None:
            cache.add("clean", key)
            if stat is not None and stat[1]:
                cache.add("clean-stat", stat[0])
        return CleanResult(str(path), False)
    if not check:
        atomic_write_bytes(path, cleaned)
        if cache is not None:
            cache.add("clean", cache_key(cleaned, policy))
    return CleanResult(str(path), True)
