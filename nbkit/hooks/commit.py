"""Hook entry points: what runs on ``git commit`` (pre-commit) and after checkout and merge.

The combined hook does everything in one pass over the files git hands it:

1. clean the notebooks (first, so the paired script is generated from cleaned content and a
   later clean never changes what sync just wrote);
2. pair notebooks that have no pair yet (only when the project asks for auto-pairing);
3. sync each pair once, however many of its files were passed;
4. clean again any notebook sync rewrote from its script;
5. validate the notebooks.

Any file written is reported so the user re-adds it; after that one ``git add`` the next
commit passes. Nothing here imports jupytext or nbformat's validator when every file is
already known clean, valid and in sync (the content-hash cache), and nothing imports the
review or run stacks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from nbkit import git
from nbkit import selection as nbpaths
from nbkit.cache import Cache
from nbkit.config import Config
from nbkit.errors import BadInput, NbkitError, shown, with_hint

if TYPE_CHECKING:
    from nbkit.pairing.paths import Pair
    from nbkit.pairing.sync import Files

NULL_SHA = "0" * 40


class HookSteps(NamedTuple):
    """Which steps a hook runs; ``pair`` is further gated by the project's auto_pair setting."""

    clean: bool = False
    pair: bool = False
    sync: bool = False
    validate: bool = False


# The hooks published in .pre-commit-hooks.yaml (`nbkit hook <name> FILES...`).
STEPS: dict[str, HookSteps] = {
    "nbkit": HookSteps(clean=True, pair=True, sync=True, validate=True),
    "clean": HookSteps(clean=True),
    "sync": HookSteps(pair=True, sync=True),
    "validate": HookSteps(validate=True),
}


class HookReport(NamedTuple):
    modified: tuple[str, ...]  # files this run wrote: the user must `git add` them
    messages: tuple[str, ...]  # one line each: problems, conflicts, bad input
    status: int  # 0 ok, 1 files changed or a check failed, 2 bad input
    # what to `git add`: the files written and the other side of each pair sync wrote to (a
    # `git commit -a` staged the edited side in a temporary index that the failed commit drops)
    to_add: tuple[str, ...] = ()


class _Run:
    """What one hook run collected; frozen into a ``HookReport`` at the end."""

    def __init__(self) -> None:
        self.modified: dict[str, None] = {}
        self.companions: dict[str, None] = {}
        self.warnings: list[str] = []  # news that changes no exit status
        self.messages: list[str] = []
        self.status = 0
        self.problem_status = 0  # the status without the files written
        self.broken: set[Path] = set()  # unreadable notebooks, left out of later steps

    def wrote(self, path: str | Path) -> None:
        self.modified[shown(path)] = None
        self.status = max(self.status, 1)

    def problem(self, message: str, status: int) -> None:
        self.messages.append(message)
        self.status = max(self.status, status)
        self.problem_status = max(self.problem_status, status)

    def error(self, exc: NbkitError, path: Path | None = None) -> None:
        self.problem(exc.one_line(), exc.exit_code)
        if path is not None:
            self.broken.add(path)

    def report(self) -> HookReport:
        companions = self.companions if _temporary_index() else {}
        to_add = tuple(dict.fromkeys([*self.modified, *companions]))
        messages = (*self.messages, *self.warnings)
        return HookReport(tuple(self.modified), messages, self.status, to_add)

    def drop_ignored(self, top: Path | None) -> None:
        """Forget written files that git ignores and does not track (the notebook of the
        jupytext set-up that commits only the script): there is nothing to re-add, and
        `git add` of them fails, so they must not fail the commit."""
        ignored = _ignored(top, list(self.modified))
        if not ignored:
            return
        for path in ignored:
            del self.modified[path]
            self.companions.pop(path, None)
            self.warnings.append(f"{path}: updated (git-ignored: nothing to commit)")
        self.status = max(self.problem_status, 1 if self.modified else 0)


