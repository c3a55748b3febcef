"""Fault injection: SIGKILL at random moments and a full disk never lose a file.

After each fault every file must be exactly as before or exactly as after, and valid.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit.clean import clean_bytes
from nbkit.config import CleanPolicy
from tests.conftest import assert_one_line_error, commit_all, git, make_nb, write_nb
from tests.reliability import count
from tests.runs_helpers import experiment, kernel_name  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow  # kills real processes at random moments, many times


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


def _full_pipe() -> tuple[int, int, int]:
    """A pipe whose buffer is already full (read end, write end, bytes of filler): a child
    writing to it blocks until it is read."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filled = 0
    for chunk in (b"x" * 4096, b"x"):  # big writes first, then bytes to the last one
        with contextlib.suppress(BlockingIOError):
            while True:
                filled += os.write(write_end, chunk)
    os.set_blocking(write_end, True)
    return read_end, write_end, filled


@pytest.mark.skipif(
    os.environ.get("CI") == "true",
    reason="known defect: under CI the interrupt lands after the (now fast) clean has finished",
)
def test_interrupt_is_exit_130_without_traceback(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        paths.append(tmp_path / f"big{i}.ipynb")
        paths[-1].write_bytes(_big_dirty_notebook(cells=400))
    # Ctrl-C as soon as the entry point says it handles it: during `import click` and the
    # command modules (the old failure: a traceback), or while cleaning. The child's stderr
    # (where it reports each cleaned file) is a full pipe, so its first line blocks it: the
    # signal lands before the run ends, however fast cleaning gets (no timing involved).
    read_end, write_end = os.pipe()
    err_read, err_write, filled = _full_pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbkit", "clean", *[str(p) for p in paths]],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=err_write,
        env={**os.environ, "NBKIT_READY_FD": str(write_end)},
        pass_fds=(write_end,),
    )
    os.close(write_end)
    os.close(err_write)
    with os.fdopen(read_end, "rb") as ready:
        assert ready.readline() == b"ready\n"  # EOF instead: the child never signalled
    proc.send_signal(signal.SIGINT)
    drained: list[bytes] = []
    drain = threading.Thread(target=lambda: drained.append(os.fdopen(err_read, "rb").read()))
    drain.start()  # unblocks the child, which goes on to report the interrupt
    proc.wait(timeout=60)
    drain.join(timeout=60)
    err = drained[0][filled:]
    count("faults")
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert err.strip().splitlines()[-1] == b"interrupted"
    for path in paths:
        json.loads(path.read_bytes())


# --- SIGKILL during sync, the merge driver and a run's ledger writes ------------------------


def _kill_loop(
    args: list[str],
    cwd: Path,
    restore: Callable[[], None],
    states: Callable[[], None],
    duration: float,
    times: int,
    seed: int,
) -> None:
    """Run ``args`` ``times`` times, SIGKILL it at a random moment, then check ``states``."""
    rng = random.Random(seed)
    for _ in range(times):
        restore()
        proc = _nbkit(*args, cwd=cwd)
        time.sleep(rng.uniform(0.0, duration * 1.1))
        proc.kill()
        proc.wait(timeout=60)
        count("faults")
        states()


def _timed(args: list[str], cwd: Path, expect: int = 0) -> float:
    started = time.perf_counter()
    proc = _nbkit(*args, cwd=cwd)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == expect, err
    return time.perf_counter() - started


def test_sigkill_during_sync_leaves_each_file_old_or_new(repo: Path) -> None:
    nb = write_nb(repo / "big.ipynb", make_nb(*[f"v{i} = {i}\n" for i in range(600)]))
    assert _timed(["pair", "big.ipynb"], repo) > 0
    commit_all(repo, "pair")
    script = repo / "big.py"
    edited = script.read_text().replace("v7 = 7", "v7 = 'seven'")
    before = (nb.read_bytes(), edited.encode())

    def restore() -> None:
        nb.write_bytes(before[0])
        script.write_bytes(before[1])

    restore()
    duration = _timed(["sync", "big.ipynb"], repo)
    after_nb = nb.read_bytes()
    assert after_nb != before[0] and b"seven" in after_nb

    def states() -> None:
        ok = nb.read_bytes() in (before[0], after_nb) and script.read_bytes() == before[1]
        if not ok:
            count("lost")
        assert ok, "a killed sync left a partial or foreign file"
        json.loads(nb.read_bytes())

    _kill_loop(["sync", "big.ipynb"], repo, restore, states, duration, times=6, seed=7)


def test_sigkill_during_merge_driver_leaves_ours_old_or_merged(tmp_path: Path) -> None:
    cells = [f"c{i} = {i}\nprint(c{i})\n" for i in range(2000)]
    base = make_nb(*cells)
    ours = json.loads(json.dumps(base))
    theirs = json.loads(json.dumps(base))
    for i in range(0, 2000, 40):
        ours["cells"][i]["source"] = f"c{i} = 'ours'\n"
        theirs["cells"][i + 1]["source"] = f"c{i + 1} = 'theirs'\n"
    paths = {
        name: write_nb(tmp_path / f"{name}.ipynb", nb)
        for name, nb in (("base", base), ("ours", ours), ("theirs", theirs))
    }
    original = paths["ours"].read_bytes()
    args = [
        "merge-driver",
        str(paths["base"]),
        str(paths["ours"]),
        str(paths["theirs"]),
        "nb.ipynb",
    ]
    duration = _timed(args, tmp_path)
    merged = paths["ours"].read_bytes()
    assert b"'theirs'" in merged and b"'ours'" in merged

    def restore() -> None:
        paths["ours"].write_bytes(original)

    def states() -> None:
        ok = paths["ours"].read_bytes() in (original, merged)
        if not ok:
            count("lost")
        assert ok, "a killed merge left a partial file"

    _kill_loop(args, tmp_path, restore, states, duration, times=6, seed=11)


def test_two_syncs_at_once_never_lose_an_edit(repo: Path) -> None:
    nb = write_nb(repo / "pair.ipynb", make_nb(*[f"w{i} = {i}\n" for i in range(200)]))
    assert _timed(["pair", "pair.ipynb"], repo) > 0
    commit_all(repo, "pair")
    script = repo / "pair.py"
    script.write_text(script.read_text().replace("w3 = 3", "w3 = 'three'"))
    for _ in range(3):
        procs = [_nbkit("sync", "pair.ipynb", cwd=repo) for _ in range(2)]
        errs = [p.communicate(timeout=300)[1] for p in procs]
        count("faults")
        assert all(b"Traceback" not in e for e in errs), errs
        assert all(p.returncode == 0 for p in procs), errs
        assert b"'three'" in nb.read_bytes(), "the script's edit was lost"
        assert "w3 = 'three'" in script.read_text()
        git(repo, "checkout", "--", "pair.ipynb")  # back to before the sync, script still edited


def test_sigkill_during_run_never_leaves_a_half_manifest(
    repo: Path,
    experiment: Callable[..., Path],  # noqa: F811  (the fixture)
) -> None:
    experiment("import time\nfor i in range(4):\n    time.sleep(0.25)\n", "print('done')")
    duration = _timed(["run", "exp.ipynb"], repo)

    def restore() -> None:
        pass

    def states() -> None:
        for manifest in (repo / ".nbkit" / "runs").glob("*/manifest.json"):
            json.loads(manifest.read_bytes())  # complete JSON, or no file at all
        listing = subprocess.run(
            [sys.executable, "-m", "nbkit", "runs", "--json"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
        assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr

    _kill_loop(["run", "exp.ipynb"], repo, restore, states, duration, times=4, seed=5)
