"""The commit: five paired notebooks with outputs go through real ``git commit`` + pre-commit.

Each side is configured as its documentation says, as ``repo: local`` hooks with
``additional_dependencies`` (pre-commit builds each hook's environment itself, from the
package index; nbkit's from this checkout): nbkit's one ``nbkit`` hook against jupytext's
hook (``jupytext --pre-commit-mode`` with ``args: [--sync]``) followed by nbstripout's. The
notebooks are real ones with outputs (see ``benchmarks/real-notebooks``), paired with
``py:percent`` scripts by ``jupytext.toml``.

- **edit**: one code cell edited and re-run in each notebook, the notebooks staged, the
  scripts stale. ``git commit`` fails while a hook rewrites files; the user re-adds them and
  commits again, until it passes. Rows: the hook alone (its entry point from pre-commit's
  environment, on the staged files, as pre-commit would call it) and the whole commit.
- **no-op**: the state that edit commit ended in (clean, in sync) staged again: nothing to do.
- **loaded**: the no-op hook alone at the current load and under a synthetic load (two
  busy-loop processes started here and stopped after), with the load averages.

Every timed run starts from the same state (``git reset --hard`` to the committed originals,
then the files of the case). Both sides alternate, each warmed once first.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from benchmarks import corpus, tools
from benchmarks.harness import (
    GIT_ENV,
    REPO_ROOT,
    Command,
    Measurement,
    Row,
    Settings,
    Target,
    base_env,
    command,
    measure_pair,
    unavailable,
)

FAMILY = "commit"
EDIT_TARGET = Target(">= 5x (issue 15)", min_ratio=5)
NOOP_TARGET = Target(">= 10x (issue 15)", min_ratio=10)
ATTEMPTS = 4  # a commit that has not passed after this many is a failure, not a timing

NBKIT_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: nbkit
        name: "nbkit (pair, sync, clean and validate notebooks)"
        entry: "nbkit hook nbkit"
        language: python
        additional_dependencies: ["{nbkit}"]
        types_or: [jupyter, python, markdown]
        require_serial: true
"""
# jupytext's and nbstripout's published hooks (their .pre-commit-hooks.yaml), as their
# READMEs configure them, with the package pinned where a git URL would pin a rev.
ANCHOR_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: jupytext
        name: jupytext
        entry: jupytext --pre-commit-mode
        language: python
        additional_dependencies: ["{jupytext}"]
        types_or: [jupyter, markdown, python]
        require_serial: true
        args: [--sync]
      - id: nbstripout
        name: nbstripout
        entry: nbstripout
        language: python
        additional_dependencies: ["{nbstripout}"]
        types: [jupyter]
