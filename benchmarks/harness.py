"""Timing whole processes (what a user waits for) and the rows of the results table.

Each measurement runs a command N times with ``subprocess`` and ``time.perf_counter``, with an
untimed ``setup`` before every run (restore a folder, delete a cache) and reports the median.
A row compares nbkit with the tool a user would use instead, as a ratio of medians; the two
sides of a row are measured alternately (A B A B ...: ``measure_pair``), so a change in the
machine's load during the row falls on both sides alike.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"  # the dev venv: tests, kernels, the benchmark itself


def nbkit_bin() -> Path:
    """Where the timed ``nbkit`` (and its floor's ``python``) come from: this checkout in its
    own minimal venv (``tools.ANCHORS["nbkit"]``), as a user installs it, once built; the dev
    venv only before that (``--no-install``), and the page's Machine section says which."""
    from benchmarks import tools  # tools imports this module

    return tools.nbkit_venv_bin()


class Command(NamedTuple):
    """One command line, or several run one after the other (a commit runs two hooks)."""

    label: str
    argvs: tuple[tuple[str, ...], ...]
    cwd: Path | None = None
    env: dict[str, str] | None = None
    timeout: float = 600.0
    ok_codes: tuple[int, ...] = (0, 1)  # 1 is "check failed", a normal answer for these tools


def command(
    label: str,
    *argvs: Sequence[str | Path],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
    ok_codes: tuple[int, ...] = (0, 1),
) -> Command:
    argv_tuples = tuple(tuple(str(a) for a in argv) for argv in argvs)
    return Command(label, argv_tuples, cwd, env, timeout, ok_codes)


class Measurement(NamedTuple):
    label: str
    seconds: tuple[float, ...]  # one per timed run
    exit_codes: tuple[int, ...]  # of the last command line of each run
    timed_out: bool = False
    timeout: float = 0.0
    error: str = ""  # the command failed (exit code not expected): no time to show

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    def shown(self) -> str:
        if self.error:
            return "failed"
        if self.timed_out:
            return f">{self.timeout:g} s"
        return format_seconds(self.median)


def exit_note(*measurements: Measurement) -> str:
    """Tools that did not answer "nothing to do" (exit 0) are named: not like for like."""
    odd = [
        f"{m.label} exited {sorted(set(m.exit_codes))}"
        for m in measurements
        if set(m.exit_codes) - {0}
    ]
    return "; ".join(odd)


def format_seconds(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


@dataclass(frozen=True)
class Settings:
    """One benchmark run: how many repeats, quick or full, where the corpus and tools live."""

    repeat: int = 5
    quick: bool = False
    corpus_root: Path = Path(__file__).resolve().parent / ".corpus"
    work: Path = Path("/tmp")
    budget_s: float = 60.0  # stop repeating a command once it has used this much (min 3 runs)


def base_env(settings: Settings) -> dict[str, str]:
    """The environment of benchmarked commands: bytecode caches on, as in users' installs.

    pip compiles bytecode when it installs; a shell that sets PYTHONDONTWRITEBYTECODE (as
    some CI and sandbox shells do) would make every Python tool recompile its imports on
    each start. Caches stay where Python puts them (``__pycache__`` beside the sources, as
    for users); every row warms each side once, so nothing timed compiles.
    """
    del settings  # every command gets the same environment whatever the run
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",
                                                              "PYTHONPYCACHEPREFIX")}
    return env