def _ignored(top: Path | None, paths: list[str]) -> list[str]:
    """Those of ``paths`` (as shown, relative to the current folder) that git ignores; git
    never reports a tracked file here."""
    if top is None or not paths:
        return []
    names = b"\0".join(p.encode("utf-8", "surrogateescape") for p in paths)
    out = git.run(Path.cwd(), "check-ignore", "-z", "--stdin", input=names, check=False)
    found = {(Path.cwd() / p.decode("utf-8", "surrogateescape")).resolve() for p in _split(out)}
    return [p for p in paths if (Path.cwd() / p).resolve() in found]


def _split(out: bytes) -> list[bytes]:
    return [p for p in out.split(b"\0") if p]


def _temporary_index() -> bool:
    """Whether git runs the hook on a temporary index (``git commit -a`` or ``git commit
    PATHS``): a failed commit drops it, so the files it staged must be named to re-add. With
    the real index they are not named: after ``git add -p`` that would stage unstaged hunks."""
    index = os.environ.get("GIT_INDEX_FILE")
    return bool(index) and Path(index or "").name != "index"


def auto_pair(config: Config) -> bool:
    """Whether hooks create a paired script for a notebook that has none (``auto_pair``)."""
    value: bool = config.values("").get("auto_pair", config.values("hooks").get("auto_pair", False))
    return value


def script_suffixes(config: Config) -> set[str]:
    """File suffixes that can be the text side of a pair: the configured formats', plus .py
    and .md, which a notebook's own jupytext metadata may name."""
    from nbkit.pairing.paths import text_suffixes

    return {".py", ".md"} | text_suffixes(config.formats)


def pair_suffixes(paths: Iterable[Path], config: Config) -> set[str]:
    """``script_suffixes`` and ``.ipynb``, plus the script suffixes the pairing declared for
    ``paths`` names (a jupytext ``[formats]`` table pairing ``scripts/`` as ``R:percent``)."""
    from nbkit.pairing.paths import declared_suffixes

    return script_suffixes(config) | {".ipynb"} | declared_suffixes(paths, config)


def _unique(paths: Iterable[Path]) -> list[Path]:
    """Existing files, each once (a path given relative and found absolute is one file)."""
    seen: dict[Path, Path] = {}
    for path in paths:
        if path.exists():
            seen.setdefault(path.resolve(), path)
    return list(seen.values())


def _clean(
    notebooks: Iterable[Path], config: Config, cache: Cache, run: _Run, files: Files
) -> None:
    from nbkit.clean import clean_file

    for path in notebooks:
        if path in run.broken:
            continue
        try:
            data = files.read(path)
            if clean_file(path, config.clean, cache=cache, data=data).changed:
                files.forget(path)
                run.wrote(path)
        except NbkitError as exc:
            run.error(exc, path)


def _validate(
    notebooks: Iterable[Path], config: Config, cache: Cache, run: _Run, files: Files
) -> None:
    from nbkit.validate import validate_file

    limit = config.max_output_bytes
    for path in notebooks:
        if path in run.broken:
            continue
        try:
            data = files.read(path)
        except NbkitError as exc:
            run.error(exc, path)
            continue
        for problem in validate_file(path, max_output_bytes=limit, cache=cache, data=data):
            run.problem(str(problem), 1)


def _pairs(
    paths: Sequence[Path], config: Config, create: bool, run: _Run, files: Files
) -> dict[Path, Pair]:
    """Each pair once (keyed by its notebook), however many of its files were passed."""
    from nbkit.pairing.pair import pair_notebook
    from nbkit.pairing.paths import UnsupportedLanguage, pair_of

    pairs: dict[Path, Pair] = {}
    for path in paths:
        if path in run.broken:
            continue
        try:
            pair = pair_of(path, config, files.formats, files.language)
            if pair is None and create and path.suffix == ".ipynb":
                before = files.read(path)
                pair = pair_notebook(path, config)
                files.forget(path)
                run.wrote(pair.script)
                if files.read(path) != before:  # the pairing is recorded in its metadata
                    run.wrote(path)
        except UnsupportedLanguage as exc:  # one such notebook must not block every commit
            where = f"{shown(exc.path)}: " if exc.path else ""
            run.warnings.append(f"warning: {with_hint(where + exc.message, exc.hint)}")
            continue
        except NbkitError as exc:
            run.error(exc, path)
            continue
        if pair is not None:
            pairs.setdefault(Path(pair.notebook).absolute(), pair)
    return pairs  # pair_of already refused scripts whose notebook is neither on disk nor in HEAD


