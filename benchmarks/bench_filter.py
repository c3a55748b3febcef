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
    VENV_BIN,
    Measurement,
    Row,
    Settings,
    Target,
    base_env,
    command,
    git,
    measure,
    nbkit_has,
    restore_tree,
    tool,
    unavailable,
)

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


def _add(
    settings: Settings, label: str, source: Path, repo: Path, install: list[str] | None
) -> tuple[Measurement, str]:
    env = {**GIT_ENV, "PATH": f"{VENV_BIN}:{base_env(settings)['PATH']}"}
    cmd = command(label, ["git", "add", "-A"], cwd=repo, env=env)
    result = measure(cmd, settings, setup=_fresh_repo(source, repo, install))
    left, staged = _outputs_left(repo)
    return result, (f"{label}: {left} of {staged} staged notebooks kept outputs" if left else "")


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    count = 50 if settings.quick else 200  # nbstripout's filter starts Python once a file
    source = corpus.repo_set(settings.corpus_root, count)
    repo = settings.work / "filter"
    plain, _ = _add(settings, "git add (no filter)", source, repo, None)
    rows: list[Row] = []
    case = f"git add of {count} executed notebooks"
    if nbkit_has("install", "--filter"):
        ours, note = _add(
            settings,
            "git add, nbkit filter",
            source,
            repo,
            [str(VENV_BIN / "nbkit"), "install", "--filter"],
        )
        rows.append(
            Row(
                FAMILY,
                f"{case}: nbkit filter vs no filter (floor)",
                ours,
                plain,
                Target(">= 0.2x (within 5x of the floor)", min_ratio=0.2),
                note,
            )
        )
        stripout = tool("nbstripout")
        if stripout is None:
            rows.append(
                unavailable(
                    FAMILY, f"{case}: nbkit filter vs nbstripout filter", "nbstripout not installed"
                )
            )
        else:
            theirs, note2 = _add(
                settings, "git add, nbstripout filter", source, repo, [str(stripout), "--install"]
            )
            rows.append(
                Row(
                    FAMILY,
                    f"{case}: nbkit filter vs nbstripout filter",
                    ours,
                    theirs,
                    Target(">= 10x", min_ratio=10),
                    "; ".join(filter(None, [note, note2])),
                )
            )
        log(f"{FAMILY}: nbkit {ours.shown()}, no filter {plain.shown()}")
    else:
        rows.append(
            unavailable(
                FAMILY, f"{case}: nbkit filter", "`nbkit install --filter` does not exist yet"
            )
        )
    return rows