def _run_once(cmd: Command, base: dict[str, str]) -> tuple[float, int, bool]:
    env = {**base, **(cmd.env or {})}
    start = time.perf_counter()
    code = 0
    for argv in cmd.argvs:
        remaining = cmd.timeout - (time.perf_counter() - start)
        try:
            proc = subprocess.run(
                argv,
                cwd=cmd.cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=max(remaining, 0.01),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return time.perf_counter() - start, -1, True
        code = proc.returncode
        if code not in cmd.ok_codes:
            last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise BenchError(f"{cmd.label}: {' '.join(argv[:3])}... exit {code}: {last}")
    return time.perf_counter() - start, code, False


class BenchError(Exception):
    """A benchmarked command failed: the row reports it instead of a time."""


def measure(
    cmd: Command,
    settings: Settings,
    *,
    setup: Callable[[], None] | None = None,
    warmup: bool = False,
    repeat: int | None = None,
) -> Measurement:
    """Median of repeated whole-process runs; a timeout ends the measurement (``>T s``), a
    failing command ends it with ``error`` set (the row then says so instead of a ratio)."""
    try:
        return _measure(cmd, settings, setup, warmup, repeat or settings.repeat)
    except BenchError as exc:
        return Measurement(cmd.label, (), (), error=str(exc))


def measure_pair(
    first: Command,
    second: Command,
    settings: Settings,
    *,
    setup: Callable[[], None] | None = None,
    second_setup: Callable[[], None] | None = None,
    warmup: bool = False,
    repeat: int | None = None,
) -> tuple[Measurement, Measurement]:
    """Both sides of a row, run alternately (A B A B ...), each as ``measure`` would. ``setup``
    runs before every run of either side unless ``second_setup`` is given for the second."""
    a, b = measure_together(
        [(first, setup), (second, second_setup or setup)], settings, warmup=warmup, repeat=repeat
    )
    return a, b


def measure_together(
    sides: Sequence[tuple[Command, Callable[[], None] | None]],
    settings: Settings,
    *,
    warmup: bool = False,
    repeat: int | None = None,
) -> list[Measurement]:
    """Several commands (with their setups) measured round-robin: A B C A B C ..."""
    samplers = [_Sampler(cmd, setup) for cmd, setup in sides]
    base = base_env(settings)
    if warmup:
        for sampler in samplers:
            sampler.warm(base)
    wanted = repeat or settings.repeat
    while any(s.more(wanted, settings.budget_s) for s in samplers):
        for sampler in samplers:
            if sampler.more(wanted, settings.budget_s):
                sampler.once(base)
    return [sampler.result() for sampler in samplers]


class _Sampler:
    """One side of ``measure_pair``: its runs so far and whether it is done."""

    def __init__(self, cmd: Command, setup: Callable[[], None] | None) -> None:
        self.cmd, self.setup = cmd, setup
        self.seconds: list[float] = []
        self.codes: list[int] = []
        self.timed_out = False
        self.error = ""

    def warm(self, base: dict[str, str]) -> None:
        if self.setup:
            self.setup()
        try:
            self.timed_out = _run_once(self.cmd, base)[2]
        except BenchError as exc:
            self.error = str(exc)

    def once(self, base: dict[str, str]) -> None:
        if self.setup:
            self.setup()
        try:
            elapsed, code, self.timed_out = _run_once(self.cmd, base)
        except BenchError as exc:
            self.error = str(exc)
            return
        if not self.timed_out:
            self.seconds.append(elapsed)
            self.codes.append(code)

    def more(self, wanted: int, budget_s: float) -> bool:
        if self.error or self.timed_out or len(self.seconds) >= wanted:
            return False
        spent = sum(self.seconds)
        if len(self.seconds) >= min(3, wanted) and spent > budget_s:
            return False
        return spent <= 3 * budget_s  # one very slow run is enough to make the point

    def result(self) -> Measurement:
        if self.error:
            return Measurement(self.cmd.label, (), (), error=self.error)
        return Measurement(
            self.cmd.label,
            tuple(self.seconds),
            tuple(self.codes),
            self.timed_out,
            self.cmd.timeout if self.timed_out else 0.0,
        )


def _measure(
    cmd: Command,
    settings: Settings,
    setup: Callable[[], None] | None,
    warmup: bool,
    wanted: int,
) -> Measurement:
    base = base_env(settings)
    if warmup:
        if setup:
            setup()
        _, _, timed_out = _run_once(cmd, base)
        if timed_out:
            return Measurement(cmd.label, (), (), True, cmd.timeout)
    seconds: list[float] = []
    codes: list[int] = []
    while len(seconds) < wanted:
        if setup:
            setup()
        elapsed, code, timed_out = _run_once(cmd, base)
        if timed_out:
            return Measurement(cmd.label, tuple(seconds), tuple(codes), True, cmd.timeout)
        seconds.append(elapsed)
        codes.append(code)
        spent = sum(seconds)
        if len(seconds) >= min(3, wanted) and spent > settings.budget_s:
            break
        if spent > 3 * settings.budget_s:  # one very slow run is enough to make the point
            break
    return Measurement(cmd.label, tuple(seconds), tuple(codes))


@dataclass(frozen=True)
class Target:
    """What a row should show: nbkit at least ``min_ratio`` times faster, or within ``max_s``."""

    text: str
    min_ratio: float | None = None
    max_s: float | None = None


@dataclass
class Row:
    family: str
    case: str
    subject: Measurement | None  # nbkit
    reference: Measurement | None  # the tool (or floor) it is compared with
    target: Target = field(default_factory=lambda: Target("-"))
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """reference / nbkit: above 1 means nbkit is faster."""
        if self.subject is None or self.reference is None or not self.subject.seconds:
            return None
        if self.reference.error or (not self.reference.seconds and not self.reference.timed_out):
            return None
        ref = self.reference.timeout if self.reference.timed_out else self.reference.median
        return ref / self.subject.median if self.subject.median > 0 else None

    def shown_ratio(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        prefix = ">" if self.reference is not None and self.reference.timed_out else ""
        return f"{prefix}{ratio:.1f}x" if ratio >= 1 else f"{prefix}{ratio:.2f}x"

    def met(self) -> bool | None:
        """Whether the target is met (None when there is nothing to judge)."""
        if self.subject is None or not self.subject.seconds:
            return None
        checks: list[bool] = []
        if self.target.min_ratio is not None:
            ratio = self.ratio
            if ratio is None:
                return None
            checks.append(ratio >= self.target.min_ratio)
        if self.target.max_s is not None:
            checks.append(self.subject.median <= self.target.max_s)
        return all(checks) if checks else None


def unavailable(family: str, case: str, why: str, target: Target | None = None) -> Row:
    return Row(family, case, None, None, target or Target("-"), f"not available: {why}")


def nbkit_has(command_name: str, option: str | None = None) -> bool:
    """Whether this checkout's nbkit has a command (and option): its ``--help`` exits 0."""
    proc = subprocess.run(
        [str(nbkit_bin() / "nbkit"), command_name, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return False
    return option is None or option in proc.stdout


def tool(name: str) -> Path | None:
    """An anchor's executable from its own minimal venv (``benchmarks/.tools``), or None."""
    from benchmarks import tools  # tools imports this module

    return tools.tool(name)


# Benchmarks run git with a fixed identity and without the user's hooks or templates.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@nbkit.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@nbkit.invalid",
    "GIT_TEMPLATE_DIR": "",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def restore_tree(source: Path, dest: Path) -> Callable[[], None]:
    """A setup step: ``dest`` gets a fresh copy of ``source``'s files; its ``.git`` stays."""

    def setup() -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for entry in dest.iterdir():
            if entry.name == ".git":
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        shutil.copytree(
            source, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete")
        )
        # Flush the copy now: left dirty, its write-back would land inside the timed run and
        # slow down whichever tool calls fsync (nbkit does, on every file it rewrites).
        os.sync()

    return setup


def committed_repo(source: Path, dest: Path) -> Path:
    """A fresh git repository at ``dest`` holding ``source``'s files, all committed."""
    if dest.exists():
        shutil.rmtree(dest)
    restore_tree(source, dest)()
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--no-verify", "-m", "corpus")
    return dest
