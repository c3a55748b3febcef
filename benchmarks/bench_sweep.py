"""Sweeps: throughput of ``nbkit sweep`` against a loop of ``papermill`` calls, and what the
sweep's snapshot costs on a 50 MB repository.

- 16 runs of the 5-cell notebook by ``nbkit sweep`` with 1 and 2 local workers, against 16
  ``papermill`` runs one after the other (what a shell loop does); the three are measured
  round-robin so the machine's load falls on each alike.
- The snapshot a sweep takes once (``git archive`` of the commit, the inputs' tar, pickled
  for the upload) against ``git archive`` alone; and running 8 points from it, each in its
  own checkout (a link farm over the tree kept by the worker) against unpacking the
  archive for every point (what workers did before the cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_run import experiment_repo
from benchmarks.harness import (
    Row,
    Settings,
    Target,
    command,
    git,
    measure_pair,
    measure_together,
    nbkit_bin,
    nbkit_has,
    tool,
    unavailable,
)

FAMILY = "sweep"
SNAPSHOT_MB = 50

START = """
from pathlib import Path
from nbkit import git
from nbkit.runs import snapshot as snap
git.run(Path.cwd(), "rev-parse", "HEAD")
"""
# Takes the snapshot a sweep takes at submit (commit, no patch, no inputs) and pickles it as
# the upload does; then, with an argument, runs that many points' checkouts.
SNAPSHOT = """
import pickle, sys, tempfile, types
from pathlib import Path
from nbkit import git
from nbkit.runs import snapshot as snap
root = Path.cwd()
base = types.SimpleNamespace(git={"commit": git.run(root, "rev-parse", "HEAD").decode().strip(),
                                  "patch": b""}, inputs=())
taken = snap.take(root, base, root / ".nbkit" / "runs")
data = pickle.dumps(taken, protocol=pickle.HIGHEST_PROTOCOL)
points, how = (int(sys.argv[1]), sys.argv[2]) if len(sys.argv) > 2 else (0, "")
for _ in range(points):
    with tempfile.TemporaryDirectory() as tmp:
        if how == "unpack":
            snap.unpack(taken, Path(tmp) / "project")
        else:
            with snap.checkout(taken, Path(tmp) / "project"):
                pass
"""


def big_repo(work: Path, megabytes: int = SNAPSHOT_MB) -> Path:
    """A committed repository of ``megabytes`` MB in 500 files (random: incompressible)."""
    repo = work / f"repo-{megabytes}mb"
    if (repo / ".git").is_dir():
        return repo
    count = 500
    size = megabytes * 1_000_000 // count
    for index in range(count):
        folder = repo / f"pkg{index // 25}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part{index}.bin").write_bytes(os.urandom(size))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "data")
    return repo


def _throughput(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    runs = 4 if settings.quick else 16
    case = f"{runs} runs of a 5-cell notebook"
    papermill = tool("papermill")
    if not nbkit_has("sweep", "--workers"):
        return [unavailable(FAMILY, case, "`nbkit sweep --workers` does not exist yet")]
    if papermill is None:
        return [unavailable(FAMILY, case, "papermill not installed")]
    repo = experiment_repo(settings.work)
    values = ",".join(str(v) for v in range(1, runs + 1))
    loop = [
        [papermill, "--kernel", "python3", "nb.ipynb", f"out{v}.ipynb", "-p", "n", str(v)]
        for v in range(1, runs + 1)
    ]
    sweeps = [
        command(
            f"nbkit sweep --workers {workers}",
            [nbkit_bin() / "nbkit", "sweep", "nb.ipynb", "-p", f"n={values}", "--workers", workers],
            cwd=repo,
            timeout=1800,
        )
        for workers in ("1", "2")
    ]
    theirs, one, two = measure_together(
        [(command(f"{runs} x papermill, sequential", *loop, cwd=repo, timeout=1800), None)]
        + [(sweep, None) for sweep in sweeps],
        settings,
        repeat=1 if settings.quick else 2,  # 16 kernel runs a measurement: the budget's limit
    )
    log(f"{FAMILY}: 1 worker {one.shown()}, 2 workers {two.shown()}, papermill {theirs.shown()}")
    return [
        Row(
            FAMILY,
            f"{case}: nbkit sweep, {workers} worker(s) vs sequential papermill",
            ours,
            theirs,
            target,
        )
        for workers, ours, target in (
            (1, one, Target(">= 1x", min_ratio=1)),
            (2, two, Target(">= 3x", min_ratio=3)),
        )
    ]


def _snapshot(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    megabytes = 10 if settings.quick else SNAPSHOT_MB
    case = f"snapshot of a {megabytes} MB repository"
    if not nbkit_has("sweep", "--resume"):
        return [unavailable(FAMILY, case, "sweeps take no snapshot yet")]
    repo = big_repo(settings.work, megabytes)
    python = nbkit_bin() / "python"
    # the same process without the snapshot: what starting Python and importing costs, so
    # the target is on the snapshot's own overhead (a sweep's process is already running)
    taken, started, archive = measure_together(
        [
            (command("take + pickle the snapshot", [python, "-c", SNAPSHOT], cwd=repo), None),
            (command("python + imports only", [python, "-c", START], cwd=repo), None),
            (
                command(
                    "git archive > /dev/null",
                    ["sh", "-c", "git archive --format=tar HEAD > /dev/null"],
                    cwd=repo,
                ),
                None,
            ),
        ],
        settings,
        warmup=True,
    )
    points = 8
    cached, unpacked = measure_pair(
        command(
            f"{points} checkouts (kept tree)",
            [python, "-c", SNAPSHOT, str(points), "link"],
            cwd=repo,
        ),
        command(f"{points} unpacks", [python, "-c", SNAPSHOT, str(points), "unpack"], cwd=repo),
        settings,
        warmup=True,
    )
    overhead = taken.median - started.median
    log(
        f"{FAMILY}: snapshot {taken.shown()}, process start {started.shown()} "
        f"(overhead {overhead:.2f} s; git archive {archive.shown()}); "
        f"{points} points: kept tree {cached.shown()}, unpack each {unpacked.shown()}"
    )
    return [
        Row(
            FAMILY,
            f"{case}: take (archive, pickle for the upload) vs git archive alone",
            taken,
            archive,
            # the process start (imports) is not the sweep's: the target is 1 s above it
            Target(
                f"< 1 s above process start ({started.shown()})",
                max_s=1.0 + started.median if started.seconds else 1.0,
            ),
            note=f"overhead above process start: {overhead:.2f} s",
        ),
        Row(
            FAMILY,
            f"{case}, then {points} points' private copies: kept tree + link farm vs "
            "unpacking every point",
            cached,
            unpacked,
            Target(">= 2x", min_ratio=2),
        ),
    ]


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    return _snapshot(settings, log) + _throughput(settings, log)
