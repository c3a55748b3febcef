"""Keep notebooks and their paired scripts in step, without trusting timestamps.

Each side is compared with the newest committed snapshot of the pair in which the two sides
agreed (the index, then HEAD): the side that moved away from it wins; when both moved and
now differ, or when there is no such snapshot, it is a conflict and nothing is written.
Every decision is made before the first write, so bad input anywhere changes no file.

A pair known to be in sync (by the content digests of both files) is answered from the
cache without importing jupytext or nbformat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import git, notebook
from nbkit.cache import Cache, digest
from nbkit.config import Config
from nbkit.errors import BadInput, NbkitError, UsageError, shown
from nbkit.fsutil import make_folder
from nbkit.pairing.convert import (
    inputs_of,
    merge_inputs,
    read_script,
    render_script,
    with_pairing,
    write_script,
)
from nbkit.pairing.paths import Inputs, Pair, declared_formats, notebook_formats, pair_of

ACTIONS = (
    "in-sync",
    "updated-script",
    "updated-notebook",
    "created-script",
    "conflict",
    "would-update-script",
    "would-update-notebook",
)
BASES = {"auto": ("index", "HEAD"), "index": ("index", "HEAD"), "HEAD": ("HEAD",)}
PREFER = ("notebook", "script")
CACHE_NAMESPACE = "sync"  # content key of a pair's bytes -> inputs digest: known in step
AGREED_NAMESPACE = "agreed"  # pair -> inputs digest of its last agreed (in-step) state
BLOB_NAMESPACE = "blob-inputs"  # git blob (and script format) -> inputs digest, "" unreadable


class SyncOutcome(NamedTuple):
    pair: Pair
    action: str  # one of ACTIONS
    message: str  # one line for the user


class _Snapshot(NamedTuple):
    notebook: bytes | None
    script: bytes | None


class _Plan(NamedTuple):
    """A decision, made before anything is written."""

    pair: Pair
    action: str
    message: str
    write: str | None  # "script" | "notebook" | None
    source: notebook.Notebook | None  # what to write from
    formats: str
    original: bytes | None  # the notebook's bytes, to keep its line endings
    script_data: bytes | None = None
    text: str | None = None  # the script to write, rendered and checked before any write
    agreed: str | None = None  # inputs digest of an in-step pair (to remember)


def cache_key(nb_data: bytes, script_data: bytes, fmt: str) -> str:
    return digest(b"sync-v1\0" + fmt.encode() + b"\0" + nb_data + b"\0" + script_data)


def inputs_digest(inputs: Inputs) -> str:
    """What the agreed state of a pair remembers: a digest of its cells' types and sources."""
    return digest(json.dumps(inputs, ensure_ascii=False).encode("utf-8"))


def _pair_key(pair: Pair) -> str:
    return f"{pair.notebook}\0{pair.script}\0{pair.fmt}"


def agreed_state(cache: Cache | None, pair: Pair) -> str | None:
    """The inputs digest of the last in-step state nbkit wrote or saw for ``pair``."""
    return None if cache is None else cache.get(AGREED_NAMESPACE, _pair_key(pair))


def record_agreed(
    cache: Cache | None, pair: Pair, nb_data: bytes, script_data: bytes, inputs: str
) -> None:
    """Remember that these exact bytes are in step (fast no-op) and that their cells are the
    pair's new agreed state (what a later sync may overwrite without asking)."""
    if cache is None:
        return
    cache.put(CACHE_NAMESPACE, cache_key(nb_data, script_data, pair.fmt), inputs)
    cache.put(AGREED_NAMESPACE, _pair_key(pair), inputs)


def _read(path: Path) -> bytes | None:
    return notebook.read_bytes(path) if path.exists() else None


def resolve_pairs(paths: Sequence[Path], config: Config) -> list[Pair]:
    """Each pair once. Unpaired notebooks are skipped; other unpaired files are bad input."""
    pairs: dict[Path, Pair] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise BadInput("no such file", raw)
        if path.is_dir():
            raise BadInput("is a directory, not a notebook or script", raw)
        pair = pair_of(path, config)
        if pair is None:
            if path.suffix == ".ipynb":
                continue
            raise BadInput(
                "neither a notebook nor a paired script",
                raw,
                hint="pair a notebook first: nbkit pair NOTEBOOK",
            )
        pairs.setdefault(pair.notebook, pair)
    return list(pairs.values())


