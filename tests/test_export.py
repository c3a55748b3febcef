"""``nbkit runs export --mlflow``: against a real ``mlflow server`` (SQLite backend, loopback)
started by the test; waits poll its health endpoint, bounded."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_one_line_error, commit_all, run_nbkit
from tests.runs_helpers import experiment, kernel_name

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

Cli = Callable[..., Any]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "mlflow"
    folder.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "server.log").open("w")
    args = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--workers", "1"]
    args += ["--artifacts-destination", str(folder / "artifacts")]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner
    proc = subprocess.Popen(
        args, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600  # a loaded machine imports mlflow slowly
        while not _healthy(url):  # readiness: the health endpoint answers
            assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server never became healthy"
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


BODY = (
    "import nbkit\n"
    "for step in range(3):\n"
    "    nbkit.record('loss', lr * (3 - step), step=step)\n"
    "nbkit.record('accuracy', 0.5 + lr)\n"
    "nbkit.record('optimizer', 'adam')"
)


def test_export_logs_each_run_once_with_params_metrics_tags_and_notebook(
    repo: Path, experiment: Callable[..., Path], cli: Cli, mlflow_server: str
) -> None:
    from mlflow.tracking import MlflowClient

    experiment(BODY, params="lr = 0.1")
    result = cli("sweep", "exp.ipynb", "-p", "lr=0.1,0.2", "--json")
    assert result.code == 0, result.out + result.err
    ids = [o["run"] for o in json.loads(result.out)]  # grid order: lr=0.1 first
    commit_all(repo, "runs")
    rerun = run_nbkit("rerun", ids[0], cwd=repo)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    first = cli("runs", "export", "--mlflow", mlflow_server)
    assert first.code == 0, first.out + first.err
    assert "3 runs, 3 new in MLflow" in first.err
    again = cli("runs", "export", "--mlflow", mlflow_server, ids[0])
    assert again.code == 0, again.err
    assert "1 runs, 0 new" in again.err and "already there" in again.out

    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("exp.ipynb")
    found = client.search_runs([exp.experiment_id], max_results=100)
    assert len(found) == 3  # two sweep runs and the rerun, each once
    by_id = {r.data.tags["nbkit.run_id"]: r for r in found}
    run = by_id[ids[0]]
    manifest = json.loads((repo / ".nbkit" / "runs" / ids[0] / "manifest.json").read_text())
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics["accuracy"] == pytest.approx(0.6)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [
        (0, pytest.approx(0.3)),
        (1, pytest.approx(0.2)),
        (2, pytest.approx(0.1)),
    ]
    tags = run.data.tags
    assert tags["nbkit.commit"] == manifest["git"]["commit"]
    assert tags["nbkit.dirty"] == "false"
    assert tags["nbkit.notebook"] == "exp.ipynb"
    assert tags["nbkit.notebook_sha256"] == manifest["notebook_sha256"]
    assert tags["nbkit.lock_hash"] == str(manifest["lock_hash"])
    assert tags["nbkit.platform"].startswith(manifest["platform"]["system"])
    assert tags["nbkit.metric.optimizer"] == "adam"
    assert run.info.status == "FINISHED"
    [rerun_run] = [r for r in found if r.data.tags.get("nbkit.parent") == ids[0]]
    assert rerun_run.data.tags["nbkit.rerun.verdict"] == "reproduced"
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert artifacts == ["executed.ipynb"]


def test_export_bad_input(repo: Path, experiment: Callable[..., Path], cli: Cli) -> None:
    experiment("print(1)", params="lr = 0.1")
    url = f"http://127.0.0.1:{_free_port()}"
    result = cli("runs", "export", "--mlflow", url)
    assert result.code == 2
    assert_one_line_error(result.err, f"--mlflow: no MLflow tracking server answered at {url}")
    assert "hint: start one with: mlflow server" in result.err
    result = cli("runs", "export", "--mlflow", url, "20990101-000000-abcdef")
    assert result.code == 2
    assert_one_line_error(result.err, "unknown run id '20990101-000000-abcdef'")


def test_the_hook_path_never_imports_mlflow(repo: Path) -> None:
    code = (
        "import sys\n"
        "from nbkit.cli.main import main\n"
        "try:\n"
        "    main(['runs', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import nbkit.hooks.commit, nbkit.runs.sweep, nbkit.runs.ledger\n"
        "print('mlflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert "export" in out.stdout
    assert out.stdout.strip().endswith("False")


def test_configured_mlflow_exports_every_run_and_a_dead_server_only_warns(
    repo: Path,
    experiment: Callable[..., Path],
    cli: Cli,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The team's server, committed; each user consents with NBKIT_MLFLOW (without it the
    setting is ignored: tests/test_security_runs_config.py)."""
    from mlflow.tracking import MlflowClient

    experiment(BODY, params="lr = 0.1")
    dead = f"http://127.0.0.1:{_free_port()}"
    (repo / "nbkit.toml").write_text(f'[runs]\nmlflow = "{dead}"\n')
    commit_all(repo, "export to a server that is down")
    monkeypatch.setenv("NBKIT_MLFLOW", dead)
    offline = cli("run", "exp.ipynb", "-p", "lr=0.3")
    assert offline.code == 0, offline.err  # recorded: the export is not the run
    [lost] = [p.name for p in (repo / ".nbkit" / "runs").iterdir() if p.name[0].isdigit()]
    assert f"warning: run {lost} is recorded but was not exported to MLflow at {dead}" in (
        offline.err
    )
    assert f"hint: nbkit runs export --mlflow {dead} exports every run it lacks" in offline.err
    assert "Traceback" not in offline.err
    warnings = [line for line in offline.err.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    (repo / "nbkit.toml").write_text(f'[runs]\nmlflow = "{mlflow_server}"\n')
    commit_all(repo, "export to the team's server")
    monkeypatch.setenv("NBKIT_MLFLOW", mlflow_server)
    swept = cli("sweep", "exp.ipynb", "-p", "lr=0.1,0.2", "--json")
    assert swept.code == 0, swept.err
    assert "warning" not in swept.err
    ids = {o["run"] for o in json.loads(swept.out)}
    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("exp.ipynb")
    found = client.search_runs([exp.experiment_id], max_results=100)
    assert {r.data.tags["nbkit.run_id"] for r in found} == ids  # exported as recorded
    assert {r.data.params["lr"] for r in found} == {"0.1", "0.2"}
    caught_up = cli("runs", "export", "--mlflow", mlflow_server)
    assert caught_up.code == 0, caught_up.err
    assert "3 runs, 1 new in MLflow" in caught_up.err  # only the run the dead server missed
    found = client.search_runs([exp.experiment_id], max_results=100)
    assert {r.data.tags["nbkit.run_id"] for r in found} == ids | {lost}
