"""Keep notebooks and their paired scripts in step, without trusting timestamps.

A side is overwritten only when its cells are an *agreed state* of the pair: the last in-step
state nbkit wrote or saw (kept by digest in the cache under ``.git``), a committed snapshot in
which both sides agreed (the index, then HEAD), or, after a checkout, the side's version in the
commit being left. The other side is then the one that moved, and wins. When neither side
holds an agreed state (both changed, or nothing was ever agreed), it is a conflict and nothing
is written. Every decision is made before the first write, so bad input anywhere changes no
file.

A pair known to be in sync (by the content digests of both files) is answered from the
cache without importing jupytext or nbformat, and each file is read once per command
(``Files``).

With the project's ``pipe`` (a formatter, ``pairing.pipe``), what sync writes, and a pair
found in step, is formatted before anything is written: the script as the formatter leaves
it, and the formatted code back in the notebook, so a formatter hook finds nothing to change.
The cache key includes the pipe, so a warm no-op runs no formatter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import git, notebook
from nbkit.cache import Cache, digest
from nbkit.config import Config
from nbkit.errors import BadInput, NbkitError, UsageError, shown
from nbkit.fsutil import make_folder
from nbkit.pairing import pipe
from nbkit.pairing.convert import (
    inputs_of,
    merge_inputs,
    metadata_from_script,
    piped,
    read_script,
    render_script,
    settled_notebook,
    with_pairing,
    write_script,
)
from nbkit.pairing.languages import Language, language_of
from nbkit.pairing.paths import (
    Inputs,
    Pair,
    UnsupportedLanguage,
    declared_for,
    formats_for,
    notebook_formats,
    pair_from,
    pair_of,
)

ACTIONS = (
    "in-sync",
    "updated-script",
    "updated-notebook",
    "created-script",
    "formatted",  # in step, but the pipe (formatter) rewrote one side or both
    "conflict",
    "would-update-script",
    "would-update-notebook",
    "would-format",
)
BASES = {"auto": ("index", "HEAD"), "index": ("index", "HEAD"), "HEAD": ("HEAD",)}
PREFER = ("notebook", "script")
CACHE_NAMESPACE = "sync"  # content key of a pair's bytes -> inputs digest: known in step
AGREED_NAMESPACE = "agreed"  # pair -> inputs digest of its last agreed (in-step) state
FORMATS_NAMESPACE = "nb-formats"  # notebook content digest -> its own formats ("" none)
LANGUAGE_NAMESPACE = "nb-language"  # notebook content digest -> its Language, encoded
BLOB_NAMESPACE = "blob-inputs"  # git blob (and script format) -> inputs digest, "" unreadable


class SyncOutcome(NamedTuple):
    pair: Pair
    action: str  # one of ACTIONS
    message: str  # one line for the user
    warning: str | None = None  # one line more, e.g. a script the pairing no longer names
    written: tuple[Path, ...] = ()  # the files written (the pipe may write both sides)


class _Plan(NamedTuple):
    """A decision, made before anything is written."""

    pair: Pair
    action: str
    message: str
    write: str | None  # "script" | "notebook" | "both" | None
    source: notebook.Notebook | None  # what to write from (the notebook to write)
    formats: str
    original: bytes | None  # the notebook's bytes, to keep its line endings
    script_data: bytes | None = None
    text: str | None = None  # the script to write, rendered and checked before any write
    agreed: str | None = None  # inputs digest of an in-step pair (to remember)
    warning: str | None = None
    settled: notebook.Notebook | None = None  # the notebook with the metadata jupytext gives
    # it from the script's header, when that differs (written with the script)


def cache_key(nb_data: bytes, script_data: bytes, fmt: str, pipe_key: str = "") -> str:
    """Known in step for these bytes; with a pipe, also formatted by that pipe (a changed
    pipe setting re-checks every pair)."""
    kind = fmt if not pipe_key else f"{fmt}\0pipe\0{pipe_key}"
    return digest(b"sync-v1\0" + kind.encode() + b"\0" + nb_data + b"\0" + script_data)


def inputs_digest(inputs: Inputs) -> str:
    """What the agreed state of a pair remembers: a digest of its cells' types and sources."""
    return digest(json.dumps(inputs, ensure_ascii=False).encode("utf-8"))


