"""Sweeps at team scale: one snapshot per sweep, real ``dask scheduler`` / ``dask worker``
processes that cannot see the project, and ``--resume`` after the submitter was killed.

Every wait is on a signal (a file a cell writes, a line the submitter prints), bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_one_line_error, commit_all, git, run_nbkit
from tests.env_helpers import offline_project, uv_cache, wheelhouse
from tests.runs_helpers import experiment, kernel_name, manifest_of, nbkit_process, wait_for

__all__ = ["experiment", "kernel_name", "offline_project", "uv_cache", "wheelhouse"]  # fixtures

Cli = Callable[..., Any]
BIN = Path(sys.executable).parent

# Point k == hold waits (cell-side, polling a file) until the test says go; the kernel's
# parent dying (a killed worker) also ends the wait.
HOLD_PARAMS = "k = 0\nhold = -1\nsignals = ''"
HOLD = (
    "import os, time, nbkit, helper\n"
    "if k == hold:\n"
    "    parent = os.getppid()\n"
    "    open(os.path.join(signals, f'started-{k}'), 'w').close()\n"
    "    while not os.path.exists(os.path.join(signals, 'go')) and os.getppid() == parent:\n"
    "        time.sleep(0.05)\n"
    "nbkit.record('version', helper.VERSION)\n"
    "nbkit.record('cwd', os.getcwd())"
)


def _runs(repo: Path) -> list[dict[str, Any]]:
    folder = repo / ".nbkit" / "runs"
    return [manifest_of(p) for p in sorted(folder.iterdir()) if (p / "manifest.json").is_file()]


def _hold_repo(repo: Path, experiment: Callable[..., Path]) -> str:
    (repo / "helper.py").write_text("VERSION = 1\n")
    experiment(HOLD, params=HOLD_PARAMS)
    return git(repo, "rev-parse", "HEAD").strip()


# ---- 1. one snapshot ------------------------------------------------------------------------


def test_a_commit_and_an_edit_during_a_sweep_do_not_reach_later_points(
    repo: Path, experiment: Callable[..., Path], tmp_path: Path
) -> None:
    commit = _hold_repo(repo, experiment)
    signals = tmp_path / "signals"
    signals.mkdir()
    args = ["-p", "k=0,1,2", "-p", "hold=0", "-p", f"signals={signals}", "--workers", "1"]
    with nbkit_process(repo, "sweep", "exp.ipynb", *args) as proc:
        wait_for(signals / "started-0")
        (repo / "helper.py").write_text("VERSION = 2\n")  # a commit during the sweep...
        commit_all(repo, "version 2")
        (repo / "helper.py").write_text("VERSION = 3\n")  # ...and an uncommitted edit
        (signals / "go").touch()
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert "uncommitted" not in out + err
    runs = _runs(repo)
    assert sorted(m["parameters"]["k"] for m in runs) == [0, 1, 2]
    for m in runs:
        assert m["metrics"]["version"] == 1, m["parameters"]
        assert m["git"]["commit"] == commit and m["git"]["dirty"] is False
        # executed in a private unpacked copy, not the checkout
        assert not m["metrics"]["cwd"].startswith(str(repo))
    assert len({m["sweep"] for m in runs}) == 1 and None not in {m["sweep"] for m in runs}
    assert sorted(m["sweep_index"] for m in runs) == [0, 1, 2]


def test_an_allowed_dirty_patch_is_part_of_the_snapshot(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    _hold_repo(repo, experiment)
    (repo / "helper.py").write_text("VERSION = 7\n")
    (repo / "data.txt").write_text("untracked input\n")
    result = cli("sweep", "exp.ipynb", "-p", "k=0,1", "--allow-dirty", "--inputs", "data.txt")
    assert result.code == 0, result.out + result.err
    runs = _runs(repo)
    assert [m["metrics"]["version"] for m in runs] == [7, 7]
    assert all(m["git"]["dirty"] and m["files"]["patch"] == "dirty.patch" for m in runs)
    assert all([i["path"] for i in m["inputs"]] == ["data.txt"] for m in runs)
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == " M helper.py\n"


def test_points_share_one_unpacked_snapshot_but_never_each_others_writes(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    (repo / "log.txt").write_text("original\n")
    (repo / "data.txt").write_text("data\n")
    experiment(
        "import os, nbkit\n"
        "nbkit.record('seen', open('log.txt').read())\n"
        "nbkit.record('existed', os.path.exists('out.txt'))\n"
        "nbkit.record('links', os.stat('data.txt').st_nlink)\n"
        "open('out.txt', 'w').write('mine')\n"
        "if k == 1:  # in place, through the link: the kept tree changes too\n"
        "    with open('log.txt', 'a') as fh:\n"
        "        fh.write('leak\\n')",
        params="k = 0",
    )
    result = cli("sweep", "exp.ipynb", "-p", "k=0,1,2", "--workers", "1", "--json")
    assert result.code == 0, result.err
    runs = sorted(_runs(repo), key=lambda m: m["parameters"]["k"])
    assert [m["metrics"]["seen"] for m in runs] == ["original\n"] * 3
    assert [m["metrics"]["existed"] for m in runs] == [False] * 3
    # a link farm over the worker's kept tree (a fresh unpack has one link per file)
    assert [m["metrics"]["links"] for m in runs] == [2, 2, 2]


# ---- 3. finished runs survive the submitter -------------------------------------------------


def test_killing_the_submitter_loses_only_the_running_point_and_resume_runs_the_rest(
    repo: Path, experiment: Callable[..., Path], tmp_path: Path, cli: Cli
) -> None:
    _hold_repo(repo, experiment)
    signals = tmp_path / "signals"
    signals.mkdir()
    args = ["-p", "k=0,1,2", "-p", "hold=1", "-p", f"signals={signals}", "--workers", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbkit", "sweep", "exp.ipynb", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the pool dies with it
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("sweep "), first
        sweep_id = first.split()[1].rstrip(":")
        wait_for(signals / "started-1")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    runs = _runs(repo)
    assert [m["parameters"]["k"] for m in runs] == [0]  # recorded as soon as it came back
    (repo / "helper.py").write_text("VERSION = 2\n")  # the checkout moved on meanwhile
    commit_all(repo, "version 2")
    (signals / "go").touch()
    result = cli("sweep", "--resume", sweep_id, "--json")
    assert result.code == 0, result.out + result.err
    assert sorted(o["parameters"]["k"] for o in json.loads(result.out)) == [1, 2]
    runs = _runs(repo)
    assert sorted(m["parameters"]["k"] for m in runs) == [0, 1, 2]
    assert {m["metrics"]["version"] for m in runs} == {1}  # the recorded snapshot
    assert {m["sweep"] for m in runs} == {sweep_id}
    again = cli("sweep", "--resume", sweep_id)
    assert again.code == 0 and "every point already has a successful run" in again.err


def test_resume_bad_input(repo: Path, experiment: Callable[..., Path], cli: Cli) -> None:
    _hold_repo(repo, experiment)
    unknown = cli("sweep", "--resume", "20990101-000000-abcdef")
    assert unknown.code == 2
    assert_one_line_error(unknown.err, "unknown sweep '20990101-000000-abcdef'")
    assert "hint:" in unknown.err
    both = cli("sweep", "exp.ipynb", "--resume", "x")
    assert both.code == 2
    assert_one_line_error(both.err, "--resume takes no notebook")


# ---- 2. a real cluster that cannot see the project ------------------------------------------


@contextlib.contextmanager
def _process(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A background process (the dask CLI as a user runs it), in its own process group."""
    log = (cwd / f"{Path(args[0]).name}-{len(list(cwd.iterdir()))}.log").open("w")
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder and environment for cluster processes: another HOME, no Jupyter
    folders of the test session (so no kernelspec), nothing under the project."""
    home = tmp_path / "cluster-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "XDG_"))}
    env.update(HOME=str(home), PATH=f"{BIN}:{env.get('PATH', '')}")
    return home, env


@contextlib.contextmanager
def _scheduler(home: Path, env: dict[str, str]) -> Iterator[Path]:
    file = home / "scheduler.json"
    args = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0"]
    args += ["--no-dashboard", "--scheduler-file", str(file)]
    with _process(args, home, env):
        wait_for(file)
        yield file


def _worker(file: Path, home: Path, env: dict[str, str], *extra: str) -> list[str]:
    args = [str(BIN / "dask"), "worker", "--scheduler-file", str(file), "--nthreads", "1"]
    return [*args, "--no-dashboard", "--local-directory", str(home / "work"), *extra]


def test_dask_workers_need_no_shared_filesystem(
    repo: Path,
    experiment: Callable[..., Path],
    tmp_path: Path,
    elsewhere: tuple[Path, dict[str, str]],
) -> None:
    _hold_repo(repo, experiment)
    home, env = elsewhere
    signals = tmp_path / "signals"
    signals.mkdir()
    moved = repo.with_name("repo-moved")
    with _scheduler(home, env) as file:
        args = ["-p", "k=0", "-p", "hold=0", "-p", f"signals={signals}", "--dask", str(file)]
        with nbkit_process(repo, "sweep", "exp.ipynb", *args, "--json") as proc:
            assert proc.stderr is not None
            first = proc.stderr.readline()
            assert first.startswith("sweep "), first
            repo.rename(moved)  # the submitter's paths are gone before any worker exists
            with _process(_worker(file, home, env), home, env):
                wait_for(signals / "started-0")
                moved.rename(repo)  # back, so the submitter can write the ledger
                (signals / "go").touch()
                out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    [m] = _runs(repo)
    assert m["status"] == "succeeded" and m["metrics"]["version"] == 1
    cwd = m["metrics"]["cwd"]
    assert not cwd.startswith((str(repo), str(moved))) and "nbkit-sweep-" in cwd
    assert m["kernel"]["source"] == "interpreter"  # the session's kernelspec is not there
    assert "not installed on this worker" in m["kernel"]["reason"]


def test_a_lost_dask_worker_reruns_its_point(
    repo: Path,
    experiment: Callable[..., Path],
    elsewhere: tuple[Path, dict[str, str]],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "first-attempt"
    experiment(
        "import os, signal, nbkit\n"
        f"first = not os.path.exists({str(marker)!r})\n"
        "if first:\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    os.kill(os.getppid(), signal.SIGKILL)  # the dask worker process\n"
        "    import time; time.sleep(60)\n"
        "nbkit.record('rerun', not first)",
        params="k = 0",
    )
    home, env = elsewhere
    with _scheduler(home, env) as file, _process(_worker(file, home, env), home, env):
        result = subprocess.run(
            [sys.executable, "-m", "nbkit", "sweep", "exp.ipynb", "-p", "k=0", "--dask", str(file)],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    [m] = _runs(repo)
    assert m["status"] == "succeeded" and m["metrics"]["rerun"] is True


def test_dask_bad_cluster_is_one_line_with_a_hint(
    repo: Path, experiment: Callable[..., Path], cli: Cli, tmp_path: Path
) -> None:
    _hold_repo(repo, experiment)
    missing = tmp_path / "nowhere.json"
    result = cli("sweep", "exp.ipynb", "-p", "k=0", "--dask", str(missing))
    assert result.code == 2
    assert_one_line_error(result.err, f"{missing}: no such scheduler file")
    assert "hint: dask scheduler --scheduler-file" in result.err
    bogus = tmp_path / "bogus.json"
    bogus.write_text("[]")
    result = cli("sweep", "exp.ipynb", "-p", "k=0", "--dask", str(bogus))
    assert result.code == 2
    assert_one_line_error(result.err, "not a Dask scheduler file")
    assert not (repo / ".nbkit" / "runs" / "sweeps").exists()  # nothing recorded


def test_a_detached_sweep_is_collected_later(
    repo: Path,
    experiment: Callable[..., Path],
    tmp_path: Path,
    elsewhere: tuple[Path, dict[str, str]],
) -> None:
    _hold_repo(repo, experiment)
    home, env = elsewhere
    signals = tmp_path / "signals"
    signals.mkdir()
    args = ["-p", "k=0,1", "-p", "hold=1", "-p", f"signals={signals}"]
    with _scheduler(home, env) as file, _process(_worker(file, home, env), home, env):
        submitted = run_nbkit(
            "sweep", "exp.ipynb", *args, "--dask", str(file), "--detach", cwd=repo
        )
        assert submitted.returncode == 0, submitted.stderr
        sweep_id = submitted.stdout.strip()
        assert f"nbkit runs collect {sweep_id}" in submitted.stderr
        wait_for(signals / "started-1")  # point 1 is held on the worker; the submitter is gone
        early = run_nbkit("runs", "collect", sweep_id, "--json", cwd=repo)
        assert early.returncode == 0, early.stderr
        first = [o["parameters"]["k"] for o in json.loads(early.stdout)]
        assert 1 not in first  # held: still running (point 0 may or may not be done)
        assert f"sweep {sweep_id}: {2 - len(first)} runs still running" in early.stderr
        (signals / "go").touch()
        late = run_nbkit("runs", "collect", sweep_id, "--wait", "--json", cwd=repo)
        assert late.returncode == 0, late.stderr
        rest = [o["parameters"]["k"] for o in json.loads(late.stdout)]
        assert sorted(first + rest) == [0, 1]  # each point recorded once
        again = run_nbkit("runs", "collect", sweep_id, cwd=repo)
        assert again.returncode == 2
        assert_one_line_error(again.stderr, f"sweep {sweep_id} is not on the cluster")
    runs = _runs(repo)
    assert sorted(m["parameters"]["k"] for m in runs) == [0, 1]
    assert {m["sweep"] for m in runs} == {sweep_id}


# ---- the locked environment, built on the worker ----------------------------------------------


def _sweep_json(repo: Path, file: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = run_nbkit("sweep", "exp.ipynb", *args, "--dask", str(file), "--json", cwd=repo)
    return result.returncode, json.loads(result.stdout or "[]"), result.stderr


def test_a_dask_worker_builds_the_locked_environment_from_the_snapshot(
    repo: Path,
    offline_project: Callable[..., Path],
    experiment: Callable[..., Path],
    cli: Cli,
    uv_cache: str,
    elsewhere: tuple[Path, dict[str, str]],
) -> None:
    offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    offline_project("nbkitdemo_a\n", no_index=False)  # env may fetch ipykernel (install only)
    assert cli("env").code == 0  # the submitter runs in the project's locked environment
    experiment(
        "import sys, nbkit, nbkitdemo_a\n"
        "nbkit.record('version', nbkitdemo_a.VERSION)\n"
        "nbkit.record('python', sys.executable)",
        params="k = 0",
    )
    home, env = elsewhere
    env["UV_CACHE_DIR"] = uv_cache  # packages come from the wheels and the warm uv cache
    env["NBKIT_WORKER_CACHE"] = str(home / "envs")
    with _scheduler(home, env) as file, _process(_worker(file, home, env), home, env):
        code, outcomes, err = _sweep_json(repo, file, "-p", "k=0,1")
    assert code == 0, err
    runs = _runs(repo)
    assert [m["status"] for m in runs] == ["succeeded", "succeeded"]
    assert {m["metrics"]["version"] for m in runs} == {"1.1"}  # the lock, not the tool's env
    assert all(m["metrics"]["python"].startswith(str(home / "envs")) for m in runs)
    reasons = sorted(m["kernel"]["reason"] for m in runs)
    assert reasons == [
        "the project's locked environment, built on this worker",
        "the project's locked environment, reused on this worker",
    ]
    # a worker whose uv may use only managed Pythons, and has none: the point fails with
    # one line and a hint, the sweep goes on and exits 1
    env.update(
        UV_PYTHON_PREFERENCE="only-managed",
        UV_PYTHON_DOWNLOADS="never",
        UV_PYTHON_INSTALL_DIR=str(home / "no-pythons"),
        NBKIT_WORKER_CACHE=str(home / "other-envs"),
    )
    with _scheduler(home, env) as file, _process(_worker(file, home, env), home, env):
        code, outcomes, err = _sweep_json(repo, file, "-p", "k=2")
    assert code == 1, err
    [outcome] = outcomes
    assert outcome["status"] == "error" and outcome["run"] is None
    message = outcome["message"]
    assert "this worker cannot build the sweep's locked environment" in message
    assert "No interpreter found for Python" in message
    assert "(hint: give the worker uv (pip install 'nbkit-git[env]') and Python 3." in message
    assert "\n" not in message and "Traceback" not in message + err
