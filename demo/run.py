"""`make demo`: walk through nbkit on a throwaway data-science repository.

Each step prints one line saying what it does, then its result. Exits non-zero at the first
step whose result is not what a user should see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.monotonic()


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def sh(cmd: list[str], cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    shown = " ".join(cmd)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    out = (proc.stdout + proc.stderr).strip()
    print(f"$ {shown}  -> exit {proc.returncode}")
    if out:
        print("   " + out.replace("\n", "\n   "))
    if expect is not None and proc.returncode != expect:
        sys.exit(f"demo: '{shown}' exited {proc.returncode}, expected {expect}")
    return proc


def nbkit(*args: str, cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    return sh([sys.executable, "-m", "nbkit", *args], cwd, expect)


def dirty_notebook() -> dict[str, object]:
    return {
        "cells": [
            {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# Demo\n"},
            {
                "cell_type": "code",
                "id": "params",
                "metadata": {"tags": ["parameters"], "ExecuteTime": {"start": "2026-01-01"}},
                "execution_count": 7,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "noise\n"}],
                "source": "lr = 0.1\n",
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nbkit-demo-") as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        env_home = Path(tmp) / "home"
        env_home.mkdir()
        os.environ.setdefault("GIT_AUTHOR_NAME", "nbkit demo")
        os.environ.setdefault("GIT_AUTHOR_EMAIL", "demo@nbkit.invalid")
        os.environ.setdefault("GIT_COMMITTER_NAME", "nbkit demo")
        os.environ.setdefault("GIT_COMMITTER_EMAIL", "demo@nbkit.invalid")
        step(f"a throwaway repository in {repo}")
        sh(["git", "init", "-q", "-b", "main"], repo)
        nb = repo / "analysis.ipynb"
        nb.write_text(json.dumps(dirty_notebook(), indent=1) + "\n")

        step("nbkit clean --check finds outputs and volatile metadata (exit 1)")
        nbkit("clean", "--check", "analysis.ipynb", cwd=repo, expect=1)
        step("nbkit clean strips them; ids and the parameters tag stay")
        nbkit("clean", "analysis.ipynb", cwd=repo)
        cleaned = json.loads(nb.read_text())
        assert cleaned["cells"][1]["outputs"] == [] and cleaned["cells"][1]["id"] == "params"
        assert cleaned["cells"][1]["metadata"] == {"tags": ["parameters"]}
        print("   outputs removed, cell id and 'parameters' tag kept")
        step("nbkit validate accepts the cleaned notebook")
        nbkit("validate", "analysis.ipynb", cwd=repo)

    print(f"\ndemo finished in {time.monotonic() - STARTED:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