def _pair_key(pair: Pair) -> str:
    return f"{pair.notebook}\0{pair.script}\0{pair.fmt}"


def agreed_state(cache: Cache | None, pair: Pair) -> str | None:
    """The inputs digest of the last in-step state nbkit wrote or saw for ``pair``."""
    return None if cache is None else cache.get(AGREED_NAMESPACE, _pair_key(pair))


def record_agreed(
    cache: Cache | None,
    pair: Pair,
    nb_data: bytes,
    script_data: bytes,
    inputs: str,
    pipe_key: str = "",
) -> None:
    """Remember that these exact bytes are in step (fast no-op) and that their cells are the
    pair's new agreed state (what a later sync may overwrite without asking)."""
    if cache is None:
        return
    cache.put(CACHE_NAMESPACE, cache_key(nb_data, script_data, pair.fmt, pipe_key), inputs)
    cache.put(AGREED_NAMESPACE, _pair_key(pair), inputs)


class Files:
    """The files one command works on: each read once (until nbkit writes it), and each
    notebook's own pairing formats parsed once per content, ever (kept by digest in the
    cache), so a no-op hook reads every file once and parses none."""

    def __init__(self, cache: Cache | None = None) -> None:
        self.cache = cache
        self._bytes: dict[Path, bytes | None] = {}
        self.digests: dict[str, str] = {}  # blob key -> inputs digest, parsed in this command

    def read(self, path: Path) -> bytes | None:
        """The file's bytes (None: no such file)."""
        key = Path(path).absolute()
        if key not in self._bytes:
            self._bytes[key] = notebook.read_bytes(key) if key.exists() else None
        return self._bytes[key]

    def forget(self, path: Path) -> None:
        """``path`` was written: read it again next time."""
        self._bytes.pop(Path(path).absolute(), None)

    def formats(self, path: Path) -> str | None:
        """The notebook's own ``metadata.jupytext.formats``."""
        data = self.read(path)
        if data is None:
            raise BadInput("no such file", path)
        key = digest(data)
        known = self.cache.get(FORMATS_NAMESPACE, key) if self.cache is not None else None
        if known is None:
            known = notebook_formats(notebook.loads(data, path)) or ""
            if self.cache is not None:
                self.cache.put(FORMATS_NAMESPACE, key, known)
        return known or None

    def language(self, path: Path) -> Language:
        """The notebook's language, for formats that say ``auto`` (kept by content digest)."""
        data = self.read(path)
        if data is None:
            return Language("", None)
        key = digest(data)
        known = self.cache.get(LANGUAGE_NAMESPACE, key) if self.cache is not None else None
        if known is None:
            known = language_of(notebook.loads(data, path).get("metadata", {})).encode()
            if self.cache is not None:
                self.cache.put(LANGUAGE_NAMESPACE, key, known)
        return Language.decode(known)


def resolve_pairs(
    paths: Sequence[Path],
    config: Config,
    files: Files | None = None,
    skipped: list[NbkitError] | None = None,
) -> list[Pair]:
    """Each pair once. Unpaired notebooks are skipped; other unpaired files are bad input.
    With ``skipped``, a notebook in a language jupytext cannot pair is added there instead
    of failing the command (the project-wide sync, where one such notebook must not stop
    the others)."""
    pairs: dict[Path, Pair] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise BadInput("no such file", raw)
        if path.is_dir():
            raise BadInput("is a directory, not a notebook or script", raw)
        try:
            pair = pair_of(
                path,
                config,
                files.formats if files is not None else None,
                files.language if files is not None else None,
            )
        except UnsupportedLanguage as exc:
            if skipped is None:
                raise
            skipped.append(exc)
            continue
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


