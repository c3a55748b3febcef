"""Merging two branches of a 2,000-cell notebook that edited different halves.

``nbkit merge-driver`` (what git runs) against nbdime's ``nbmerge``, and ``git merge-file``
on the raw JSON as the floor (fast, but line-based: it knows nothing of cells).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from benchmarks import corpus
from benchmarks.harness import (
    Row,
    Settings,
    Target,
    command,
    exit_note,
    measure,
    measure_pair,
    nbkit_bin,
    nbkit_has,
    tool,
    unavailable,
)

FAMILY = "merge"


def _fresh_ours(source: Path, dest: Path) -> Callable[[], None]:
    def setup() -> None:
        shutil.copyfile(source, dest)

    return setup


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    cells = 500 if settings.quick else 2000
    case = f"two branches of a {cells}-cell notebook, no conflict"
    if not nbkit_has("merge-driver"):
        return [unavailable(FAMILY, case, "`nbkit merge-driver` does not exist yet")]
    folder = corpus.merge_triple(settings.corpus_root, cells)
    work = settings.work / "merge"
    work.mkdir(parents=True, exist_ok=True)
    base, ours_nb, theirs_nb = (folder / f"{n}.ipynb" for n in ("base", "ours", "theirs"))
    target = work / "ours.ipynb"
    setup = _fresh_ours(ours_nb, target)
    timeout = 60.0 if settings.quick else 180.0
    ours_cmd = command(
        "nbkit merge-driver",
        [nbkit_bin() / "nbkit", "merge-driver", base, target, theirs_nb, "nb.ipynb"],
        cwd=work,
        timeout=timeout,
    )
    rows: list[Row] = []
    nbmerge = tool("nbmerge")
    if nbmerge is None:
        ours = measure(ours_cmd, settings, setup=setup)
        rows.append(unavailable(FAMILY, f"{case}: vs nbmerge", "nbmerge (nbdime) not installed"))
    else:
        ours, theirs = measure_pair(
            ours_cmd,
            command(
                "nbmerge",
                [nbmerge, base, ours_nb, theirs_nb, "--out", work / "nbmerge.ipynb"],
                cwd=work,
                timeout=timeout,
            ),
            settings,
            setup=setup,
            warmup=True,  # bytecode compiled and caches warm on both sides before timing
        )
        rows.append(
            Row(
                FAMILY,
                f"{case}: nbkit merge-driver vs nbmerge",
                ours,
                theirs,
                Target(">= 3x", min_ratio=3),
                exit_note(ours, theirs),
            )
        )
    floor = measure(
        command(
            "git merge-file -p",
            ["git", "merge-file", "-p", ours_nb, base, theirs_nb],
            cwd=work,
            timeout=timeout,
            ok_codes=tuple(range(128)),  # the number of conflicts it left
        ),
        settings,
    )
    rows.append(
        Row(
            FAMILY,
            f"{case}: nbkit merge-driver vs git merge-file (line floor)",
            ours,
            floor,
            Target("report only"),
            f"git merge-file left conflicts (exit {floor.exit_codes[-1]})"
            if floor.exit_codes and floor.exit_codes[-1]
            else "",
        )
    )
    log(f"{FAMILY}: nbkit {ours.shown()}, floor {floor.shown()}")
    rows.append(_prose_row(settings, work, timeout, log))
    return rows


def _prose_row(settings: Settings, work: Path, timeout: float, log: Callable[[str], None]) -> Row:
    """Prose-heavy: 50 markdown cells of 1-5 KB without ids, each side editing 5% of them."""
    case = "two branches of 50 prose cells of 1-5 KB: nbkit merge-driver"
    folder = corpus.prose_triple(settings.corpus_root)
    base, ours_nb, theirs_nb = (folder / f"{n}.ipynb" for n in ("base", "ours", "theirs"))
    target = work / "prose-ours.ipynb"
    argv: list[str | Path] = [
        nbkit_bin() / "nbkit",
        "merge-driver",
        base,
        target,
        theirs_nb,
        "nb.ipynb",
    ]
    ours = measure(
        command("nbkit merge-driver", argv, cwd=work, timeout=timeout),
        settings,
        setup=_fresh_ours(ours_nb, target),
    )
    log(f"{FAMILY}: {case}: {ours.shown()}")
    return Row(FAMILY, case, ours, None, Target("< 1 s", max_s=1.0))
