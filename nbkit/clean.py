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


def _keep_outputs(cell: dict[str, Any], policy: CleanPolicy) -> bool:
    if policy.keep_output == "all":
        return True
    if policy.keep_output == "tagged":
        tags = cell.get("metadata", {}).get("tags", [])
        return isinstance(tags, list) and policy.keep_output_tag in tags
    return False


def _clean_cell(cell: dict[str, Any], policy: CleanPolicy) -> dict[str, Any]:
    """A cleaned copy of one cell. Dropped outputs are never copied: on an executed
    notebook they are most of the bytes, and copying them cost more than the rest of
    ``clean`` together (see docs/benchmarks.md)."""
    keep = cell.get("cell_type") != "code" or _keep_outputs(cell, policy)
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


def clean_notebook(nb: notebook.Notebook, policy: CleanPolicy | None = None) -> notebook.Notebook:
    """A cleaned copy of ``nb`` (``nb`` is not changed). Cell ids, tags, kernelspec and
    language name are kept."""
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
        meta["language_info"] = {k: v for k, v in info.items() if k == "name"}
    if isinstance(cells, list):
        nb["cells"] = [_clean_cell(c, policy) if isinstance(c, dict) else c for c in cells]
    elif cells is not None:
        nb["cells"] = copy_json(cells)
    return nb


def cache_key(data: bytes, policy: CleanPolicy) -> str:
    return digest(data + b"\0" + policy.key().encode())


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
    return digest(f"{raw}\0{policy.key()}".encode()), settled


def clean_file(
    path: str | Path, policy: CleanPolicy, *, check: bool = False, cache: Cache | None = None
) -> CleanResult:
    """Clean one notebook in place (or only report, with ``check``). Raises ``BadInput``.

    With a cache, a notebook known clean is not even read when its stat is unchanged and
    settled; otherwise its content hash decides before any parsing.
    """
    stat = _stat_key(path, policy) if cache is not None else None
    if cache is not None and stat is not None and cache.has("clean-stat", stat[0]):
        return CleanResult(str(path), False)
    data = notebook.read_bytes(path)
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