"""
# Commit; on failure re-add what the hooks rewrote and commit again, as a user does.
COMMIT_LOOP = (
    f'for i in $(seq {ATTEMPTS}); do echo "$i" > "$NBKIT_BENCH_ATTEMPTS"; '
    "git commit -q -m bench && exit 0; git add -A; done; exit 1"
)


class Side(NamedTuple):
    label: str
    repo: Path
    base: str  # the originals, committed through this side's hooks
    fixed: str  # what the edit commit left once it passed (the no-op case stages it again)
    edit_attempts: int
    hooks: tuple[tuple[str, tuple[str, ...]], ...]  # (executable, its args) from pre-commit's envs
    env: dict[str, str]


def _run(argv: list[str], repo: Path, env: dict[str, str], timeout: float = 1800) -> str:
    proc = subprocess.run(
        argv, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise RuntimeError(f"{' '.join(argv[:3])} failed in {repo.name}: {' / '.join(tail)}")
    return proc.stdout.strip()


def _commit_until_passes(repo: Path, env: dict[str, str]) -> int:
    attempts = repo.parent / f"{repo.name}.attempts"
    _run(["sh", "-c", COMMIT_LOOP], repo, {**env, "NBKIT_BENCH_ATTEMPTS": str(attempts)})
    return int(attempts.read_text())


def _hook_env(home: Path, executable: str) -> Path:
    """The executable inside the environment pre-commit built for a hook."""
    found = sorted(home.glob(f"repo*/py_env-*/bin/{executable}"))
    if not found:
        raise RuntimeError(f"pre-commit built no environment with {executable}")
    return found[0]


def _prepare(
    label: str,
    config: str,
    hooks: tuple[tuple[str, tuple[str, ...]], ...],
    source: Path,
    settings: Settings,
) -> Side:
    """A repository whose commits go through ``config``; the originals committed through it."""
    slug = label.split()[0]
    repo = settings.work / f"commit-{slug}"
    home = settings.work / f"pre-commit-home-{slug}"  # one a side: its envs are its own
    env = {**base_env(settings), **GIT_ENV, "PRE_COMMIT_HOME": str(home)}
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    shutil.copyfile(source / "jupytext.toml", repo / "jupytext.toml")
    (repo / ".pre-commit-config.yaml").write_text(config)
    pre_commit = str(tools.tool("pre-commit"))
    _run(["git", "init", "-q", "-b", "main"], repo, env)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-q", "--no-verify", "-m", "config"], repo, env)
    _run([pre_commit, "install"], repo, env)
    _run([pre_commit, "install-hooks"], repo, env)  # builds the hook environments
    for path in sorted((source / "original").glob("*.ipynb")):
        shutil.copyfile(path, repo / path.name)
    _run(["git", "add", "-A"], repo, env)
    _commit_until_passes(repo, env)
    base = _run(["git", "rev-parse", "HEAD"], repo, env)
    _stage_edit(repo, source, base, env)
    attempts = _commit_until_passes(repo, env)
    fixed = _run(["git", "rev-parse", "HEAD"], repo, env)
    resolved = tuple((str(_hook_env(home, exe)), args) for exe, args in hooks)
    return Side(label, repo, base, fixed, attempts, resolved, env)


def _stage_edit(repo: Path, source: Path, base: str, env: dict[str, str]) -> None:
    _run(["git", "reset", "-q", "--hard", base], repo, env)
    for path in sorted((source / "edited").glob("*.ipynb")):
        shutil.copyfile(path, repo / path.name)
    _run(["git", "add", "-A"], repo, env)


def _stage_noop(side: Side) -> None:
    _run(["git", "reset", "-q", "--hard", side.base], side.repo, side.env)
    _run(["git", "checkout", side.fixed, "--", "."], side.repo, side.env)


def _staged(side: Side) -> list[str]:
    out = _run(["git", "diff", "--cached", "--name-only"], side.repo, side.env)
    return [line for line in out.splitlines() if line.endswith((".ipynb", ".py"))]


def _hook_command(side: Side, files: list[str]) -> Command:
    """The side's hooks as pre-commit calls them: entry, args, then the files of its types."""
    argvs = []
    for exe, args in side.hooks:
        jupyter_only = exe.endswith("nbstripout")
        names = [f for f in files if f.endswith(".ipynb") or not jupyter_only]
        argvs.append([exe, *args, *names])
    # A hook that rewrote files fails the commit with a non-zero code (jupytext's is the
    # number of files it changed): an answer, not a crash.
    return command(
        f"{side.label} hook", *argvs, cwd=side.repo, env=side.env, ok_codes=tuple(range(128))
    )


def _commit_command(side: Side) -> Command:
    attempts = str(side.repo.parent / f"{side.repo.name}.attempts")
    return command(
        f"{side.label}: git commit until it passes",
        ["sh", "-c", COMMIT_LOOP],
        cwd=side.repo,
        env={**side.env, "NBKIT_BENCH_ATTEMPTS": attempts},
        ok_codes=(0,),
    )


def _setup(stage: Callable[[], None]) -> Callable[[], None]:
    def setup() -> None:
        stage()
        os.sync()  # the copies' write-back must not land inside the timed run

    return setup


@contextlib.contextmanager
def busy(processes: int = 2) -> Iterator[list[subprocess.Popen[bytes]]]:
    """A synthetic load: ``processes`` busy loops, each pinned to a core in turn (on two cores,
    both are busy whatever the scheduler prefers), stopped by their own pids on exit."""
    cores = sorted(os.sched_getaffinity(0))
    loops = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"],
            # pinned in the child before exec: pinned once Popen returns
            preexec_fn=functools.partial(os.sched_setaffinity, 0, {cores[k % len(cores)]}),
        )
        for k in range(processes)
    ]
    try:
        yield loops
    finally:
        for proc in loops:
            proc.kill()
            proc.wait()


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    case = "5 paired real notebooks with outputs"
    missing = [n for n in ("pre-commit", "jupytext", "nbstripout") if not tools.installed(n)]
    if missing:
        why = f"{', '.join(missing)} venv missing (run without --no-install)"
        return [unavailable(FAMILY, case, why, EDIT_TARGET)]
    source = corpus.commit_set(settings.corpus_root)
    pins = {n: tools.ANCHORS[n].packages[0] for n in ("jupytext", "nbstripout")}
    log(f"{FAMILY}: building both sides' hook environments with pre-commit")
    ours = _prepare(
        "nbkit",
        NBKIT_CONFIG.format(nbkit=REPO_ROOT),
        (("nbkit", ("hook", "nbkit")),),
        source,
        settings,
    )
    theirs = _prepare(
        "jupytext + nbstripout",
        ANCHOR_CONFIG.format(**pins),
        (("jupytext", ("--pre-commit-mode", "--sync")), ("nbstripout", ())),
        source,
        settings,
    )
    rows = _edit_rows(ours, theirs, source, settings, log)
    rows += _noop_rows(ours, theirs, settings, log)
    rows += _loaded_rows(ours, theirs, settings, log)
    return rows


