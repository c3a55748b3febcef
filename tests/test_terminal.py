"""What a person at a terminal sees: a real pseudo-terminal, real nbkit processes.

Colours appear on a terminal and never when NO_COLOR is set (https://no-color.org); a sweep
draws tqdm's progress bar on a terminal and plain lines elsewhere.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import write_nb
from tests.review_helpers import code, notebook
from tests.runs_helpers import experiment, kernel_name

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

ESC = b"\x1b["


def _on_terminal(args: list[str], cwd: Path, stream: str, env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``nbkit ARGS`` with ``stream`` ("stdout" or "stderr") on a pseudo-terminal; the
    other one is a pipe. Returns the exit code and what the terminal received."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 100 columns
    kwargs: dict[str, Any] = {stream: follower}
    other = "stderr" if stream == "stdout" else "stdout"
    kwargs[other] = subprocess.PIPE
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbkit", *args],
        cwd=cwd,
        env={**os.environ, **env},
        **kwargs,
    )
    os.close(follower)
    received = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed the terminal (EIO on Linux)
            break
        if not chunk:
            break
        received += chunk
    os.close(leader)
    proc.communicate(timeout=600)
    return proc.returncode, received


def test_diff_colours_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    write_nb(tmp_path / "a.ipynb", notebook(code("x = 1", cid="a")))
    write_nb(tmp_path / "b.ipynb", notebook(code("x = 2", cid="a")))
    args = ["diff", "a.ipynb", "b.ipynb"]
    code_, coloured = _on_terminal(args, tmp_path, "stdout", {"NO_COLOR": ""})
    assert code_ == 1 and ESC in coloured and b"x = 2" in coloured
    code_, plain = _on_terminal(args, tmp_path, "stdout", {"NO_COLOR": "1"})
    assert code_ == 1 and ESC not in plain and b"x = 2" in plain
    # an explicit --color still wins over the environment
    _code, forced = _on_terminal([*args, "--color"], tmp_path, "stdout", {"NO_COLOR": "1"})
    assert ESC in forced


def test_sweep_draws_tqdm_bar_on_a_terminal(repo: Path, experiment: Callable[..., Path]) -> None:
    experiment("import nbkit\nnbkit.record('score', lr)", params="lr = 0.1")
    code_, shown = _on_terminal(
        ["sweep", "exp.ipynb", "-p", "lr=0.1,0.2", "--workers", "1"], repo, "stderr", {}
    )
    text = shown.decode("utf-8", "replace")
    assert code_ == 0, text
    assert "2/2" in text and "100%|" in text and ("run/s" in text or "s/run" in text), text
    assert "0 failed" in text
