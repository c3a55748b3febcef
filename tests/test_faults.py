"""Fault injection (issue 6): SIGKILL at random moments and a full disk never lose a file.

After each fault every file must be exactly as before or exactly as after, and valid.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from nbkit.clean import clean_bytes
from nbkit.config import CleanPolicy
from tests.conftest import assert_one_line_error, make_nb
from tests.reliability import count


def _big_dirty_notebook(cells: int = 400, text_bytes: int = 20_000) -> bytes:
    nb = make_nb(*[f"x{i} = {i}\nprint(x{i})\n" for i in range(cells)])
    for i, cell in enumerate(nb["cells"]):
        cell["execution_count"] = i + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"{i}" * text_bytes}]
        cell["metadata"] = {"ExecuteTime": {"start": "2026-01-01T00:00:00"}}
    return json.dumps(nb, indent=1).encode()


def _nbkit(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "nbkit", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_during_clean_leaves_old_or_new_file(tmp_path: Path) -> None:
    path = tmp_path / "big.ipynb"
    before = _big_dirty_notebook()
    after = clean_bytes(before, path, CleanPolicy())
    path.write_bytes(before)
    started = time.perf_counter()
    proc = _nbkit("clean", str(path), cwd=tmp_path)
    assert proc.wait(timeout=120) == 0
    duration = time.perf_counter() - started
    assert path.read_bytes() == after
    rng = random.Random(20261123)
    outcomes = set()
    for _ in range(10):
        path.write_bytes(before)
        proc = _nbkit("clean", str(path), cwd=tmp_path)
        time.sleep(rng.uniform(0.0, duration * 1.1))
        proc.kill()
        proc.wait(timeout=60)
        count("faults")
        data = path.read_bytes()
        if data not in (before, after):
            count("lost")
        assert data in (before, after), "a killed clean left a partial file"
        json.loads(data)
        outcomes.add("after" if data == after else "before")
    # leftovers of killed writes are hidden temp files, never mistaken for notebooks
    stray = [p.name for p in tmp_path.iterdir() if p.name not in ("big.ipynb",)]
    assert all(name.startswith(".big.ipynb.") and name.endswith(".nbkit-tmp") for name in stray)


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_gives_clear_error_and_keeps_original(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    before = _big_dirty_notebook(cells=50, text_bytes=2_000)
    # keep outputs so the cleaned file is still larger than the limit the write runs into
    (tmp_path / "nbkit.toml").write_text('[clean]\nkeep_output = "all"\n')
    path.write_bytes(before.replace(b'"ExecuteTime"', b'"collapsed": true, "ExecuteTime"'))
    original = path.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "nbkit", "clean", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=lambda: _limit_file_size(4096),
        check=False,
    )
    count("faults")
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc.stderr, "nb.ipynb", "no space left")
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".nbkit-tmp")] == []


def test_interrupt_is_exit_130_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "big.ipynb"
    paths = []
    for i in range(6):  # enough work that the signal lands mid-run
        paths.append(tmp_path / f"big{i}.ipynb")
        paths[-1].write_bytes(_big_dirty_notebook(cells=400))
    proc = _nbkit("clean", *[str(p) for p in paths], cwd=tmp_path)
    time.sleep(0.5)
    proc.send_signal(2)  # SIGINT, as Ctrl-C does
    _, err = proc.communicate(timeout=60)
    count("faults")
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    for path in paths:
        json.loads(path.read_bytes())
