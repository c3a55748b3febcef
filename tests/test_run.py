"""``nbkit run`` end to end on real ipykernel kernels through real papermill: the manifest,
failures, timeouts, a dying kernel, SIGINT/SIGTERM, dirty trees, concurrent runs.

Kernel starts cost seconds each, so every test executes at most two notebooks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.runs.execute import RunRequest, execute_to_dir
from nbkit.runs.ledger import Ledger
from tests.conftest import git, read_nb, write_nb
from tests.runs_helpers import (
    experiment,
    experiment_nb,
    kernel_name,
    manifest_of,
    nbkit_process,
    only_run,
    wait_for,
)

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

WORK = (
    "import nbkit, hashlib\n"
    "data = open('data.csv').read()\n"
    "nbkit.record('acc', lr * 2)\n"
    "nbkit.record('rows', len(data.splitlines()))\n"
    "print('trained', lr, epochs)"
)


def test_run_records_a_full_manifest(
    repo: Path, experiment: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    (repo / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (repo / "extra.txt").write_text("declared but unread\n")
    experiment(WORK)
    head = git(repo, "rev-parse", "HEAD").strip()
    result = cli("run", "exp.ipynb", "-p", "lr=0.5", "--inputs", "extra.txt")
    assert result.code == 0, result.err
    assert "succeeded" in result.err and "acc=1.0" in result.err
    run_dir = only_run(repo)
    m = manifest_of(run_dir)
    assert m["id"] == run_dir.name and m["status"] == "succeeded" and m["error"] is None
    assert m["notebook"] == "exp.ipynb" and len(m["notebook_sha256"]) == 64
    assert m["parameters"] == {"lr": 0.5}
    assert m["metrics"] == {"acc": 1.0, "rows": 3}
    assert m["git"] == {"commit": head, "branch": "main", "dirty": False, "why": ""}
    kernel = m["kernel"]
    assert kernel["name"] == "nbkit-test-python" and kernel["source"] == "notebook"
    assert kernel["python"] == ".".join(map(str, sys.version_info[:3]))
    assert kernel["executable"] == sys.executable and "ipykernel" in kernel["packages"]
    assert m["inputs"] == [{"path": "extra.txt", "size": 20, "sha256": _sha256(repo / "extra.txt")}]
    assert [f["path"] for f in m["files_read"]] == ["data.csv"]  # not the notebook, no libs
    assert m["experiment"] == {"objective": "learn", "hypothesis": "lr matters"}
    assert [c["cell"] for c in m["cells"]] == [1, None, 2]  # None: papermill's parameters
    assert all(isinstance(c["duration"], float) for c in m["cells"])
    assert m["platform"]["machine"] and m["started"] < m["ended"]
    executed = read_nb(run_dir / "executed.ipynb")
    tags = [c["metadata"].get("tags", []) for c in executed["cells"]]
    assert ["injected-parameters"] in tags
    counts = [c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code"]
    assert counts == [1, 2, 3], "nbkit's startup code must not show in the notebook"
    assert "trained 0.5 2" in json.dumps(executed["cells"][-1]["outputs"])
    assert sorted(p.name for p in run_dir.iterdir()) == ["executed.ipynb", "manifest.json"]
    listed = cli("runs")
    assert run_dir.name in listed.out and "lr=0.5" in listed.out


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failing_cell_exit_1_partial_notebook_current_interpreter(
    repo: Path, experiment: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    experiment("print('before')", "1 / 0", "print('never')", kernel="not-installed")
    result = cli("run", "exp.ipynb")
    assert result.code == 1
    assert "failed at cell 3: ZeroDivisionError: division by zero" in result.err
    run_dir = only_run(repo)
    m = manifest_of(run_dir)
    assert m["status"] == "failed"
    assert m["error"]["cell"] == 3 and m["error"]["ename"] == "ZeroDivisionError"
    assert m["error"]["evalue"] == "division by zero"
    # the notebook's kernel is not installed: this interpreter, and the manifest says why
    assert m["kernel"]["source"] == "interpreter" and "not-installed" in m["kernel"]["reason"]
    assert m["kernel"]["executable"] == sys.executable
    executed = json.dumps(read_nb(run_dir / "executed.ipynb"))
    assert "before" in executed and "never" not in executed.replace("print('never')", "")


def test_timeout_names_the_cell(
    repo: Path, experiment: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    experiment("x = 1", "import time\ntime.sleep(60)", "print('after')")
    result = cli("run", "exp.ipynb", "--timeout", "2")
    assert result.code == 1
    m = manifest_of(only_run(repo))
    assert m["status"] == "timed_out" and m["error"]["cell"] == 3
    assert m["timeout"] == 2.0 and "2 seconds" in m["error"]["evalue"]


def test_dying_kernel_is_a_failure_with_a_reason(
    repo: Path, experiment: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    experiment("import os\nos._exit(1)")
    result = cli("run", "exp.ipynb")
    assert result.code == 1
    m = manifest_of(only_run(repo))
    assert m["status"] == "failed" and m["error"]["cell"] == 2
    assert m["error"]["ename"] == "DeadKernelError" and "died" in m["error"]["reason"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_interrupts_and_keeps_partial_notebook(
    repo: Path, experiment: Callable[..., Path], sig: signal.Signals
) -> None:
    experiment(
        "print('first cell done')",
        "open('started.flag', 'w').close()\nimport time\ntime.sleep(120)",
    )
    with nbkit_process(repo, "run", "exp.ipynb") as proc:
        wait_for(repo / "started.flag")
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    run_dir = only_run(repo)
    m = manifest_of(run_dir)
    assert m["status"] == "interrupted" and m["error"]["cell"] == 3
    assert m["error"]["signal"] == sig.name
    assert "first cell done" in json.dumps(read_nb(run_dir / "executed.ipynb"))
    kernel_pids = _kernel_processes(repo)
    assert kernel_pids == [], f"kernel left running: {kernel_pids}"


def _kernel_processes(repo: Path) -> list[int]:
    """ipykernel processes whose working directory is the test repo."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if b"ipykernel_launcher" in cmdline and cwd == str(repo):
            pids.append(int(entry.name))
    return pids


