"""``nbkit run`` against ``papermill`` on a 5-cell notebook in a committed repository.

Both start the same kernel (the notebook's ``python3`` kernelspec) and execute the same
cells; nbkit also records the run (git state, kernel packages, inputs, metrics), which is the
overhead this row shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    VENV_BIN,
    Row,
    Settings,
    Target,
    command,
    git,
    measure,
    measure_pair,
    nbkit_bin,
    nbkit_has,
    tool,
    unavailable,
)

FAMILY = "run"
TARGET = Target(">= 0.77x (within 30% of papermill)", min_ratio=0.77)
RERUN_TARGET = Target(">= 0.83x (within 1.2x of nbkit run)", min_ratio=0.83)
SOURCES = (
    "n = 10",
    "import math\nvalues = [math.sqrt(i) for i in range(n * 1000)]",
    "total = sum(values)\nprint(f'total={total:.3f}')",
    "mean = total / len(values)\nmean",
    "print('done', n)",
)


def experiment_repo(work: Path) -> Path:
    """A committed repository with a 5-cell notebook whose first cell holds parameters."""
    repo = work / "experiment"
    if (repo / "nb.ipynb").is_file():
        return repo
    repo.mkdir(parents=True)
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "outputs": [],
            "metadata": {"tags": ["parameters"]} if i == 0 else {},
            "source": src,
        }
        for i, src in enumerate(SOURCES)
    ]
    nb = {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    }
    (repo / "nb.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    # Executed copies and the local index stay out of `git status`: runs stay clean.
    (repo / ".gitignore").write_text("out*.ipynb\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "experiment")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text(".nbkit/\n")
    return repo


def same_kernel(work: Path) -> dict[str, str]:
    """An environment in which ``python3`` names one kernel for nbkit and papermill alike.

    Each tool would otherwise start the ipykernel of its own venv (papermill's minimal one,
    nbkit's development one). The row compares the tools, not their kernels' environments,
    so both drive the same kernel: one ``kernel.json`` on ``JUPYTER_PATH`` running nbkit's
    venv's ipykernel.
    """
    spec = work / "jupyter-path" / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(VENV_BIN / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(
        json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}) + "\n"
    )
    return {"JUPYTER_PATH": str(spec.parent.parent.parent)}


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    case = "5-cell notebook: nbkit run (recorded) vs papermill"
    papermill = tool("papermill")
    if not nbkit_has("run"):
        return [unavailable(FAMILY, case, "`nbkit run` does not exist yet", TARGET)]
    if papermill is None:
        return [unavailable(FAMILY, case, "papermill not installed", TARGET)]
    repo = experiment_repo(settings.work)
    env = same_kernel(settings.work)
    ours, theirs = measure_pair(
        command(
            "nbkit run",
            [nbkit_bin() / "nbkit", "run", "nb.ipynb", "-p", "n=5"],
            cwd=repo,
            env=env,
            timeout=300,
        ),
        command(
            "papermill",
            [papermill, "--kernel", "python3", "nb.ipynb", "out.ipynb", "-p", "n", "5"],
            cwd=repo,
            env=env,
            timeout=300,
        ),
        settings,
        warmup=not settings.quick,
    )
    log(f"{FAMILY}: nbkit run {ours.shown()}, papermill {theirs.shown()}")
    return [Row(FAMILY, case, ours, theirs, TARGET), _rerun_row(repo, settings, ours, log, env)]


def _rerun_row(
    repo: Path, settings: Settings, run: Any, log: Callable[[str], None], env: dict[str, str]
) -> Row:
    """``nbkit rerun`` of an unchanged deterministic run (worktree, one execution, checks)
    against ``nbkit run`` of it: the verification must cost little beyond the execution."""
    import subprocess

    case = "5-cell notebook: nbkit rerun (unchanged, reproduced) vs nbkit run"
    if not nbkit_has("rerun"):
        return unavailable(FAMILY, case, "`nbkit rerun` does not exist yet", RERUN_TARGET)
    listed = subprocess.run(
        [nbkit_bin() / "nbkit", "runs", "--json"], cwd=repo, capture_output=True, text=True
    )
    ids = [json.loads(line)["id"] for line in listed.stdout.splitlines() if line.strip()]
    if not ids:
        return unavailable(FAMILY, case, "no recorded run to rerun", RERUN_TARGET)
    ours = measure(
        command(
            "nbkit rerun", [nbkit_bin() / "nbkit", "rerun", ids[0]], cwd=repo, env=env, timeout=300
        ),
        settings,
        warmup=not settings.quick,
    )
    log(f"{FAMILY}: nbkit rerun {ours.shown()}, nbkit run {run.shown()}")
    return Row(FAMILY, case, ours, run, RERUN_TARGET)