def _sync(
    pairs: Iterable[Pair],
    config: Config,
    cache: Cache,
    run: _Run,
    files: Files,
    left: str | None = None,
) -> list[Path]:
    """Sync the pairs; returns the notebooks sync rewrote (they get cleaned again)."""
    from nbkit.pairing.sync import sync_pairs

    pairs = list(pairs)
    if not pairs:
        return []
    try:
        outcomes = sync_pairs(pairs, config, cache=cache, left=left, files=files)
    except NbkitError as exc:
        run.error(exc)
        return []
    rewritten = []
    for outcome in outcomes:
        if outcome.warning:
            run.warnings.append(f"warning: {outcome.warning}")
        for written in outcome.written:  # the pipe (formatter) may write both sides
            run.wrote(written)
            is_notebook = written == outcome.pair.notebook
            other = outcome.pair.script if is_notebook else outcome.pair.notebook
            run.companions[shown(other)] = None
            if is_notebook:
                rewritten.append(written)
        if outcome.action == "conflict":
            run.problem(outcome.message, 1)
    return rewritten


def _filtered(top: Path | None, notebooks: Sequence[Path]) -> set[Path]:
    """Notebooks that git's clean filter (``nbkit install --filter``) cleans on ``git add``:
    the hook leaves their working copies, outputs and all, alone."""
    if top is None or not notebooks or not git.config_get(top, "filter.nbkit.process"):
        return set()
    rels = [git.relpath(top, p) for p in notebooks]
    fields = git.run(top, "check-attr", "-z", "filter", "--", *rels).split(b"\0")
    return {
        (top / fields[i].decode("utf-8", "surrogateescape")).resolve()
        for i in range(0, len(fields) - 2, 3)
        if fields[i + 2] == b"nbkit"
    }


def run_hook(name: str, paths: Sequence[str | Path], config: Config) -> HookReport:
    """Run the published hook ``name`` (a key of ``STEPS``) on the files pre-commit passed."""
    steps = STEPS[name]
    run = _Run()
    files = [Path(p) for p in dict.fromkeys(str(p) for p in paths)]
    managed = nbpaths.managed_filter(config)
    files = [p for p in files if managed(p)]  # never the run ledger
    for path in files:
        if not path.is_file():
            run.error(BadInput("no such file", path), path)
    notebooks = [p for p in files if p.suffix == ".ipynb" and p not in run.broken]
    top = git.toplevel(config.root)  # the cache lives in .git even if the config is deeper
    cache = Cache.for_root(top)
    from nbkit.pairing.sync import Files

    reads = Files(cache)  # each file read once by all the steps
    if steps.clean:  # what the clean filter stages is already clean: keep the outputs
        filtered = _filtered(top, notebooks)
        kept = [p for p in notebooks if p.resolve() not in filtered]
        _clean(kept, config, cache, run, reads)
    if steps.sync:
        create = steps.pair and auto_pair(config)
        pairs = _pairs(files, config, create, run, reads)
        rewritten = _sync(pairs.values(), config, cache, run, reads)
        if steps.clean:
            _clean(rewritten, config, cache, run, reads)
        notebooks = _unique([*notebooks, *(Path(shown(p.notebook)) for p in pairs.values())])
    if steps.validate:
        _validate(notebooks, config, cache, run, reads)
    cache.save()
    run.drop_ignored(top)
    return run.report()


# --- git hooks installed by `nbkit install` --------------------------------------------------


def _toplevel(config: Config) -> Path:
    top = git.toplevel(config.root)
    if top is None:
        raise BadInput("not inside a git repository", config.root)
    return top


def candidates(paths: Iterable[str], top: Path, config: Config) -> list[Path]:
    """The existing notebooks and possible paired scripts among ``paths`` (relative to the
    work tree root ``top``, as git names them)."""
    from nbkit.pairing.paths import JUPYTEXT_EXTENSIONS

    found = [top / p for p in paths]
    wanted = script_suffixes(config) | {".ipynb"}
    # Only files jupytext could pair, of a suffix not yet wanted, need their folder's
    # declared pairing looked up: a commit of .py files and notebooks looks up nothing.
    other = [p for p in found if p.suffix not in wanted and p.suffix in JUPYTEXT_EXTENSIONS]
    if other:
        wanted = pair_suffixes(other, config)
    return [p for p in found if p.suffix in wanted and p.is_file()]