def test_dirty_tree_refused_then_patch_stored(
    repo: Path, experiment: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    path = experiment("y = lr * 3\nprint(y)")
    nb = experiment_nb("y = lr * 4\nprint(y)")
    write_nb(path, nb)
    refused = cli("run", "exp.ipynb")
    assert refused.code == 2 and "uncommitted changes" in refused.err
    assert "--allow-dirty" in refused.err and not (repo / ".nbkit").exists()
    result = cli("run", "exp.ipynb", "--allow-dirty")
    assert result.code == 0, result.err
    run_dir = only_run(repo)
    m = manifest_of(run_dir)
    assert m["git"]["dirty"] is True and m["files"]["patch"] == "dirty.patch"
    patch = (run_dir / "dirty.patch").read_text()
    assert "lr * 4" in patch and "lr * 3" in patch


def test_concurrent_runs_do_not_race(repo: Path, experiment: Callable[..., Path]) -> None:
    experiment("import time\ntime.sleep(1)\nimport nbkit\nnbkit.record('lr', lr)")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nbkit", "run", "exp.ipynb", "-p", f"lr={lr}"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for lr in (1, 2)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    runs = Ledger(repo).list()
    assert len(runs) == 2 and len({r.id for r in runs}) == 2
    assert sorted(r.metrics["lr"] for r in runs) == [1, 2]
    assert all(r.manifest["env"]["OMP_NUM_THREADS"] == "1" for r in runs)
    assert len((repo / ".nbkit" / "runs" / "index.jsonl").read_text().splitlines()) == 2


def test_execute_to_dir_leaves_the_ledger_alone(
    repo: Path, experiment: Callable[..., Path], tmp_path: Path
) -> None:
    """The sweep path: execute in a scratch folder, the submitter records it."""
    experiment("import nbkit\nnbkit.record('double', lr * 2)")
    scratch = tmp_path / "scratch"
    request = RunRequest(notebook=repo / "exp.ipynb", root=repo, parameters={"lr": 2})
    manifest = execute_to_dir(request, scratch)
    assert not (repo / ".nbkit").exists()
    assert sorted(p.name for p in scratch.iterdir()) == ["executed.ipynb"]
    ledger = Ledger(repo)
    run_id, _ = ledger.new_run_dir()
    run = ledger.write(run_id, manifest, scratch / "executed.ipynb")
    assert run.metrics == {"double": 4} and run.executed_notebook.is_file()
    assert Ledger(repo).get(run_id).manifest["status"] == "succeeded"


def test_large_files_hashed_once_by_size_and_mtime(repo: Path) -> None:
    """The cache is keyed by path+size+mtime: same size and mtime -> the remembered hash."""
    from nbkit.cache import Cache
    from nbkit.runs.manifest import FileHashes, sha256_file

    big = repo / "big.bin"
    big.write_bytes(b"a" * (1 << 20))
    stat = big.stat()
    cache = Cache.for_root(repo)
    first = sha256_file(big, FileHashes(cache))
    cache.save()
    big.write_bytes(b"b" * (1 << 20))
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert sha256_file(big, FileHashes(Cache.for_root(repo))) == first  # not re-read
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    assert sha256_file(big, FileHashes(Cache.for_root(repo)))[1] == _sha256(big)


def test_manifest_pieces_without_a_kernel(tmp_path: Path) -> None:
    from nbkit.runs import manifest
    from tests.conftest import make_nb

    header = make_nb(("markdown", "# T\n## Objective\nfind x\n\n**Success metric:** acc > 0.9"))
    assert manifest.experiment_header(header) == {
        "objective": "find x",
        "success_metric": "acc > 0.9",
    }
    assert manifest.experiment_header(make_nb("x = 1")) is None
    env = {"OMP_NUM_THREADS": "1", "MKL_DYNAMIC": "0", "HOME": "/x", "PYTHONHASHSEED": "0"}
    assert manifest.numeric_env(env) == {k: v for k, v in env.items() if k != "HOME"}
    record = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"application/vnd.nbkit.record+json": {"name": "acc", "value": 0.5}},
    }
    nb = make_nb({"cell_type": "code", "source": "", "outputs": [record, record]})
    assert manifest.recorded_values(nb) == {"acc": 0.5}
    (tmp_path / "data.csv").write_text("x")
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "tool" / "fonts.json"  # tool state, not data
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("{}")
    (tmp_path / "gone.csv").write_text("y")
    out = tmp_path / "run"
    out.mkdir()
    (out / ".kernel.json").write_text("{}")
    reads = [tmp_path / "data.csv", tmp_path / "gone.csv", cache, Path(sys.executable)]
    reads.append(out / ".kernel.json")
    entries = [{"p": str(p), "s": p.stat().st_size, "m": p.stat().st_mtime_ns} for p in reads]
    entries += [{"p": str(tmp_path / "out.csv"), "w": 1}, {"p": str(tmp_path / "m.py"), "py": 1}]
    lines = [json.dumps(e) for e in entries]
    (out / ".reads.log").write_text("\n".join(lines) + '\n{"p": "torn')
    (tmp_path / "gone.csv").unlink()
    log = manifest.read_log(out)
    assert log.written == {tmp_path / "out.csv"} and log.modules == {tmp_path / "m.py"}
    found = manifest.data_reads(out, log.read, [])
    assert found == [tmp_path / "data.csv", tmp_path / "gone.csv"]
    assert manifest.data_reads(out, log.read, [tmp_path / "data.csv"]) == [tmp_path / "gone.csv"]
    assert manifest.fingerprint_reads(tmp_path, log, found, None) == [
        {"path": "data.csv", "size": 1, "sha256": _sha256(tmp_path / "data.csv")},
        {"path": "gone.csv", "size": 1, "sha256": None, "modified": True},
    ]