def _edit_rows(
    ours: Side, theirs: Side, source: Path, settings: Settings, log: Callable[[str], None]
) -> list[Row]:
    def stage(side: Side) -> Callable[[], None]:
        return _setup(lambda: _stage_edit(side.repo, source, side.base, side.env))

    stage(ours)()
    files = _staged(ours)
    hook, their_hook = measure_pair(
        _hook_command(ours, files),
        _hook_command(theirs, files),
        settings,
        setup=stage(ours),
        second_setup=stage(theirs),
        warmup=True,
    )
    commit, their_commit = measure_pair(
        _commit_command(ours),
        _commit_command(theirs),
        settings,
        setup=stage(ours),
        second_setup=stage(theirs),
        warmup=True,
    )
    tries = (
        f"attempts until the commit passed: nbkit {ours.edit_attempts}, "
        f"jupytext + nbstripout {theirs.edit_attempts}"
    )
    log(
        f"{FAMILY}: edit: hook {hook.shown()} vs {their_hook.shown()}; "
        f"commit {commit.shown()} vs {their_commit.shown()} ({tries})"
    )
    name = "5 paired real notebooks with outputs, one cell edited in each"
    return [
        Row(
            FAMILY,
            f"{name}: the hook alone",
            hook,
            their_hook,
            EDIT_TARGET,
            "the first attempt: scripts to sync, outputs to strip (both sides rewrite files)",
        ),
        Row(
            FAMILY,
            f"{name}: git commit until it passes",
            commit,
            their_commit,
            Target("report only"),
            tries,
        ),
    ]


def _noop_rows(
    ours: Side, theirs: Side, settings: Settings, log: Callable[[str], None]
) -> list[Row]:
    _stage_noop(ours)
    hook, their_hook = measure_pair(
        _hook_command(ours, _staged(ours)),
        _hook_command(theirs, _staged(ours)),
        settings,
        setup=_setup(lambda: _stage_noop(ours)),
        second_setup=_setup(lambda: _stage_noop(theirs)),
        warmup=True,
    )
    commit, their_commit = measure_pair(
        _commit_command(ours),
        _commit_command(theirs),
        settings,
        setup=_setup(lambda: _stage_noop(ours)),
        second_setup=_setup(lambda: _stage_noop(theirs)),
        warmup=True,
    )
    log(
        f"{FAMILY}: no-op: hook {hook.shown()} vs {their_hook.shown()}; "
        f"commit {commit.shown()} vs {their_commit.shown()}"
    )
    name = "5 paired real notebooks, already clean and in sync (no-op)"
    return [
        Row(
            FAMILY,
            f"{name}: the hook alone",
            hook,
            their_hook,
            NOOP_TARGET,
            _exit_codes(hook, their_hook),
        ),
        Row(
            FAMILY,
            f"{name}: git commit",
            commit,
            their_commit,
            Target("report only"),
            "passes at the first attempt on both sides; pre-commit's own start-up included",
        ),
    ]


def _exit_codes(*measurements: Measurement) -> str:
    odd = [
        f"{m.label} exited {sorted(set(m.exit_codes))}"
        for m in measurements
        if set(m.exit_codes) - {0}
    ]
    return "; ".join(odd)


def _loaded_rows(
    ours: Side, theirs: Side, settings: Settings, log: Callable[[str], None]
) -> list[Row]:
    """The no-op hook at the current load, then under two busy loops (issue 15, item 5)."""
    _stage_noop(ours)
    files = _staged(ours)
    rows = []
    for loaded in (False, True):
        with busy() if loaded else contextlib.nullcontext():
            before = tools.load_average()
            hook, their_hook = measure_pair(
                _hook_command(ours, files),
                _hook_command(theirs, files),
                settings,
                setup=_setup(lambda: _stage_noop(ours)),
                second_setup=_setup(lambda: _stage_noop(theirs)),
                warmup=True,
                repeat=settings.repeat * 2,
            )
            after = tools.load_average()
        what = "two busy-loop processes beside it" if loaded else "the current load"
        log(
            f"{FAMILY}: no-op hook under {what}: {hook.shown()} vs {their_hook.shown()} "
            f"(load {before} -> {after})"
        )
        rows.append(
            Row(
                FAMILY,
                f"no-op hook (real entry point), under {what}",
                hook,
                their_hook,
                Target("report only"),
                f"load average (1, 5, 15 min) {before} -> {after}",
            )
        )
    return rows
