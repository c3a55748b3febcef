"""``nbkit sweep``: the grid (pure), local worker processes and a real Dask LocalCluster.

About eleven executions in all: four on the local pool (one fails on purpose), three or
four for the run that kills its worker (its co-runner is retried), three on Dask workers.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nbkit.errors import BadInput
from nbkit.runs.sweep import parse_grid
from tests.conftest import assert_one_line_error, git
from tests.runs_helpers import experiment, kernel_name, manifest_of

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

Cli = Callable[..., Any]

PARAMS = "lr = 0.1\ndepth = 3"
BODY = (
    "import os, nbkit\n"
    "if depth == 5 and lr == 0.01:\n"
    "    raise ValueError('diverged')\n"
    "nbkit.record('score', lr * depth)\n"
    "nbkit.record('worker_pid', os.getppid())"
)


# ---- the grid -------------------------------------------------------------------------------


def test_grid_is_the_cartesian_product_of_yaml_values() -> None:
    grid = parse_grid(["lr=0.1,0.01", "depth=3,5"])
    assert grid == (
        {"lr": 0.1, "depth": 3},
        {"lr": 0.1, "depth": 5},
        {"lr": 0.01, "depth": 3},
        {"lr": 0.01, "depth": 5},
    )
    assert parse_grid(["layers=[64,32],[8]", "name=a, 'b,c'", "on=true,maybe"]) == tuple(
        {"layers": layers, "name": name, "on": on}
        for layers in ([64, 32], [8])
        for name in ("a", "b,c")
        for on in (True, "maybe")
    )
    assert parse_grid(["seed=1"]) == ({"seed": 1},)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("lr", "expected NAME=VALUE"),
        ("2lr=1", "expected NAME=VALUE"),
        ("lr=", "no values for 'lr'"),
        ("lr=[1,", "not valid YAML"),
    ],
)
def test_bad_grid_specs_are_bad_input(spec: str, problem: str) -> None:
    with pytest.raises(BadInput, match=problem):
        parse_grid([spec])


def test_a_parameter_given_twice_or_a_huge_grid_is_bad_input() -> None:
    with pytest.raises(BadInput, match="'lr' given twice"):
        parse_grid(["lr=1", "lr=2"])
    ten = ",".join(str(i) for i in range(10))
    with pytest.raises(BadInput, match="the grid has 100,000 points, more than 10,000"):
        parse_grid([f"{name}={ten}" for name in "abcde"])


def test_apostrophes_inside_values_are_not_quotes() -> None:
    assert parse_grid(["note=it's,fine"]) == ({"note": "it's"}, {"note": "fine"})


def test_sweep_bad_input_is_one_line_before_any_kernel_starts(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment(BODY, params=PARAMS)
    cases = [
        (["-p", "lr"], "-p lr: expected NAME=VALUE"),
        (["-p", "momentum=0.9"], "parameter momentum is not declared"),
        ([], "no parameter grid given"),
        (["-p", "lr=1", "--dask", "not an address"], "--dask: expected a scheduler address"),
    ]
    for args, needle in cases:
        result = cli("sweep", "exp.ipynb", *args)
        assert result.code == 2, (args, result.err)
        assert_one_line_error(result.err, needle)
    missing = cli("sweep", "missing.ipynb", "-p", "lr=1")
    assert missing.code == 2
    assert_one_line_error(missing.err, "missing.ipynb: no such file")
    (repo / "exp.ipynb").write_text((repo / "exp.ipynb").read_text().replace("0.1", "0.2"))
    dirty = cli("sweep", "exp.ipynb", "-p", "lr=1")
    assert dirty.code == 2
    assert_one_line_error(dirty.err, "refusing a run that cannot be reproduced")
    assert not (repo / ".nbkit" / "runs").exists() or not [
        p for p in (repo / ".nbkit" / "runs").iterdir() if p.is_dir()
    ]


# ---- local processes ------------------------------------------------------------------------


def _runs(repo: Path) -> list[dict[str, Any]]:
    folder = repo / ".nbkit" / "runs"
    return [manifest_of(p) for p in sorted(folder.iterdir()) if (p / "manifest.json").is_file()]


def test_local_sweep_runs_every_point_and_a_failure_does_not_stop_it(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment(BODY, params=PARAMS)
    result = cli("sweep", "exp.ipynb", "-p", "lr=0.1,0.01", "-p", "depth=3,5", "--workers", "2")
    assert result.code == 1, result.out + result.err  # one run failed
    # progress: one plain line per finished run (stderr is not a terminal here)
    progress = [line for line in result.err.splitlines() if line.startswith("[")]
    assert sorted(line.split("]")[0] for line in progress) == ["[1/4", "[2/4", "[3/4", "[4/4"]
    lines = result.out.splitlines()
    assert lines[-1] == "4 runs, 3 succeeded, 1 failed"
    # the summary lists every outcome, in grid order
    assert [line.split()[0] for line in lines[:4]] == ["succeeded"] * 3 + ["failed"]
    assert "lr=0.01 depth=5  ValueError: diverged" in lines[3]

    runs = _runs(repo)
    assert len(runs) == 4
    by_params = {(m["parameters"]["lr"], m["parameters"]["depth"]): m for m in runs}
    assert by_params[(0.1, 5)]["metrics"]["score"] == 0.5
    assert by_params[(0.01, 5)]["status"] == "failed"
    assert by_params[(0.01, 5)]["error"]["ename"] == "ValueError"
    # every run has its executed notebook in its own folder
    for m in runs:
        assert (repo / ".nbkit" / "runs" / m["id"] / "executed.ipynb").is_file()
    # two worker processes were reused across the four runs
    pids = {m["metrics"]["worker_pid"] for m in runs if m["status"] == "succeeded"}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_a_run_that_kills_its_worker_fails_alone(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment(
        "import os, signal, time\n"
        "if k == 1:\n"
        "    os.kill(os.getppid(), signal.SIGKILL)  # the worker process, not the kernel\n"
        "    time.sleep(10)\n"
        "print(k)",
        params="k = 0",
    )
    result = cli("sweep", "exp.ipynb", "-p", "k=0,1,2", "--workers", "2")
    assert result.code == 1, result.out + result.err
    lines = result.out.splitlines()
    assert lines[-1] == "3 runs, 2 succeeded, 1 failed"
    assert lines[1].startswith("error") and lines[1].endswith("k=1  its worker process died")
    assert sorted(m["parameters"]["k"] for m in _runs(repo)) == [0, 2]


# ---- Dask -----------------------------------------------------------------------------------


@pytest.fixture
def dask_cluster() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster
    finally:
        with Client(cluster) as client:
            client.shutdown()
        cluster.close()


def test_dask_sweep_runs_on_workers_and_only_the_submitter_writes_the_ledger(
    repo: Path, experiment: Callable[..., Path], cli: Cli, dask_cluster: Any
) -> None:
    from distributed import Client

    experiment(BODY, params=PARAMS)
    with Client(dask_cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
    address = dask_cluster.scheduler_address
    result = cli("sweep", "exp.ipynb", "-p", "lr=0.1,0.2,0.3", "--dask", address, "--json")
    assert result.code == 0, result.out + result.err
    outcomes = json.loads(result.out)
    assert [o["status"] for o in outcomes] == ["succeeded"] * 3
    runs = _runs(repo)
    assert sorted(m["parameters"]["lr"] for m in runs) == [0.1, 0.2, 0.3]
    assert sorted(o["run"] for o in outcomes) == sorted(m["id"] for m in runs)
    # each kernel's parent process was a Dask worker, not this process
    assert {m["metrics"]["worker_pid"] for m in runs} <= worker_pids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_dask_address_that_does_not_answer_is_bad_input(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment(BODY, params=PARAMS)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = cli("sweep", "exp.ipynb", "-p", "lr=0.1", "--dask", address)
    assert result.code == 2
    assert_one_line_error(
        result.err, f"--dask: no Dask scheduler answered at {address} within 10 s"
    )
    assert "hint: start one with: dask scheduler" in result.err


def test_progress_is_plain_lines_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """(On a terminal it is tqdm's bar: tests/test_terminal.py drives a real one.)"""
    import io

    from nbkit.cli.experiments import _Progress
    from nbkit.runs.sweep import Outcome

    outcomes = [
        Outcome(0, {"lr": 0.1}, "succeeded", "r1", ""),
        Outcome(1, {"lr": 0.2}, "failed", "r2", "ValueError"),
    ]
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    progress = _Progress()
    for done, outcome in enumerate(outcomes, start=1):
        progress(outcome, done, len(outcomes))
    assert stream.getvalue() == "[1/2] lr=0.1: succeeded\n[2/2] lr=0.2: failed\n"