def git_blob_sha(data: bytes) -> str:
    """The id git gives these bytes as a blob: a working file and its committed version
    share one cache entry when they are equal."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _remember(files: Files, key: str, value: str) -> None:
    files.digests[key] = value
    if files.cache is not None:
        files.cache.put(BLOB_NAMESPACE, key, value)


def _known_digest(files: Files, key: str) -> str | None:
    known = files.digests.get(key)
    if known is None and files.cache is not None:
        known = files.cache.get(BLOB_NAMESPACE, key)
    return known


def _blob_digest(
    sha: str, contents: dict[str, bytes], pair: Pair, side: str, files: Files
) -> str | None:
    """The inputs digest of a committed blob of one side (None: unreadable), remembered by
    blob id so each version is parsed once, ever (the working file's parse counts too)."""
    key = _blob_key(sha, pair, side)
    known = _known_digest(files, key)
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
    _remember(files, key, value)
    return value or None


_Listing = tuple[_Source, dict[str, str]]


def _listed(
    pairs: Sequence[Pair], root: Path, sources: list[_Source]
) -> tuple[dict[Path, str], list[_Listing]]:
    """Each pair file's path as git names it, and its blob id in each source."""
    rels: dict[Path, str] = {}
    for pair in pairs:
        for path in (pair.notebook, pair.script):
            rel = git.relpath(root, path.resolve() if path.exists() else path)
            if not rel.startswith("../"):
                rels[path] = rel
    listed: list[_Listing] = []
    for source in sources:
        if source.rev == "index":
            listed.append((source, git.index_blobs(root, rels.values())))
        elif source.rev != "HEAD" or git.has_commits(root):
            listed.append((source, git.tree_blobs(root, source.rev, rels.values())))
    return rels, listed


class _Bases(NamedTuple):
    """What ``_plan`` needs to know of a pair's history."""

    states: list[str]  # agreed states (inputs digests), the preferred to overwrite first
    moved: str | None = None  # "notebook" | "script": the only side a checkout changed


def _moved(
    pair: Pair, rels: dict[Path, str], listed: list[_Listing], files: Files
) -> str | None:
    """The side a checkout moved: the only one whose blob differs between the commit being
    left and HEAD, as git just wrote it. It is what the user asked for, so it wins over a
    side that holds an agreed state too (a notebook re-synced on the branch being left is
    derived, and must not carry that branch's content over)."""
    left = next((blobs for source, blobs in listed if source.per_side), None)
    head = next((blobs for source, blobs in listed if source.rev == "HEAD"), None)
    if left is None or head is None:
        return None
    moved = [
        (side, path)
        for side, path in (("notebook", pair.notebook), ("script", pair.script))
        if left.get(rels.get(path, "")) != head.get(rels.get(path, ""))
    ]
    if len(moved) != 1:
        return None
    side, path = moved[0]
    data = files.read(path)
    sha = head.get(rels.get(path, ""))
    return side if sha and data is not None and git_blob_sha(data) == sha else None


def _bases(
    pairs: Sequence[Pair], config: Config, sources: list[_Source], files: Files
) -> dict[Path, _Bases]:
    """The agreed states of each pair, as inputs digests, in the order ``_plan`` prefers to
    overwrite a side holding them: what git has first (the commit being left, then the
    index, then HEAD: a snapshot in which both sides agreed), nbkit's own last agreed state
    last, because only the cache remembers it; and the side a checkout moved. Git is asked
    in one batch per source."""
    root = git.toplevel(config.root) if pairs else None
    rels, listed = _listed(pairs, root, sources) if root is not None else ({}, [])
    wanted: set[str] = set()  # blobs not parsed before: read in one batch
    for pair in pairs:
        for _source, blobs in listed:
            for side, path in (("notebook", pair.notebook), ("script", pair.script)):
                sha = blobs.get(rels.get(path, ""))
                if sha and _known_digest(files, _blob_key(sha, pair, side)) is None:
                    wanted.add(sha)
    contents = git.read_blobs(root, wanted) if root is not None else {}
    result: dict[Path, _Bases] = {}
    for pair in pairs:
        first: list[str] = []
        later: list[str] = []
        for source, blobs in listed:
            digests = []
            for side, path in (("notebook", pair.notebook), ("script", pair.script)):
                sha = blobs.get(rels.get(path, ""))
                digests.append(_blob_digest(sha, contents, pair, side, files) if sha else None)
            target = first if source.per_side else later
            if digests[0] is not None and digests[0] == digests[1]:
                target.append(digests[0])
            elif source.per_side:
                target.extend(d for d in digests if d is not None)
        agreed = agreed_state(files.cache, pair)
        states = [*first, *later, *([agreed] if agreed else [])]
        result[pair.notebook] = _Bases(states, _moved(pair, rels, listed, files))
    return result


class _Parsed(NamedTuple):
    """Both sides of a pair as read from disk, each parsed once."""

    nb: notebook.Notebook | None  # None: no notebook on disk
    script: notebook.Notebook | None  # None: no script on disk


def _parse(pair: Pair, nb_data: bytes | None, script_data: bytes | None, files: Files) -> _Parsed:
    """Parse each side once and remember its inputs digest under its git blob id, so a
    committed version with the same bytes is not parsed again for the bases."""
    nb = notebook.loads(nb_data, pair.notebook) if nb_data is not None else None
    script = read_script(script_data, pair.script, pair.fmt) if script_data is not None else None
    for side, data, parsed in (("notebook", nb_data, nb), ("script", script_data, script)):
        if data is not None and parsed is not None:
            _remember(
                files, _blob_key(git_blob_sha(data), pair, side), inputs_digest(inputs_of(parsed))
            )
    return _Parsed(nb, script)


def _plan(
    pair: Pair,
    nb_data: bytes | None,
    script_data: bytes | None,
    parsed: _Parsed,
    history: _Bases,
    config: Config,
    prefer: str | None,
) -> _Plan:
    """Decide for one pair. A side may be overwritten only when its cells are one of the
    pair's agreed states (``history.states``): anything else is work nobody else has, so a
    pair whose sides both hold such work is a conflict."""
    bases = history.states
    nb_show, script_show = shown(pair.notebook), shown(pair.script)
    nb, script_nb = parsed
    if nb is None:
        return _plan_missing_notebook(pair, script_nb, config, prefer)
    formats = formats_for(
        pair, notebook_formats(nb) or declared_for(pair.notebook, config) or config.formats
    )

    def plan(action: str, message: str, write: str | None, source: Any = None) -> _Plan:
        return _Plan(pair, action, message, write, source, formats, nb_data, script_data)

    if script_nb is None:
        created = plan(
            "created-script", f"{script_show}: was missing, recreated from {nb_show}", "script", nb
        )
        return created._replace(warning=_orphan_warning(pair, nb, config))
    nb_inputs, script_inputs = inputs_of(nb), inputs_of(script_nb)
    if nb_inputs == script_inputs:
        return plan("in-sync", f"{nb_show} and {script_show} are in sync", None, nb)._replace(
            agreed=inputs_digest(nb_inputs)
        )
    to_script = plan("updated-script", f"{script_show}: updated from {nb_show}", "script", nb)
    assert script_data is not None
    to_notebook = plan(
        "updated-notebook",
        f"{nb_show}: updated from {script_show}",
        "notebook",
        metadata_from_script(merge_inputs(nb, script_nb), script_nb, pair.fmt, script_data),
    )
    if prefer is not None:
        return to_script if prefer == "notebook" else to_notebook
    rank = {d: i for i, d in reversed(list(enumerate(bases)))}
    nb_rank = rank.get(inputs_digest(nb_inputs))
    script_rank = rank.get(inputs_digest(script_inputs))
    # Overwrite a side that holds an agreed state; when both do, the one the checkout did
    # not move, else the one git can give back.
    if script_rank is not None and nb_rank is not None and history.moved is not None:
        return to_notebook if history.moved == "script" else to_script
    if script_rank is not None and (nb_rank is None or script_rank < nb_rank):
        return to_script
    if nb_rank is not None:
        return to_notebook
    if bases:
        why = "both changed and differ"
        choose = f"choose: nbkit sync --prefer notebook|script {nb_show}"
    else:  # never in step: the script may be an unrelated file that sits where it would go
        why = "differ and no committed version (nor an earlier sync) tells which side changed"
        choose = (
            f"if {script_show} is another file, move or rename it, or pair the notebook to"
            f" another name: nbkit pair --format 'ipynb,scripts//{pair.fmt}' {nb_show};"
            f" else nbkit sync --prefer notebook {nb_show} overwrites {script_show},"
            f" --prefer script overwrites {nb_show}"
        )
    return plan("conflict", f"{nb_show} and {script_show} {why}; nothing written ({choose})", None)


def _orphan_warning(pair: Pair, nb: notebook.Notebook, config: Config) -> str | None:
    """When a script is created because the pairing moved it (a new format, a new folder or
    a renamed script), the script the notebook had before is left behind: name it. Where it
    was is read from the notebook's pairing in HEAD, the project's formats and the default."""
    candidates = [notebook_formats(nb), declared_for(pair.notebook, config), "ipynb,py:percent"]
    candidates.append(_committed_formats(pair.notebook, config))
    for formats in dict.fromkeys(f for f in candidates if f):
        try:
            old = pair_from(pair.notebook, formats, config)
        except BadInput:
            continue
        if old is not None and old.script != pair.script and old.script.is_file():
            old_show = shown(old.script)
            return (
                f"{old_show}: no longer paired with {shown(pair.notebook)} (its script is now"
                f" {shown(pair.script)}); delete it if it is the old script: git rm {old_show}"
            )
    return None


def _committed_formats(nb_path: Path, config: Config) -> str | None:
    """The pairing recorded in the notebook as last committed (None: none, or not in git)."""
    root = git.toplevel(config.root)
    if root is None:
        return None
    rel = git.relpath(root, nb_path)
    blobs = git.tree_blobs(root, "HEAD", [rel]) if git.has_commits(root) else {}
    data = git.read_blobs(root, blobs.values()).get(blobs.get(rel, ""))
    try:
        return notebook_formats(notebook.loads(data, nb_path)) if data else None
    except BadInput:
        return None


def _plan_missing_notebook(
    pair: Pair, script_nb: notebook.Notebook | None, config: Config, prefer: str | None
) -> _Plan:
    nb_show, script_show = shown(pair.notebook), shown(pair.script)
    formats = formats_for(pair, declared_for(pair.script, config) or config.formats)
    if script_nb is None:
        raise BadInput("no such file", pair.notebook)
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
    if plan.write not in ("script", "both") or plan.source is None or plan.text is not None:
        return plan
    text = render_script(plan.pair, plan.source, plan.formats, plan.script_data)
    return plan._replace(text=text, settled=settled_notebook(plan.source, text, plan.pair))


class _Pipe(NamedTuple):
    """The formatter commands this sync runs, and their cache key ("" : none)."""

    commands: tuple[pipe.Command, ...]
    key: str
    root: Path


def _pipe_of(config: Config, left: str | None) -> _Pipe | None:
    """The project's ``pipe``; never in a checkout or merge (``left``): only a sync or a
    commit the user started runs commands the repository names."""
    commands: tuple[pipe.Command, ...] = config.values("").get("pipe", ())
    if not commands or left is not None:
        return None
    return _Pipe(commands, pipe.key(commands), config.root)


def _script_text(data: bytes | None) -> str | None:
    """The script on disk as text, as the formatter's output is compared with it."""
    if data is None:
        return None
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return text[1:] if text.startswith("\ufeff") else text


def _formatted(plan: _Plan, piping: _Pipe) -> _Plan:
    """The plan with the pipe applied to what it writes, or, for a pair in step, to both
    sides: the formatted script, and the notebook with the formatted code. A side the
    formatter changes is written too; a pair already formatted stays "in-sync"."""
    nb = plan.source
    if nb is None or plan.action == "conflict" or not pipe.applies_to(nb):
        return plan
    pair = plan.pair
    whole = pair.script.suffix == ".py"  # the script itself is Python: format it whole
    fmt = pair.fmt if whole else "py:percent"  # else only the code, from a percent rendering

    def run(text: str) -> str:
        return pipe.run(text, piping.commands, pair.script, piping.root)

    new_nb, out, code_changed = piped(nb, plan.formats, fmt, pair.script, run, whole=whole)
    text = out if whole else render_script(pair, new_nb, plan.formats, plan.script_data)
    current = _script_text(plan.script_data)
    script_changed = plan.write in ("script", "both") or text != current
    nb_changed = plan.write in ("notebook", "both") or code_changed
    write = {(True, True): "both", (True, False): "script", (False, True): "notebook"}.get(
        (script_changed, nb_changed)
    )
    if write is None:
        return plan
    note = f"formatted by `{'` | `'.join(pipe.shown_command(c) for c in piping.commands)}`"
    action, message = plan.action, f"{plan.message}; {note}"
    if plan.action == "in-sync":
        nb_show, script_show = shown(pair.notebook), shown(pair.script)
        sides = {"both": f"{nb_show} and {script_show}", "script": script_show}
        action, message = "formatted", f"{sides.get(write, nb_show)}: {note}"
    elif write == "both" and plan.write != "both":
        message += " (both sides)"
    return plan._replace(action=action, message=message, write=write, source=new_nb, text=text)


def _with_formatter_hint(plan: _Plan, config: Config) -> _Plan:
    """A conflict in a project whose pre-commit config runs a formatter hook and sets no
    ``pipe``: the formatter probably rewrote the script; say so and how to fix it for good.
    Only a conflict reads the pre-commit config."""
    if plan.action != "conflict" or plan.original is None:  # not a deleted notebook
        return plan
    root = git.toplevel(config.root) or config.root
    found = pipe.formatter_hooks(root / ".pre-commit-config.yaml")
    if not found:
        return plan
    hook_id, command = found[0]
    warning = (
        f"{shown(plan.pair.script)} may have been rewritten by the {hook_id} hook in"
        f' .pre-commit-config.yaml after nbkit wrote it; set pipe = ["{command}"] in'
        " [tool.nbkit] so nbkit formats the script and the notebook alike"
        " (docs/pairing-and-sync.md), then choose a side once"
    )
    return plan._replace(warning=warning)


def _would(plan: _Plan) -> SyncOutcome:
    """What ``--check`` reports instead of writing."""
    nb_show, script_show = shown(plan.pair.notebook), shown(plan.pair.script)
    if plan.action == "formatted":
        message = f"{nb_show} and {script_show}: not as the pipe formats them; would be formatted"
        return SyncOutcome(plan.pair, "would-format", message)
    if plan.action in ("updated-script", "created-script"):
        verb = "is missing" if plan.action == "created-script" else "is out of date"
        message = f"{script_show}: {verb}; would be written from {nb_show}"
        return SyncOutcome(plan.pair, "would-update-script", message, plan.warning)
    message = f"{nb_show}: is out of date; would be updated from {script_show}"
    return SyncOutcome(plan.pair, "would-update-notebook", message)


def _apply(plan: _Plan, cache: Cache | None, files: Files, pipe_key: str = "") -> SyncOutcome:
    """Write what the plan says, verify it by reading it back, remember the agreed state."""
    pair, source = plan.pair, plan.source
    assert source is not None
    written: list[Path] = []
    if plan.write in ("script", "both"):
        write_script(pair, source, plan.formats, plan.text)
        written.append(pair.script)
        if plan.write == "script" and plan.settled is not None:  # jupytext takes this from
            # the script's header too
            notebook.write(pair.notebook, plan.settled, original=plan.original)
            written.append(pair.notebook)
    if plan.write in ("notebook", "both"):
        make_folder(pair.notebook.parent)
        notebook.write(pair.notebook, source, original=plan.original)
        if inputs_of(notebook.read(pair.notebook)) != inputs_of(source):
            raise NbkitError("read back differs from what was written", pair.notebook)
        written.append(pair.notebook)
    for path in written:
        files.forget(path)
    nb_data, script_data = files.read(pair.notebook), files.read(pair.script)
    assert nb_data is not None and script_data is not None
    agreed = inputs_digest(inputs_of(source))
    record_agreed(cache, pair, nb_data, script_data, agreed, pipe_key)
    for side, data in (("notebook", nb_data), ("script", script_data)):  # once committed,
        _remember(files, _blob_key(git_blob_sha(data), pair, side), agreed)  # a known blob
    return SyncOutcome(pair, plan.action, plan.message, plan.warning, tuple(written))


def _known_in_sync(
    cache: Cache | None,
    pair: Pair,
    nb_data: bytes | None,
    script_data: bytes | None,
    pipe_key: str = "",
) -> str | None:
    """The inputs digest when these exact bytes were seen in step (and, with a pipe,
    formatted by it) before: no parsing, no formatter run."""
    if cache is None or nb_data is None or script_data is None:
        return None
    return cache.get(CACHE_NAMESPACE, cache_key(nb_data, script_data, pair.fmt, pipe_key))


def sync_pairs(
    pairs: Sequence[Pair],
    config: Config,
    *,
    prefer: str | None = None,
    check: bool = False,
    base: str = "auto",
    cache: Cache | None = None,
    left: str | None = None,
    files: Files | None = None,
) -> list[SyncOutcome]:
    """Sync resolved pairs (``resolve_pairs``), each once; conflicts are returned, never
    written. ``files``: the command's reads, shared with its other steps.

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
    files = files if files is not None else Files(cache)
    piping = _pipe_of(config, left)
    pipe_key = piping.key if piping is not None else ""
    outcomes: dict[Path, SyncOutcome] = {}
    pending: list[tuple[Pair, bytes | None, bytes | None]] = []
    pairs = list({pair.notebook: pair for pair in pairs}.values())
    for pair in pairs:
        nb_data, script_data = files.read(pair.notebook), files.read(pair.script)
        known = _known_in_sync(cache, pair, nb_data, script_data, pipe_key)
        if known is not None:
            assert cache is not None
            cache.put(AGREED_NAMESPACE, _pair_key(pair), known)
            message = f"{shown(pair.notebook)} and {shown(pair.script)} are in sync"
            outcomes[pair.notebook] = SyncOutcome(pair, "in-sync", message)
            continue
        pending.append((pair, nb_data, script_data))
    parsed = {p.notebook: _parse(p, n, s, files) for p, n, s in pending}
    bases = _bases([p for p, _n, _s in pending], config, _sources(base, left), files)
    plans = [
        _plan(p, n, s, parsed[p.notebook], bases[p.notebook], config, prefer) for p, n, s in pending
    ]
    if piping is not None:  # a failing formatter anywhere: nothing written
        plans = [_formatted(plan, piping) for plan in plans]
    else:
        plans = [_with_formatter_hint(plan, config) for plan in plans]
    plans = [_rendered(plan) for plan in plans]  # a lossy conversion anywhere: nothing written
    for plan in plans:
        if plan.write is None:
            outcome = SyncOutcome(plan.pair, plan.action, plan.message, plan.warning)
            outcomes[plan.pair.notebook] = outcome
            if plan.agreed is not None:
                assert plan.original is not None and plan.script_data is not None
                record_agreed(
                    cache, plan.pair, plan.original, plan.script_data, plan.agreed, pipe_key
                )
        elif check:
            outcomes[plan.pair.notebook] = _would(plan)
        else:
            outcomes[plan.pair.notebook] = _apply(plan, cache, files, pipe_key)
    return [outcomes[pair.notebook] for pair in pairs]
