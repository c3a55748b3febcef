"""Fixtures for run tests: a real kernelspec for this interpreter, experiment repos.

The kernelspec is written into the session's temporary ``JUPYTER_DATA_DIR`` (conftest points
Jupyter there), so the real kernels these tests start never depend on what the machine has
installed, and nothing is written to the real home.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, make_nb, write_nb

KERNEL = "nbkit-test-python"


@pytest.fixture(scope="session")
def kernel_name(session_home: Path) -> str:
    """Register a kernelspec for sys.executable (ipykernel must be importable: fail if not)."""
    import ipykernel  # noqa: F401  - a missing kernel is a failure, never a skip

    folder = session_home / "jupyter-data" / "kernels" / KERNEL
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nbkit tests",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return KERNEL


def experiment_nb(
    *code: str, params: str = "lr = 0.1  # learning rate\nepochs: int = 2", kernel: str = KERNEL
) -> dict[str, Any]:
    """A notebook with the template's header, a parameters cell and the given code cells."""
    header = ("markdown", "# Experiment\n\n**Objective:** learn\n\n**Hypothesis:** lr matters\n")
    cells: list[Any] = [header]
    if params is not None:
        cells.append({"cell_type": "code", "source": params, "metadata": {"tags": ["parameters"]}})
    cells.extend(code)
    meta = {"kernelspec": {"name": kernel, "language": "python", "display_name": kernel}}
    return make_nb(*cells, metadata=meta)


@pytest.fixture
def experiment(repo: Path, kernel_name: str) -> Callable[..., Path]:
    """Write a notebook (and commit everything) in the test repo: ``experiment(*cells)``."""

    def build(*code: str, name: str = "exp.ipynb", commit: bool = True, **kw: Any) -> Path:
        path = write_nb(repo / name, experiment_nb(*code, **kw))
        if commit:
            commit_all(repo, f"add {name}")
        return path

    return build


def only_run(repo: Path) -> Path:
    """The single run folder in the repo's ledger."""
    runs = [p for p in (repo / ".nbkit" / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def manifest_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    return data


def wait_for(path: Path, seconds: float = 120) -> None:
    """Poll until a file exists (a cell signals it started); fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.1)


@contextlib.contextmanager
def nbkit_process(cwd: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``nbkit ARGS`` running in the background (to signal it); killed if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbkit", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
