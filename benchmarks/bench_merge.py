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
    VENV_BIN,
    Row,
    Settings,
    Target,
    command,
    exit_note,
    measure,
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
    ours = measure(
        command(
            "nbkit merge-driver",
            [VENV_BIN / "nbkit", "merge-driver", base, target, theirs_nb, "nb.ipynb"],
            cwd=work,
            timeout=timeout,
        ),
        settings,
        setup=setup,
    )
    rows: list[Row] = []
    nbmerge = tool("nbmerge")
    if nbmerge is None:
        rows.append(unavailable(FAMILY, f"{case}: vs nbmerge", "nbmerge (nbdime) not installed"))
    else:
        theirs = measure(
            command(
                "nbmerge",
                [nbmerge, base, ours_nb, theirs_nb, "--out", work / "nbmerge.ipynb"],
                cwd=work,
                timeout=timeout,
            ),
            settings,
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
    return rows
