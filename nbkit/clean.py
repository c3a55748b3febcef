"""Strip what makes notebooks churn in git: outputs, counts, volatile metadata.

``clean_notebook`` is pure (a dict in, a new dict out) and idempotent; ``clean_file`` adds the
I/O: content-hash cache, canonical write, nothing rewritten when nothing changed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import notebook
from nbkit.cache import Cache, Caches, digest
from nbkit.config import CleanPolicy
from nbkit.errors import BadInput, NbkitError
from nbkit.fsutil import WriteBehind, atomic_write_bytes, detect_newline
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


def _drop(meta: dict[str, Any], keys: tuple[str, ...], keep: tuple[str, ...]) -> bool:
    """Remove keys (dotted paths reach into sub-objects) unless the policy keeps them;
    whether anything was removed."""
    dropped = False
    for key in keys:
        if key in keep:
            continue
        if "." not in key:
            if key in meta:
                del meta[key]
                dropped = True
            continue
        parts = key.split(".")
        target: Any = meta
        for part in parts[:-1]:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict) and parts[-1] in target:
            del target[parts[-1]]
            dropped = True
    return dropped


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


def _clean_cell(cell: dict[str, Any], policy: CleanPolicy, notebook_keeps: bool) -> bool:
    """Clean one cell in place; whether anything changed."""
    code = cell.get("cell_type") == "code"
    outputs = cell.get("outputs")
    # Decided before the metadata drop (the markers live there), and only when it matters.
    keep = not code or (bool(outputs) and _keep_outputs(cell, policy, notebook_keeps))
    changed = False
    meta = cell.get("metadata")
    if meta and isinstance(meta, dict):
        changed = _drop(
            meta, VOLATILE_CELL_METADATA + policy.drop_cell_metadata, policy.keep_cell_metadata
        )
    if not code:
        return changed
    if cell.get("execution_count", 0) is not None:  # a missing count is written as null
        cell["execution_count"] = None
        changed = True
    if not keep:
        if outputs != []:
            cell["outputs"] = []
            changed = True
        return changed
    if outputs is None:
        cell["outputs"] = []
        return True
    kept = []
    for output in outputs:
        if (
            policy.max_output_bytes is not None
            and notebook.output_size(output) > policy.max_output_bytes
        ):
            changed = True
            continue
        if output.get("execution_count") is not None:
            output["execution_count"] = None
            changed = True
        if isinstance(output.get("metadata"), dict):
            changed = _drop(output["metadata"], VOLATILE_CELL_METADATA, ()) or changed
        kept.append(output)
    cell["outputs"] = kept
    return changed


def _copy_cell(cell: Any, policy: CleanPolicy, notebook_keeps: bool) -> Any:
    """A copy of a cell to clean, without the outputs cleaning drops: on an executed notebook
    they are most of the bytes (see docs/benchmarks.md)."""
    if not isinstance(cell, dict):
        return copy_json(cell)
    drop = cell.get("cell_type") == "code" and not _keep_outputs(cell, policy, notebook_keeps)
    return {k: ([] if drop and k == "outputs" else copy_json(v)) for k, v in cell.items()}


def _requires_ids(nb: notebook.Notebook) -> bool:
    """nbformat 4.5 made cell ids required."""
    minor = nb.get("nbformat_minor")
    return nb.get("nbformat") == 4 and isinstance(minor, int) and minor >= 5


def _fill_missing_ids(cells: list[Any]) -> bool:
    """Give each cell without an id one derived from its position and source: valid
    (``[a-zA-Z0-9-_]``), unique in the notebook, and the same every time, so that a clean
    filter run twice on the same content stages the same bytes. Whether any was missing."""
    missing = [i for i, c in enumerate(cells) if isinstance(c, dict) and c.get("id") is None]
    if not missing:
        return False
    taken = {c.get("id") for c in cells if isinstance(c, dict)}
    for index in missing:
        cell = cells[index]
        seed = f"{index}\0{notebook.source_text(cell)}"
        new = digest(seed.encode("utf-8", "surrogatepass"))[:8]
        while new in taken:
            seed += "\0"
            new = digest(seed.encode("utf-8", "surrogatepass"))[:8]
        cell["id"] = new
        taken.add(new)
    return True


def clean_in_place(nb: notebook.Notebook, policy: CleanPolicy) -> bool:
    """Clean a notebook the caller owns (a fresh parse), in one pass and without copies;
    whether its content changed. Cell ids, tags, kernelspec and the stable language_info
    fields are kept; a missing id is filled where 4.5+ needs one. A missing top-level
    ``metadata`` is added as ``{}`` (as nbformat writes it) but is not a change by itself."""
    meta = nb.setdefault("metadata", {})
    changed = False
    if isinstance(meta, dict):
        changed = _drop(
            meta,
            VOLATILE_NOTEBOOK_METADATA + policy.drop_notebook_metadata,
            policy.keep_notebook_metadata,
        )
        info = meta.get("language_info")
        trims = "language_info" not in policy.keep_notebook_metadata
        if trims and isinstance(info, dict) and any(k not in STABLE_LANGUAGE_INFO for k in info):
            meta["language_info"] = {k: v for k, v in info.items() if k in STABLE_LANGUAGE_INFO}
            changed = True
    notebook_keeps = (
        policy.nbstripout_markers and isinstance(meta, dict) and (meta.get("keep_output") is True)
    )
    cells = nb.get("cells")
    if isinstance(cells, list):
        for cell in cells:
            if isinstance(cell, dict):
                changed = _clean_cell(cell, policy, notebook_keeps) or changed
        if _requires_ids(nb):
            changed = _fill_missing_ids(cells) or changed
    return changed


def clean_notebook(nb: notebook.Notebook, policy: CleanPolicy | None = None) -> notebook.Notebook:
    """A cleaned copy of ``nb`` (``nb`` is not changed): see ``clean_in_place``."""
    policy = policy or CleanPolicy()
    meta = nb.get("metadata")
    notebook_keeps = (
        policy.nbstripout_markers
        and isinstance(meta, dict)
        and (
            meta.get("keep_output") is True  # before the drop: an upper bound of what is kept
        )
    )
    copied = {k: copy_json(v) for k, v in nb.items() if k != "cells"}
    cells = nb.get("cells")
    if isinstance(cells, list):
        copied["cells"] = [_copy_cell(c, policy, notebook_keeps) for c in cells]
    elif cells is not None:
        copied["cells"] = copy_json(cells)
    clean_in_place(copied, policy)
    return copied


def cache_key(data: bytes, policy: CleanPolicy) -> str:
    digest = hashlib.sha256(data)  # fed in two parts: no copy of a large notebook
    digest.update(b"\0" + _rules_key(policy).encode())
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=8)
def _rules_key(policy: CleanPolicy) -> str:
    return f"{RULES_VERSION}\0{policy.key()}"


def clean_parsed(nb: notebook.Notebook, data: bytes, policy: CleanPolicy) -> bytes:
    """``data`` cleaned, given ``nb``, the caller's own parse of it (changed in place):
    ``data`` itself when cleaning changes no content (its formatting is the user's),
    else the canonical bytes of the cleaned notebook, line endings kept."""
    if not clean_in_place(nb, policy):
        return data
    return notebook.to_bytes(nb, detect_newline(data), owned=True)


def clean_bytes(data: bytes, path: str | Path, policy: CleanPolicy) -> bytes:
    """The cleaned bytes of a notebook file's bytes (``data`` itself when nothing changes).
    Raises ``BadInput`` when ``data`` is not a notebook."""
    # Always parsed: an invalid notebook is reported, never passed as clean. A byte-level
    # "nothing to clean" test was measured and dropped: after the parse, the walk of
    # ``clean_in_place`` decides in a third of the time of scanning the bytes for every key
    # (docs/cleaning.md, "Speed").
    return clean_parsed(notebook.loads(data, path), data, policy)


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


Write = Callable[[Path, bytes], None]


def _write_now(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)


def clean_file(
    path: str | Path,
    policy: CleanPolicy,
    *,
    check: bool = False,
    cache: Cache | None = None,
    data: bytes | None = None,
    write: Write = _write_now,
) -> CleanResult:
    """Clean one notebook in place (or only report, with ``check``). Raises ``BadInput``.

    With a cache, a notebook known clean is not even read when its stat is unchanged and
    settled; otherwise its content hash decides before any parsing (hashed only when the
    cache holds something to find, or the file turns out clean and is worth recording).
    ``data``: the file's bytes, when the caller has read them already (a hook reads each file
    once). ``write``: how the cleaned bytes are written (a batch hands them to a
    ``fsutil.WriteBehind``).
    """
    stat = _stat_key(path, policy) if cache is not None else None
    if cache is not None and stat is not None and cache.has("clean-stat", stat[0]):
        return CleanResult(str(path), False)
    data = notebook.read_bytes(path) if data is None else data
    key = None
    if cache is not None and not cache.empty("clean"):
        key = cache_key(data, policy)
        if cache.has("clean", key):
            if stat is not None and stat[1]:
                cache.add("clean-stat", stat[0])
            return CleanResult(str(path), False)
    cleaned = clean_bytes(data, path, policy)
    if cleaned is data:
        if cache is not None:
            cache.add("clean", key or cache_key(data, policy))
            if stat is not None and stat[1]:
                cache.add("clean-stat", stat[0])
        return CleanResult(str(path), False)
    if not check:
        write(Path(path), cleaned)
        if cache is not None:
            cache.add("clean", cache_key(cleaned, policy))
    return CleanResult(str(path), True)


# --- a batch of files -------------------------------------------------------------------------


class Outcome(NamedTuple):
    path: str
    changed: bool
    error: NbkitError | None = None  # the file could not be read or written: untouched


# A batch starts worker processes only past this many files: below it, forking and pickling
# the results cost more than a second core gives back (measured: docs/cleaning.md).
POOL_MIN_FILES = 48


class _Recording(Cache):
    """A worker's view of the parent's cache (inherited by fork): lookups read it, additions
    are sent back to the parent, which owns the file."""

    def __init__(self, cache: Cache) -> None:
        super().__init__(None)
        self.cache = cache
        self.added: list[tuple[str, str]] = []

    def has(self, namespace: str, key: str) -> bool:
        return self.cache.has(namespace, key)

    def empty(self, namespace: str) -> bool:
        return self.cache.empty(namespace)

    def add(self, namespace: str, key: str) -> None:
        self.added.append((namespace, key))


class _Batch(NamedTuple):
    policy: CleanPolicy
    check: bool
    caches: Caches


_BATCH: _Batch | None = None  # set before the workers fork: they inherit it, nothing pickled


def _clean_some(paths: list[str], batch: _Batch, cache_of: Callable[[str], Cache]) -> list[Outcome]:
    writer = None if batch.check else WriteBehind()  # a check writes nothing: no threads
    outcomes = []
    try:
        for path in paths:
            try:
                result = clean_file(
                    path,
                    batch.policy,
                    check=batch.check,
                    cache=cache_of(path),
                    write=writer or _write_now,
                )
            except BadInput as exc:
                outcomes.append(Outcome(path, False, exc))
                continue
            outcomes.append(Outcome(path, result.changed))
    finally:
        failed = writer.close() if writer is not None else {}
    if not failed:
        return outcomes
    return [
        o._replace(changed=False, error=failed[Path(o.path)]) if Path(o.path) in failed else o
        for o in outcomes
    ]


def _worker(paths: list[str]) -> tuple[list[Outcome], list[tuple[str, list[tuple[str, str]]]]]:
    """One chunk in a worker process: the outcomes, and the cache entries to record (each
    list with a path that names its cache)."""
    assert _BATCH is not None
    batch = _BATCH
    views: dict[int, tuple[str, _Recording]] = {}

    def cache_of(path: str) -> Cache:
        real = batch.caches.for_file(path)
        if id(real) not in views:
            views[id(real)] = (path, _Recording(real))
        return views[id(real)][1]

    outcomes = _clean_some(paths, batch, cache_of)
    return outcomes, [(path, view.added) for path, view in views.values()]


def _workers() -> int:
    """Worker processes worth starting: the cores this process may use that other work is
    not already using (a second process on a busy core only adds forking and switching:
    measured 2x slower at load 10 on 2 cores). Only where workers fork (Linux): spawning
    re-imports nbkit in each, which costs more than it saves at these sizes."""
    if not sys.platform.startswith("linux"):
        return 1
    cores = len(os.sched_getaffinity(0))
    idle = cores - os.getloadavg()[0]  # this process is one of the workers
    return max(1, min(cores, 8, int(idle + 1)))


def clean_files(
    paths: list[Path], policy: CleanPolicy, *, check: bool, caches: Caches
) -> list[Outcome]:
    """Clean (or check) many notebooks: one outcome per path, in order. Writes are handed to
    a few threads; past ``POOL_MIN_FILES`` files, the cores this process may use share them."""
    names = [str(p) for p in paths]
    batch = _Batch(policy, check, caches)
    workers = _workers()
    if workers < 2 or len(names) < POOL_MIN_FILES:
        return _clean_some(names, batch, caches.for_file)
    return _in_workers(names, batch, workers)


def _in_workers(names: list[str], batch: _Batch, workers: int) -> list[Outcome]:
    import multiprocessing

    global _BATCH
    for name in names:
        batch.caches.for_file(name)  # load each cache before the fork: workers inherit it
    size = max(1, min(16, len(names) // (workers * 8)))
    chunks = [names[i : i + size] for i in range(0, len(names), size)]
    _BATCH = batch
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_worker, chunks, chunksize=1)
    finally:
        _BATCH = None
    outcomes: list[Outcome] = []
    for chunk_outcomes, added in results:
        outcomes += chunk_outcomes
        for path, entries in added:
            cache = batch.caches.for_file(path)
            for namespace, key in entries:
                cache.add(namespace, key)
    return outcomes