class _Source(NamedTuple):
    """Where a base comes from: "index" or a commit; ``per_side``: each side's version there
    counts on its own (the commit being left by a checkout: it is what the user had)."""

    rev: str
    per_side: bool = False


def _sources(base: str, left: str | None) -> list[_Source]:
    found = [_Source(left, per_side=True)] if left else []
    return found + [_Source(which) for which in BASES[base]]


def _blob_key(sha: str, pair: Pair, side: str) -> str:
    return f"{sha}\0{'ipynb' if side == 'notebook' else pair.fmt}"


def _blob_digest(
    sha: str, contents: dict[str, bytes], pair: Pair, side: str, cache: Cache | None
) -> str | None:
    """The inputs digest of a committed blob of one side (None: unreadable), remembered by
    blob id so a committed version is parsed once, ever."""
    key = _blob_key(sha, pair, side)
    known = cache.get(BLOB_NAMESPACE, key) if cache is not None else None
    if known is not None:
        return known or None
    data = contents.get(sha)
    if data is None:
        return None
    try:
        if side == "notebook":
            inputs = inputs_of(notebook.loads(data, pair.notebook))
        else:
            inputs = inputs_of(read_script(data, pair.script, pair.fmt))
        value = inputs_digest(inputs)
    except BadInput:
        value = ""  # a broken committed version says nothing about the pair
    if cache is not None:
        cache.put(BLOB_NAMESPACE, key, value)
    return value or None


def _listed(
    pairs: Sequence[Pair], root: Path, sources: list[_Source]
) -> tuple[dict[Path, str], list[tuple[_Source, dict[str, str]]]]:
    """Each pair file's path as git names it, and its blob id in each source."""
    rels: dict[Path, str] = {}
    for pair in pairs:
        for path in (pair.notebook, pair.script):
            rel = git.relpath(root, path.resolve() if path.exists() else path)
            if not rel.startswith("../"):
                rels[path] = rel
    listed: list[tuple[_Source, dict[str, str]]] = []
    for source in sources:
        if source.rev == "index":
            listed.append((source, git.index_blobs(root, rels.values())))
        elif source.rev != "HEAD" or git.has_commits(root):
            listed.append((source, git.tree_blobs(root, source.rev, rels.values())))
    return rels, listed


def _bases(
    pairs: Sequence[Pair], config: Config, sources: list[_Source], cache: Cache | None
) -> dict[Path, list[str]]:
    """The agreed states of each pair, as inputs digests, the most telling first: the commit
    being left (if any), nbkit's own last agreed state, then each committed snapshot (index,
    HEAD) in which the two sides agreed. Git is asked in one batch per source."""
    root = git.toplevel(config.root) if pairs else None
    rels, listed = _listed(pairs, root, sources) if root is not None else ({}, [])
    wanted: dict[tuple[Pair, str], str] = {}  # (pair, side) -> sha, per source below
    for pair in pairs:
        for _source, blobs in listed:
            for side, path in (("notebook", pair.notebook), ("script", pair.script)):
                sha = blobs.get(rels.get(path, ""))
                if sha and (
                    cache is None or cache.get(BLOB_NAMESPACE, _blob_key(sha, pair, side)) is None
                ):
                    wanted[(pair, side)] = sha
    contents = git.read_blobs(root, set(wanted.values())) if root is not None else {}
    result: dict[Path, list[str]] = {}
    for pair in pairs:
        first: list[str] = []
        later: list[str] = []
        for source, blobs in listed:
            digests = []
            for side, path in (("notebook", pair.notebook), ("script", pair.script)):
                sha = blobs.get(rels.get(path, ""))
                digests.append(_blob_digest(sha, contents, pair, side, cache) if sha else None)
            target = first if source.per_side else later
            if digests[0] is not None and digests[0] == digests[1]:
                target.append(digests[0])
            elif source.per_side:
                target.extend(d for d in digests if d is not None)
        agreed = agreed_state(cache, pair)
        result[pair.notebook] = [*first, *([agreed] if agreed else []), *later]
    return result


