"""Keep notebooks and their paired scripts in step, without trusting timestamps.

Each side is compared with the newest committed snapshot of the pair in which the two sides
agreed (the index, then HEAD): the side that moved away from it wins; when both moved and
now differ, or when there is no such snapshot, it is a conflict and nothing is written.
Every decision is made before the first write, so bad input anywhere changes no file.

A pair known to be in sync (by the content digests of both files) is answered from the
cache without importing jupytext or nbformat.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import git, notebook
from nbkit.cache import Cache, digest
from nbkit.config import Config
from nbkit.errors import BadInput, NbkitError, UsageError
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
CACHE_NAMESPACE = "sync"


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


def cache_key(nb_data: bytes, script_data: bytes, fmt: str) -> str:
    return digest(b"sync-v1\0" + fmt.encode() + b"\0" + nb_data + b"\0" + script_data)


def _show(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


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


def _history(pairs: Sequence[Pair], config: Config, base: str) -> dict[Path, list[_Snapshot]]:
    """Committed snapshots of each pair, newest first, asked of git in one batch per query."""
    result: dict[Path, list[_Snapshot]] = {pair.notebook: [] for pair in pairs}
    root = git.toplevel(config.root) if pairs else None
    if root is None:
        return result
    rels: dict[Path, str] = {}
    for pair in pairs:
        for path in (pair.notebook, pair.script):
            rel = git.relpath(root, path.resolve() if path.exists() else path)
            if not rel.startswith("../"):
                rels[path] = rel
    sources: list[dict[str, str]] = []
    for which in BASES[base]:
        if which == "index":
            sources.append(git.index_blobs(root, rels.values()))
        elif git.has_commits(root):
            sources.append(git.tree_blobs(root, "HEAD", rels.values()))
    blobs = git.read_blobs(root, [sha for source in sources for sha in source.values()])
    for pair in pairs:
        for source in sources:
            nb_sha = source.get(rels.get(pair.notebook, ""))
            script_sha = source.get(rels.get(pair.script, ""))
            if nb_sha and script_sha:
                result[pair.notebook].append(_Snapshot(blobs.get(nb_sha), blobs.get(script_sha)))
    return result


def _synced_base(pair: Pair, snapshots: list[_Snapshot]) -> Inputs | None:
    """The cells of the newest snapshot in which both sides agreed (None: no such snapshot)."""
    for snap in snapshots:
        if snap.notebook is None or snap.script is None:
            continue
        try:
            nb_inputs = inputs_of(notebook.loads(snap.notebook, pair.notebook))
            script_inputs = inputs_of(read_script(snap.script, pair.script, pair.fmt))
        except BadInput:
            continue  # a broken committed version says nothing about the pair
        if nb_inputs == script_inputs:
            return nb_inputs
    return None


def _plan(
    pair: Pair,
    nb_data: bytes | None,
    script_data: bytes | None,
    snapshots: list[_Snapshot],
    config: Config,
    prefer: str | None,
) -> _Plan:
    nb_show, script_show = _show(pair.notebook), _show(pair.script)
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
        return plan("in-sync", f"{nb_show} and {script_show} are in sync", None)
    to_script = plan("updated-script", f"{script_show}: updated from {nb_show}", "script", nb)
    to_notebook = plan(
        "updated-notebook",
        f"{nb_show}: updated from {script_show}",
        "notebook",
        merge_inputs(nb, script_nb),
    )
    if prefer is not None:
        return to_script if prefer == "notebook" else to_notebook
    base = _synced_base(pair, snapshots)
    nb_changed, script_changed = nb_inputs != base, script_inputs != base
    if base is not None and nb_changed != script_changed:
        return to_script if nb_changed else to_notebook
    why = (
        "both changed and differ"
        if base is not None
        else "differ and no committed version tells which side changed"
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
    nb_show, script_show = _show(pair.notebook), _show(pair.script)
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
    nb_show, script_show = _show(plan.pair.notebook), _show(plan.pair.script)
    if plan.write == "script":
        verb = "is missing" if plan.action == "created-script" else "is out of date"
        message = f"{script_show}: {verb}; would be written from {nb_show}"
        return SyncOutcome(plan.pair, "would-update-script", message)
    message = f"{nb_show}: is out of date; would be updated from {script_show}"
    return SyncOutcome(plan.pair, "would-update-notebook", message)


def _apply(plan: _Plan, cache: Cache | None) -> SyncOutcome:
    """Write what the plan says, verify it by reading it back, remember the synced state."""
    pair, source = plan.pair, plan.source
    assert source is not None
    if plan.write == "script":
        write_script(pair, source, plan.formats, plan.text)
    else:
        make_folder(pair.notebook.parent)
        notebook.write(pair.notebook, source, original=plan.original)
        if inputs_of(notebook.read(pair.notebook)) != inputs_of(source):
            raise NbkitError("read back differs from what was written", pair.notebook)
    if cache is not None:
        key = cache_key(
            notebook.read_bytes(pair.notebook), notebook.read_bytes(pair.script), pair.fmt
        )
        cache.add(CACHE_NAMESPACE, key)
    return SyncOutcome(pair, plan.action, plan.message)


def _known_in_sync(
    cache: Cache | None, pair: Pair, nb_data: bytes | None, script_data: bytes | None
) -> bool:
    if cache is None or nb_data is None or script_data is None:
        return False
    return cache.has(CACHE_NAMESPACE, cache_key(nb_data, script_data, pair.fmt))


def sync_pairs(
    paths: Sequence[Path],
    config: Config,
    *,
    prefer: str | None = None,
    check: bool = False,
    base: str = "auto",
    cache: Cache | None = None,
) -> list[SyncOutcome]:
    """Each pair once even if both its files are given. base="index" compares each side with
    its version in the git index (what a pre-commit hook needs), "HEAD" with the last commit,
    "auto" = index if it holds the files else HEAD. Conflicts are returned, never written.

    More exactly, the base is the newest snapshot (index first, then HEAD, for "auto" and
    "index"; HEAD only for "HEAD") in which the two sides agreed: in a pre-commit hook the
    index already holds the edited side, so the snapshot before the edit is HEAD's.
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
        if _known_in_sync(cache, pair, nb_data, script_data):
            message = f"{_show(pair.notebook)} and {_show(pair.script)} are in sync"
            outcomes[pair.notebook] = SyncOutcome(pair, "in-sync", message)
            continue
        pending.append((pair, nb_data, script_data))
    history = _history([p for p, _n, _s in pending], config, base)
    plans = [_plan(p, n, s, history[p.notebook], config, prefer) for p, n, s in pending]
    plans = [_rendered(plan) for plan in plans]  # a lossy conversion anywhere: nothing written
    for plan in plans:
        if plan.write is None:
            outcomes[plan.pair.notebook] = SyncOutcome(plan.pair, plan.action, plan.message)
            if plan.action == "in-sync" and cache is not None:
                assert plan.original is not None and plan.script_data is not None
                key = cache_key(plan.original, plan.script_data, plan.pair.fmt)
                cache.add(CACHE_NAMESPACE, key)
        elif check:
            outcomes[plan.pair.notebook] = _would(plan)
        else:
            outcomes[plan.pair.notebook] = _apply(plan, cache)
    return [outcomes[pair.notebook] for pair in pairs]
