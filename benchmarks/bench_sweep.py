"""Sweep throughput: 16 runs of the 5-cell notebook by ``nbkit sweep`` with 1 and 2 local
workers, against 16 ``papermill`` runs one after the other (what a shell loop does)."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.bench_run import experiment_repo
from benchmarks.harness import (
    Row,
    Settings,
    Target,
    command,
    measure,
    nbkit_bin,
    nbkit_has,
    tool,
    unavailable,
)

FAMILY = "sweep"


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
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
    theirs = measure(
        command(f"{runs} x papermill, sequential", *loop, cwd=repo, timeout=1800),
        settings,
        repeat=1,  # 16 kernel runs a measurement: one is what the budget allows
    )
    rows: list[Row] = []
    for workers, target in (
        (1, Target(">= 1x", min_ratio=1)),
        (2, Target(">= 1.5x", min_ratio=1.5)),
    ):
        ours = measure(
            command(
                f"nbkit sweep --workers {workers}",
                [
                    nbkit_bin() / "nbkit",
                    "sweep",
                    "nb.ipynb",
                    "-p",
                    f"n={values}",
                    "--workers",
                    str(workers),
                ],
                cwd=repo,
                timeout=1800,
            ),
            settings,
            repeat=1,  # 16 kernel runs a measurement: one is what the budget allows
        )
        rows.append(
            Row(
                FAMILY,
                f"{case}: nbkit sweep, {workers} worker(s) vs sequential papermill",
                ours,
                theirs,
                target,
            )
        )
        log(f"{FAMILY}: {workers} worker(s) {ours.shown()}, papermill loop {theirs.shown()}")
    return rows