def _plan(
    pair: Pair,
    nb_data: bytes | None,
    script_data: bytes | None,
    bases: list[str],
    config: Config,
    prefer: str | None,
) -> _Plan:
    """Decide for one pair. A side may be overwritten only when its cells are one of the
    pair's agreed states (``bases``): anything else is work nobody else has, so a pair whose
    sides both hold such work is a conflict."""
    nb_show, script_show = shown(pair.notebook), shown(pair.script)
    if nb_data is None:
        return _plan_missing_notebook(pair, script_data, config, prefer)
    nb = notebook.loads(nb_data, pair.notebook)
    formats = notebook_formats(nb) or declared_formats(config) or config.formats

    def plan(action: str, message: str, write: str | None, source: Any = None) -> _Plan:
        return _Plan(pair, action, message, write, source, formats, nb_data, script_data)

    if script_data is None:
        return plan(
            "created-script", f"{script_show}: was missing, recreated from {nb_show}", "script", nb
        )
    script_nb = read_script(script_data, pair.script, pair.fmt)
    nb_inputs, script_inputs = inputs_of(nb), inputs_of(script_nb)
    if nb_inputs == script_inputs:
        return plan("in-sync", f"{nb_show} and {script_show} are in sync", None)._replace(
            agreed=inputs_digest(nb_inputs)
        )
    to_script = plan("updated-script", f"{script_show}: updated from {nb_show}", "script", nb)
    to_notebook = plan(
        "updated-notebook",
        f"{nb_show}: updated from {script_show}",
        "notebook",
        merge_inputs(nb, script_nb),
    )
    if prefer is not None:
        return to_script if prefer == "notebook" else to_notebook
    rank = {d: i for i, d in reversed(list(enumerate(bases)))}
    nb_rank = rank.get(inputs_digest(nb_inputs))
    script_rank = rank.get(inputs_digest(script_inputs))
    if script_rank is not None and (nb_rank is None or script_rank < nb_rank):
        return to_script  # the script holds an agreed state: the notebook moved
    if nb_rank is not None:
        return to_notebook
    why = (
        "both changed and differ"
        if bases
        else "differ and no committed version (nor an earlier sync) tells which side changed"
    )
    return plan(
        "conflict",
        f"{nb_show} and {script_show} {why}; nothing written"
        f" (choose: nbkit sync --prefer notebook|script {nb_show})",
        None,
    )


def _plan_missing_notebook(
    pair: Pair, script_data: bytes | None, config: Config, prefer: str | None
) -> _Plan:
    nb_show, script_show = shown(pair.notebook), shown(pair.script)
    formats = declared_formats(config) or config.formats
    if script_data is None:
        raise BadInput("no such file", pair.notebook)
    script_nb = read_script(script_data, pair.script, pair.fmt)
    if prefer != "script":
        return _Plan(
            pair,
            "conflict",
            f"{nb_show} was deleted but {script_show} is paired with it; restore it with git,"
            f" or rebuild it: nbkit sync --prefer script {script_show}",
            None,
            None,
            formats,
            None,
        )
    empty: notebook.Notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    rebuilt = with_pairing(merge_inputs(empty, script_nb), formats)
    rebuilt["metadata"].update(
        {k: v for k, v in script_nb.get("metadata", {}).items() if k != "jupytext"}
    )
    return _Plan(
        pair,
        "updated-notebook",
        f"{nb_show}: rebuilt from {script_show}",
        "notebook",
        rebuilt,
        formats,
        None,
    )


def _rendered(plan: _Plan) -> _Plan:
    if plan.write != "script" or plan.source is None:
        return plan
    return plan._replace(text=render_script(plan.pair, plan.source, plan.formats))


