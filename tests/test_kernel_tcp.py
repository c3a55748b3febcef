"""Kernels over TCP: where pyzmq has no IPC sockets (Windows), ``nbkit run`` talks to the
kernel over TCP on the loopback interface; and without POSIX process groups it still runs.

The kernel itself reports the transport: a cell reads the connection file the kernel was
started with, so the test sees what the real kernel used, not what nbkit meant to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import read_nb
from tests.runs_helpers import experiment, kernel_name, manifest_of, only_run

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

REPORT_TRANSPORT = (
    "import json\n"
    "from ipykernel.connect import get_connection_file\n"
    "info = json.load(open(get_connection_file()))\n"
    "print('transport', info['transport'], info['ip'])\n"
    "import nbkit\n"
    "nbkit.record('lr', lr)"
)

# Windows as nbkit sees it: pyzmq without IPC, os without process groups.
WINDOWS_LIKE = """
import os, runpy, sys, zmq
_has = zmq.has
zmq.has = lambda feature: False if feature == "ipc" else _has(feature)
del os.killpg, os.getpgid
sys.argv = ["nbkit", *sys.argv[1:]]
runpy.run_module("nbkit", run_name="__main__")
"""


def _transport_line(run_dir: Path) -> str:
    executed = read_nb(run_dir / "executed.ipynb")
    text = json.dumps(executed["cells"][-1]["outputs"])
    return text[text.index("transport") :].split("\\n")[0]


@pytest.mark.slow
def test_forced_tcp_runs_through_the_cli(
    repo: Path,
    experiment: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    experiment(REPORT_TRANSPORT)
    monkeypatch.setenv("NBKIT_KERNEL_TRANSPORT", "tcp")
    result = cli("run", "exp.ipynb", "-p", "lr=0.5")
    assert result.code == 0, result.err
    run_dir = only_run(repo)
    assert manifest_of(run_dir)["metrics"] == {"lr": 0.5}
    assert _transport_line(run_dir) == "transport tcp 127.0.0.1"


@pytest.mark.slow
def test_without_ipc_or_process_groups_run_falls_back_to_tcp(
    repo: Path, experiment: Callable[..., Path]
) -> None:
    experiment(REPORT_TRANSPORT)
    env = {k: v for k, v in os.environ.items() if k != "NBKIT_KERNEL_TRANSPORT"}
    proc = subprocess.run(
        [sys.executable, "-c", WINDOWS_LIKE, "run", "exp.ipynb", "-p", "lr=2"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run(repo)
    assert manifest_of(run_dir)["metrics"] == {"lr": 2}
    assert _transport_line(run_dir) == "transport tcp 127.0.0.1"


def test_kill_without_process_groups_terminates_the_process() -> None:
    """The kill path nbkit takes on Windows (no os.killpg): a real child is terminated."""
    code = (
        "import os, subprocess, sys\n"
        "del os.killpg, os.getpgid\n"
        "from nbkit.runs import kernels\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time; print(\"up\", flush=True); time.sleep(600)'], "
        "stdout=subprocess.PIPE, text=True)\n"
        "assert child.stdout.readline() == 'up\\n'\n"
        "kernels.signal_kernel(child.pid, kill=True)\n"
        "print(child.wait(timeout=60))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() != "0"  # ended by the signal, not by itself


def test_bad_transport_is_bad_input(
    repo: Path,
    experiment: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    experiment("print(1)")
    monkeypatch.setenv("NBKIT_KERNEL_TRANSPORT", "udp")
    result = cli("run", "exp.ipynb")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) <= 2 and "NBKIT_KERNEL_TRANSPORT" in lines[0]
    assert "hint:" in result.err and "Traceback" not in result.err
    assert not (repo / ".nbkit" / "runs").exists() or not any((repo / ".nbkit" / "runs").iterdir())
