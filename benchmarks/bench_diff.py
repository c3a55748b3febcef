"""``nbkit diff`` against nbdime's ``nbdiff`` on one notebook and its edited version.

20, 200 and 2,000 cells, with cell ids (cells match by id) and without (cells must be
matched by content, which is where diff tools slow down). nbdiff is stopped at a timeout
and reported as ``>T s`` rather than waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks import corpus
from benchmarks.harness import (
    Row,
    Settings,
    Target,
    command,
    measure_pair,
    nbkit_bin,
    nbkit_has,
    tool,
    unavailable,
)

FAMILY = "diff"
TARGET = Target(">= 3x", min_ratio=3)


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    sizes = (20, 200) if settings.quick else (20, 200, 2000)
    timeout = 30.0 if settings.quick else 120.0
    nbdiff = tool("nbdiff")
    rows: list[Row] = []
    for cells in sizes:
        for ids in (True, False):
            case = f"{cells} cells, {'with' if ids else 'without'} cell ids: nbkit diff vs nbdiff"
            if not nbkit_has("diff"):
                rows.append(unavailable(FAMILY, case, "`nbkit diff` does not exist yet", TARGET))
                continue
            if nbdiff is None:
                rows.append(unavailable(FAMILY, case, "nbdiff (nbdime) not installed", TARGET))
                continue
            a, b = corpus.diff_pair(settings.corpus_root, cells, ids)
            ours, theirs = measure_pair(
                command(
                    "nbkit diff",
                    [nbkit_bin() / "nbkit", "diff", "--no-color", a, b],
                    timeout=timeout,
                ),
                command("nbdiff", [nbdiff, "--no-color", a, b], timeout=timeout),
                settings,
                warmup=cells < 2000,
            )
            rows.append(Row(FAMILY, case, ours, theirs, TARGET))
            log(f"{FAMILY}: {case}: {ours.shown()} vs {theirs.shown()}")
    if nbkit_has("diff") and nbdiff is not None:
        rows.append(_prose_row(settings, nbdiff, timeout, log))
    return rows


def _prose_row(settings: Settings, nbdiff: Path, timeout: float, log: Callable[[str], None]) -> Row:
    """Prose-heavy: 50 markdown cells of 1-5 KB without ids, 10% lightly edited."""
    case = "50 prose cells of 1-5 KB, 10% edited: nbkit diff vs nbdiff"
    a, b = corpus.prose_pair(settings.corpus_root)
    argv: list[str | Path] = [nbkit_bin() / "nbkit", "diff", "--no-color", a, b]
    ours, theirs = measure_pair(
        command("nbkit diff", argv, timeout=timeout),
        command("nbdiff", [nbdiff, "--no-color", a, b], timeout=timeout),
        settings,
        warmup=True,
    )
    log(f"{FAMILY}: {case}: {ours.shown()} vs {theirs.shown()}")
    return Row(FAMILY, case, ours, theirs, Target("< 0.5 s", max_s=0.5))