def _would(plan: _Plan) -> SyncOutcome:
    """What ``--check`` reports instead of writing."""
    nb_show, script_show = shown(plan.pair.notebook), shown(plan.pair.script)
    if plan.write == "script":
        verb = "is missing" if plan.action == "created-script" else "is out of date"
        message = f"{script_show}: {verb}; would be written from {nb_show}"
        return SyncOutcome(plan.pair, "would-update-script", message)
    message = f"{nb_show}: is out of date; would be updated from {script_show}"
    return SyncOutcome(plan.pair, "would-update-notebook", message)


def _apply(plan: _Plan, cache: Cache | None) -> SyncOutcome:
    """Write what the plan says, verify it by reading it back, remember the agreed state."""
    pair, source = plan.pair, plan.source
    assert source is not None
    if plan.write == "script":
        write_script(pair, source, plan.formats, plan.text)
    else:
        make_folder(pair.notebook.parent)
        notebook.write(pair.notebook, source, original=plan.original)
        if inputs_of(notebook.read(pair.notebook)) != inputs_of(source):
            raise NbkitError("read back differs from what was written", pair.notebook)
    record_agreed(
        cache,
        pair,
        notebook.read_bytes(pair.notebook),
        notebook.read_bytes(pair.script),
        inputs_digest(inputs_of(source)),
    )
    return SyncOutcome(pair, plan.action, plan.message)


def _known_in_sync(
    cache: Cache | None, pair: Pair, nb_data: bytes | None, script_data: bytes | None
) -> str | None:
    """The inputs digest when these exact bytes were seen in step before (no parsing)."""
    if cache is None or nb_data is None or script_data is None:
        return None
    return cache.get(CACHE_NAMESPACE, cache_key(nb_data, script_data, pair.fmt))


def sync_pairs(
    paths: Sequence[Path],
    config: Config,
    *,
    prefer: str | None = None,
    check: bool = False,
    base: str = "auto",
    cache: Cache | None = None,
    left: str | None = None,
) -> list[SyncOutcome]:
    """Each pair once even if both its files are given; conflicts are returned, never written.

    A side is overwritten only when its cells are an agreed state of the pair: the last
    in-step state nbkit wrote or saw (kept in ``cache``), or a committed snapshot in which
    the two sides agreed (base="index"/"auto": the index then HEAD; "HEAD": HEAD only).
    ``left`` is the commit a checkout or merge is leaving: each side's version there counts
    too (it is what the user had), and first.
    """
    if prefer is not None and prefer not in PREFER:
        raise UsageError(f"--prefer must be one of {', '.join(PREFER)}, not {prefer!r}")
    if base not in BASES:
        raise UsageError(f"base must be one of {', '.join(BASES)}, not {base!r}")
    outcomes: dict[Path, SyncOutcome] = {}
    pending: list[tuple[Pair, bytes | None, bytes | None]] = []
    pairs = resolve_pairs(paths, config)
    for pair in pairs:
        nb_data, script_data = _read(pair.notebook), _read(pair.script)
        known = _known_in_sync(cache, pair, nb_data, script_data)
        if known is not None and prefer is None:
            assert cache is not None
            cache.put(AGREED_NAMESPACE, _pair_key(pair), known)
            message = f"{shown(pair.notebook)} and {shown(pair.script)} are in sync"
            outcomes[pair.notebook] = SyncOutcome(pair, "in-sync", message)
            continue
        pending.append((pair, nb_data, script_data))
    bases = _bases([p for p, _n, _s in pending], config, _sources(base, left), cache)
    plans = [_plan(p, n, s, bases[p.notebook], config, prefer) for p, n, s in pending]
    plans = [_rendered(plan) for plan in plans]  # a lossy conversion anywhere: nothing written
    for plan in plans:
        if plan.write is None:
            outcomes[plan.pair.notebook] = SyncOutcome(plan.pair, plan.action, plan.message)
            if plan.agreed is not None:
                assert plan.original is not None and plan.script_data is not None
                record_agreed(cache, plan.pair, plan.original, plan.script_data, plan.agreed)
        elif check:
            outcomes[plan.pair.notebook] = _would(plan)
        else:
            outcomes[plan.pair.notebook] = _apply(plan, cache)
    return [outcomes[pair.notebook] for pair in pairs]