def pre_commit(config: Config) -> HookReport:
    """The git pre-commit hook (no pre-commit framework): the combined hook on the staged
    versions of the staged files; unstaged work is set aside meanwhile (``hooks.staged``)."""
    from nbkit.hooks.staged import staged_view, unstaged

    top = _toplevel(config)
    files = candidates(git.staged_files(top), top, config)
    aside = unstaged(top, pair_suffixes(files, config)) if files else []
    show = {name: shown(top / name) for name in aside}
    with staged_view(top, aside, show) as guard:
        report = run_hook("nbkit", files, config)
    refused = set(guard.refused)
    modified = tuple(p for p in report.modified if p not in refused)
    messages = [
        *report.messages,
        *(
            with_hint(
                f"{path}: the hook would change its staged version, but the file has unstaged"
                " changes; nothing was changed",
                f"git add {path}, or git stash, then commit",
            )
            for path in guard.refused
        ),
    ]
    to_add = tuple(p for p in report.to_add if p not in refused)
    status = max(report.status, 1 if guard.refused else 0)
    return HookReport(modified, tuple(messages), status, to_add)


def _busy(top: Path) -> bool:
    """A rebase or bisect replays checkouts; re-syncing in the middle of one would interfere."""
    folder = git.git_dir(top, common=False)
    return any((folder / name).exists() for name in ("rebase-merge", "rebase-apply", "BISECT_LOG"))


def _names(out: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def resync(config: Config, old: str, new: str) -> HookReport:
    """Re-sync the pairs with a side changed between commits ``old`` and ``new``.

    A side is overwritten only when its cells are an agreed state of the pair: its version
    in ``old`` (the commit being left: what the user had), or the last in-step state nbkit
    wrote or saw. So the side the checkout moved is carried over to the other, and work git
    cannot see (an edited git-ignored notebook, an unadded script, an unrelated file that
    happens to sit where a script would go) is a conflict that writes nothing. Written files
    are reported (status 0); conflicts give status 1.
    """
    # A null old commit is a fresh clone or `git worktree add` (nbkit rerun makes those): the
    # files are exactly as committed, and nothing "changed" to carry over.
    if old == new or NULL_SHA in (old, new):
        return HookReport((), (), 0)
    top = _toplevel(config)
    if _busy(top):
        return HookReport((), (), 0)
    changed = _names(git.run(top, "diff", "--name-only", "-z", "--no-renames", old, new))
    managed = nbpaths.managed_filter(config)
    files = [p for p in candidates(changed, top, config) if managed(p)]  # never the ledger
    run = _Run()
    cache = Cache.for_root(top)
    from nbkit.pairing.sync import Files

    reads = Files(cache)
    pairs = list(_pairs(files, config, False, run, reads).values())
    _sync(pairs, config, cache, run, reads, left=old)
    cache.save()
    run.drop_ignored(top)
    report = run.report()  # files written after a checkout are news, not a failure
    status = report.status if report.status == 2 else int(bool(run.messages))
    return report._replace(status=status)


def post_checkout(config: Config, old: str, new: str, branch_flag: str) -> HookReport:
    """git post-checkout: only branch checkouts (flag 1), not `git checkout -- file`."""
    if branch_flag != "1":
        return HookReport((), (), 0)
    return resync(config, old, new)


def post_merge(config: Config) -> HookReport:
    """git post-merge: what the merge brought in, relative to ORIG_HEAD (HEAD before it)."""
    top = _toplevel(config)
    old = git.run(top, "rev-parse", "-q", "--verify", "ORIG_HEAD", check=False).strip()
    new = git.run(top, "rev-parse", "-q", "--verify", "HEAD", check=False).strip()
    if not old or not new:
        return HookReport((), (), 0)
    return resync(config, old.decode(), new.decode())
