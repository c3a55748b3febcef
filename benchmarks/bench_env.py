"""``nbkit env`` against ``python -m venv`` + ``pip install -r`` + ``ipykernel install``.

A small lock (six and ipykernel: about 30 pinned packages with hashes), package caches warm
(one untimed build first), every timed run starting with no environment: what a teammate
does after cloning, or after the lock changed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import (
    VENV_BIN,
    Row,
    Settings,
    Target,
    base_env,
    command,
    git,
    measure_pair,
    nbkit_bin,
    nbkit_has,
    unavailable,
)

FAMILY = "env"
TARGET = Target(">= 3x", min_ratio=3)


def _remove(*paths: Path) -> Callable[[], None]:
    def setup() -> None:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)

    return setup


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    case = "small lock (~30 packages), warm cache: nbkit env vs venv + pip install -r + kernel"
    if settings.quick:
        return [unavailable(FAMILY, case, "full run only (builds two environments)", TARGET)]
    if not nbkit_has("env") or not nbkit_has("lock"):
        return [unavailable(FAMILY, case, "`nbkit lock` / `nbkit env` do not exist yet", TARGET)]
    repo = settings.work / "envproject"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "requirements.in").write_text("six\nipykernel\n")
    git(repo, "init", "-q", "-b", "main")
    jupyter = settings.work / "jupyter-data"
    env = {"JUPYTER_DATA_DIR": str(jupyter)}
    lock = subprocess.run(
        [str(nbkit_bin() / "nbkit"), "lock"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**base_env(settings), **env},
        check=False,
    )
    if lock.returncode != 0:
        tail = (lock.stderr.strip().splitlines() or ["?"])[-1]
        return [unavailable(FAMILY, case, f"`nbkit lock` failed: {tail}", TARGET)]
    pipvenv = settings.work / "pipvenv"
    ours, theirs = measure_pair(
        command("nbkit env", [nbkit_bin() / "nbkit", "env"], cwd=repo, env=env, timeout=900),
        command(
            "venv + pip install -r + ipykernel install",
            [VENV_BIN / "python", "-m", "venv", pipvenv],
            [pipvenv / "bin" / "pip", "install", "--quiet", "-r", repo / "requirements.lock"],
            [
                pipvenv / "bin" / "python",
                "-m",
                "ipykernel",
                "install",
                "--user",
                "--name",
                "pipenv",
            ],
            cwd=repo,
            env=env,
            timeout=900,
        ),
        settings,
        setup=_remove(repo / ".nbkit" / "envs", jupyter),  # where nbkit env builds
        second_setup=_remove(pipvenv, jupyter),
        warmup=True,
        repeat=min(settings.repeat, 3),
    )
    log(f"{FAMILY}: nbkit env {ours.shown()}, venv + pip {theirs.shown()}")
    return [Row(FAMILY, case, ours, theirs, TARGET)]