def test_second_ctrl_c_kills_a_kernel_that_ignores_the_first(
    repo: Path, experiment: Callable[..., Path]
) -> None:
    experiment(
        "import time\n"
        "open('started.flag', 'w').close()\n"
        "for _ in range(600):\n"
        "    try:\n"
        "        time.sleep(0.2)\n"
        "    except KeyboardInterrupt:\n"
        "        open('ignored.flag', 'w').close()\n"
    )
    with nbkit_process(repo, "run", "exp.ipynb") as proc:
        wait_for(repo / "started.flag")
        proc.send_signal(signal.SIGINT)
        wait_for(repo / "ignored.flag")  # the kernel got the interrupt and shrugged it off
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    m = manifest_of(only_run(repo))
    assert m["status"] == "interrupted" and m["error"]["cell"] == 2
    assert _kernel_processes(repo) == []


def test_template_header_is_recorded() -> None:
    from nbkit.notebook import read
    from nbkit.runs.manifest import experiment_header

    template = Path(__file__).resolve().parent.parent / "templates" / "experiment.ipynb"
    header = experiment_header(read(template))
    assert header is not None
    assert set(header) == {"objective", "hypothesis", "success_metric"}


def test_record_values_become_strict_json() -> None:
    import numpy as np

    from nbkit.recording import _check_value

    assert _check_value("acc", np.float32(0.5)) == 0.5
    assert _check_value("m", np.array([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert _check_value("bad", [1.0, float("nan")]) == [1.0, "nan"]
    assert _check_value("x", {"inf": float("inf")}) == {"inf": "inf"}
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        _check_value("obj", object())
    with pytest.raises(ValueError, match="64 KiB"):
        _check_value("big", "x" * 70000)


def test_ctrl_c_before_the_kernel_started_still_records_the_run(
    repo: Path, experiment: Callable[..., Path]
) -> None:
    """A signal that arrives while the kernel is starting (ipykernel ignores SIGINT then) is
    kept and delivered again once the kernel runs: the run ends interrupted, with a manifest."""
    experiment("import time\ntime.sleep(120)")
    runs = repo / ".nbkit" / "runs"
    with nbkit_process(repo, "run", "exp.ipynb") as proc:
        while proc.poll() is None and not (runs.is_dir() and only_run_or_none(runs)):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    m = manifest_of(only_run(repo))
    assert m["status"] == "interrupted" and m["error"]["signal"] == "SIGINT"
    assert _kernel_processes(repo) == []


def only_run_or_none(runs: Path) -> Path | None:
    folders = [p for p in runs.iterdir() if p.is_dir()]
    return folders[0] if folders else None
