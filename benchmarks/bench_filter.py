"""The git clean filter: ``git add`` of 200 executed notebooks in a fresh repository.

Without a filter git only hashes the files (the floor); with ``nbkit install --filter`` one
long-running ``nbkit filter-process`` cleans them all; nbstripout's filter starts one Python
process per file. Each run starts from a new repository (set-up untimed), and afterwards the
index is checked: a filter that left outputs in it is named in the note.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmarks import corpus
from benchmarks.harness import (
    GIT_ENV,
    Command,
    Row,
    Settings,
    Target,
    base_env,
    command,
    git,
    measure_together,
    nbkit_bin,
    nbkit_has,
    restore_tree,
    unavailable,
)
from benchmarks.tools import tool

FAMILY = "filter"


def _fresh_repo(source: Path, dest: Path, install: list[str] | None) -> Callable[[], None]:
    def setup() -> None:
        if dest.exists():
            shutil.rmtree(dest)
        restore_tree(source, dest)()
        git(dest, "init", "-q", "-b", "main")
        if install:
            subprocess.run(install, cwd=dest, check=True, capture_output=True)

    return setup


def _outputs_left(repo: Path) -> tuple[int, int]:
    """Staged notebooks that still hold an output (the filter did not run), and all staged."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "*.ipynb"], cwd=repo, capture_output=True, check=True
    ).stdout.split(b"\0")
    left = 0
    for name in filter(None, names):
        blob = subprocess.run(
            ["git", "show", b":" + name], cwd=repo, capture_output=True, check=True
        ).stdout
        left += b'"output_type"' in blob
    return left, len([n for n in names if n])


def _side(
    settings: Settings, label: str, source: Path, repo: Path, install: list[str] | None
) -> tuple[Command, Callable[[], None]]:
    """``git add -A`` in a fresh repository of its own (set up, untimed, before each run)."""
    env = {**GIT_ENV, "PATH": f"{nbkit_bin()}:{base_env(settings)['PATH']}"}
    return command(label, ["git", "add", "-A"], cwd=repo, env=env), _fresh_repo(
        source, repo, install
    )


def _note(label: str, repo: Path) -> str:
    left, staged = _outputs_left(repo)
    return f"{label}: {left} of {staged} staged notebooks kept outputs" if left else ""


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    count = 50 if settings.quick else 200  # nbstripout's filter starts Python once a file
    source = corpus.repo_set(settings.corpus_root, count)
    case = f"git add of {count} executed notebooks"
    if not nbkit_has("install", "--filter"):
        reason = "`nbkit install --filter` does not exist yet"
        return [unavailable(FAMILY, f"{case}: nbkit filter", reason)]
    work = settings.work / "filter"
    sides = {
        "nbkit": _side(
            settings,
            "git add, nbkit filter",
            source,
            work / "nbkit",
            [str(nbkit_bin() / "nbkit"), "install", "--filter"],
        ),
        "plain": _side(settings, "git add (no filter)", source, work / "plain", None),
    }
    stripout = tool("nbstripout")
    if stripout is not None:
        install = [str(stripout), "--install"]
        sides["nbstripout"] = _side(
            settings, "git add, nbstripout filter", source, work / "nbstripout", install
        )
    # Round-robin (A B C A B C ...): a change in the machine's load falls on every side alike.
    measured = dict(zip(sides, measure_together(list(sides.values()), settings), strict=True))
    ours, plain = measured["nbkit"], measured["plain"]
    note = _note("git add, nbkit filter", work / "nbkit")
    rows = [
        Row(
            FAMILY,
            f"{case}: nbkit filter vs no filter (floor)",
            ours,
            plain,
            Target("within 1.5x of the floor", min_ratio=1 / 1.5),
            note,
        )
    ]
    if "nbstripout" in measured:
        note2 = _note("git add, nbstripout filter", work / "nbstripout")
        rows.append(
            Row(
                FAMILY,
                f"{case}: nbkit filter vs nbstripout filter",
                ours,
                measured["nbstripout"],
                Target(">= 10x", min_ratio=10),
                "; ".join(filter(None, [note, note2])),
            )
        )
    else:
        missing = "nbstripout not installed"
        rows.append(unavailable(FAMILY, f"{case}: nbkit filter vs nbstripout filter", missing))
    log(f"{FAMILY}: nbkit {ours.shown()}, no filter {plain.shown()}")
    return rows
