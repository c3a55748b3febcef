"""``nbkit rerun`` on real repositories, real git worktrees and real kernels.

Executions are the cost (a kernel start each): these tests run twelve in all, and build one
locked environment from local wheels. The "old" runs
whose environment differs are made by recording a real run and then writing an edited copy
of its manifest as a new ledger entry (test setup; nbkit itself never edits a manifest).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.recording import MIME_TYPE
from nbkit.runs.ledger import Ledger
from tests.conftest import assert_one_line_error, commit_all, git, read_nb, write_nb
from tests.env_helpers import offline_project, uv_cache, vendored, wheelhouse
from tests.runs_helpers import experiment, experiment_nb, kernel_name, manifest_of, only_run

# fixtures used by name
__all__ = ["experiment", "kernel_name", "offline_project", "uv_cache", "wheelhouse"]

Cli = Callable[..., Any]

IMAGE_CELL = (
    "import io\n"
    "from PIL import Image as Pil\n"
    "from IPython.display import Image\n"
    "buffer = io.BytesIO()\n"
    "Pil.new('RGB', (6, 4), (10, 120, 200)).save(buffer, 'PNG')\n"
    "Image(buffer.getvalue())"
)


def _state(repo: Path) -> tuple[str, str, str]:
    """What a rerun must leave alone: HEAD, the status, and the worktree list."""
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain", "--untracked-files=no"),
        git(repo, "worktree", "list", "--porcelain"),
    )


def _fake_entry(
    repo: Path, original: str, edit: Callable[[dict[str, Any], dict[str, Any]], None]
) -> str:
    """A new ledger entry: a copy of ``original`` with its manifest and notebook edited."""
    ledger = Ledger(repo)
    run = ledger.get(original)
    manifest = copy.deepcopy(run.manifest)
    nb = read_nb(run.executed_notebook)
    edit(manifest, nb)
    run_id, run_dir = ledger.new_run_dir()
    (run_dir / "executed.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    ledger.write(run_id, manifest, run_dir / "executed.ipynb")
    return run_id


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _hand_made(repo: Path, **fields: Any) -> str:
    """A ledger entry written by hand (no execution), for the bad-input cases."""
    ledger = Ledger(repo)
    run_id, _dir = ledger.new_run_dir()
    manifest = {"notebook": "exp.ipynb", "status": "succeeded", "parameters": {}, **fields}
    ledger.write(run_id, manifest, None)
    return run_id


def test_deterministic_run_reproduces_and_package_drift_is_named(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment(
        "import click, nbkit\nprint('lr is', lr)\nnbkit.record('score', lr * 2)\n"
        "nbkit.record('click', click.__version__)",
        IMAGE_CELL,
    )
    assert cli("run", "exp.ipynb").code == 0
    run_id = only_run(repo).name
    before = _state(repo)

    result = cli("rerun", run_id)
    assert result.code == 0, result.out + result.err
    assert "\nreproduced" in result.out
    assert "outputs      ok   4 outputs in 3 code cells match" in result.out
    assert "score = 0.2 (matches)" in result.out
    # the user's tree, HEAD and worktrees are as they were; the temp worktree is gone
    assert _state(repo) == before
    assert not (repo / ".git" / "nbkit-rerun").exists()
    new_id = result.out.split(" as run ")[1].split()[0]
    new_dir = repo / ".nbkit" / "runs" / new_id
    assert manifest_of(new_dir)["parent"] == run_id
    assert json.loads((new_dir / "rerun.json").read_text())["reproduced"] is True

    def drift(manifest: dict[str, Any], nb: dict[str, Any]) -> None:
        manifest["kernel"]["packages"]["click"] = "0.0.1"
        manifest["kernel"]["python"] = "3.0.1"
        manifest["metrics"]["click"] = "0.0.1"
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                record = output.get("data", {}).get(MIME_TYPE)
                if record and record["name"] == "click":
                    record["value"] = "0.0.1"
                    output["data"]["text/plain"] = "click = '0.0.1'"

    old_id = _fake_entry(repo, run_id, drift)
    result = cli("rerun", old_id)
    assert result.code == 1, result.out + result.err
    assert "metrics      DIFF" in result.out
    assert "likely cause: different Python: 3.0.1 -> 3." in result.out
    assert "likely cause: package drift: click 0.0.1 -> " in result.out
    assert "unseeded" not in result.out  # the drift explains it: no second execution
    assert "\nNOT reproduced: 1 metric differs; outputs differ" in result.out


def test_unseeded_randomness_is_detected_by_a_second_execution(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment("print('fixed')", "import random\nprint(random.random())")
    assert cli("run", "exp.ipynb").code == 0
    run_id = only_run(repo).name

    result = cli("rerun", run_id, "--json")
    assert result.code == 1, result.out + result.err
    report = json.loads(result.out)
    assert report["reproduced"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["inputs"]["ok"] and checks["environment"]["ok"]
    assert not checks["outputs"]["ok"] and not checks["stability"]["ok"]
    assert checks["outputs"]["details"][0].startswith("cell 3: text: ")
    assert report["causes"] == [
        "unseeded randomness: cell 3 differs between two executions with the same inputs "
        "and environment"
    ]


def test_dirty_patch_is_applied_and_changed_input_is_named(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    (repo / ".gitignore").write_text("data.txt\n")
    path = experiment("print(open('data.txt').read().strip())", "print('committed')")
    (repo / "data.txt").write_text("first\n")
    # an uncommitted edit: the run is dirty and stores the patch
    path.write_text(path.read_text().replace("print('committed')", "print('edited')"))
    assert cli("run", "exp.ipynb", "--allow-dirty", "--inputs", "data.txt").code == 0
    run_id = only_run(repo).name
    (repo / "data.txt").write_text("second\n")
    before = _state(repo)

    result = cli("rerun", run_id)
    assert result.code == 1, result.out + result.err
    assert "applied the recorded uncommitted changes" in result.out
    assert "notebook     ok   exp.ipynb as it ran (sha256 " in result.out
    assert "inputs       DIFF changed: data.txt" in result.out
    # only the data cell differs: the edited cell ran as recorded, so the patch was applied
    assert "cell 2: text: 'first' -> 'second'" in result.out
    assert "cell 3" not in result.out
    assert "likely cause: changed inputs: data.txt" in result.out
    assert _state(repo) == before  # the user's uncommitted edit is still there, untouched
    assert "print('edited')" in path.read_text()
    assert (repo / "data.txt").read_text() == "second\n"


def test_bad_input_is_one_line_and_changes_nothing(repo: Path, cli: Cli) -> None:
    (repo / "exp.ipynb").write_text("{}")
    head = commit_all(repo)
    unknown = cli("rerun", "20990101-000000-abcdef")
    assert unknown.code == 2
    assert_one_line_error(unknown.err, "unknown run id '20990101-000000-abcdef'")
    assert cli("rerun", "not-an-id").code == 2

    gone = _hand_made(repo, git={"commit": "0" * 40, "dirty": False})
    nowhere = _hand_made(repo, git={"commit": None, "dirty": True})
    at_head = _hand_made(repo, git={"commit": head, "dirty": False})
    absent = _hand_made(repo, notebook="gone.ipynb", git={"commit": head, "dirty": False})
    runs_before = sorted(p.name for p in (repo / ".nbkit" / "runs").iterdir())
    before = _state(repo)

    result = cli("rerun", gone)
    assert result.code == 2
    assert_one_line_error(result.err, gone, "000000000000, which no longer exists here")
    assert "garbage-collected" in result.err and "another clone" in result.err

    result = cli("rerun", absent)
    assert result.code == 2
    assert_one_line_error(result.err, f"{absent}: the run's notebook gone.ipynb is not in commit")

    result = cli("rerun", nowhere)
    assert result.code == 2
    assert_one_line_error(result.err, "recorded outside a git commit")

    result = cli("rerun", at_head, "--env", "locked")
    assert result.code == 2
    assert_one_line_error(result.err, "--env locked: the run's commit has no environment lock")

    (repo / ".git" / "nbkit-rerun").write_text("in the way")
    result = cli("rerun", at_head)
    assert result.code == 2
    assert_one_line_error(result.err, "nbkit-rerun: cannot create a worktree")
    (repo / ".git" / "nbkit-rerun").unlink()

    assert _state(repo) == before
    assert sorted(p.name for p in (repo / ".nbkit" / "runs").iterdir()) == runs_before


@pytest.mark.slow  # builds the locked environment, then starts its kernel
def test_env_locked_builds_the_locked_environment_and_reruns_in_it(
    repo: Path, offline_project: Callable[..., Path], wheelhouse: Path, cli: Cli
) -> None:
    offline_project("nbkitdemo_a==1.0\n")
    # offline: the lock resolves from the local wheels, ipykernel comes from the warm uv cache
    wheels = vendored(repo, wheelhouse)  # a repository's find_links stay inside it
    (repo / "nbkit.toml").write_text(f"[env]\nfind_links = [{wheels!r}]\noffline = true\n")
    (repo / ".gitignore").write_text(".venv/\n")
    assert cli("lock").code == 0
    assert cli("env").code == 0
    kernel = cli("env", "--print-kernel").out.strip()
    write_nb(repo / "exp.ipynb", experiment_nb("import nbkitdemo_a\nprint(nbkitdemo_a.VERSION)"))
    commit_all(repo)
    assert cli("run", "exp.ipynb", "--kernel", kernel).code == 0
    run_id = only_run(repo).name

    result = cli("rerun", run_id, "--env", "locked")
    assert result.code == 0, result.out + result.err
    assert "outputs      ok" in result.out
    new_id = result.out.split(" as run ")[1].split()[0]
    new = manifest_of(repo / ".nbkit" / "runs" / new_id)
    # it ran in a venv built from the lock in nbkit's cache, not in the project's .venv
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "nbkit" / "envs"
    assert new["kernel"]["executable"].startswith(str(cache))
    assert new["kernel"]["packages"]["nbkitdemo-a"] == "1.0"


def test_interrupted_rerun_exits_130_and_removes_its_worktree(
    repo: Path, experiment: Callable[..., Path], cli: Cli, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    from tests.runs_helpers import wait_for

    marker = tmp_path / "started"
    experiment(
        "import os, pathlib, time\n"
        "if 'NBKIT_TEST_MARKER' in os.environ:\n"
        "    pathlib.Path(os.environ['NBKIT_TEST_MARKER']).write_text('x')\n"
        "    time.sleep(120)"
    )
    assert cli("run", "exp.ipynb").code == 0
    run_id = only_run(repo).name
    before = _state(repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbkit", "rerun", run_id],
        cwd=repo,
        env={**os.environ, "NBKIT_TEST_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(marker)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _state(repo) == before
    assert not (repo / ".git" / "nbkit-rerun").exists()


def test_a_project_in_a_subfolder_of_the_repository_is_found_in_the_worktree(
    repo: Path, cli: Cli, monkeypatch: Any
) -> None:
    project = repo / "sub"
    project.mkdir()
    (project / "nbkit.toml").write_text("")
    (project / "exp.ipynb").write_text("{}")
    head = commit_all(repo)
    monkeypatch.chdir(project)
    ledger = Ledger(project)
    run_id, _dir = ledger.new_run_dir()
    manifest = {"notebook": "exp.ipynb", "status": "succeeded", "parameters": {}}
    ledger.write(run_id, {**manifest, "git": {"commit": head, "dirty": False}}, None)
    # the notebook is found at sub/exp.ipynb in the worktree: the rerun gets as far as
    # choosing the environment (no kernel is started)
    result = cli("rerun", run_id, "--env", "locked")
    assert result.code == 2
    assert_one_line_error(result.err, "--env locked: the run's commit has no environment lock")


def test_volatile_outputs_with_matching_metrics_reproduce_and_are_listed(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    volatile_cell = {
        "cell_type": "code",
        "source": "import random\nprint('noise', random.random())",
        "metadata": {"tags": ["volatile"]},
    }
    experiment(
        "import datetime, time, nbkit\nstart = time.perf_counter()\n"
        "print('started at', datetime.datetime.now())\nprint(object())",
        "%%time\ntotal = sum(range(1000))",
        "print(f'trained in {time.perf_counter() - start:.6f} s')\nnbkit.record('total', total)",
        volatile_cell,
    )
    assert cli("run", "exp.ipynb").code == 0
    run_id = only_run(repo).name

    result = cli("rerun", run_id)
    assert result.code == 0, result.out + result.err
    last = result.out.rstrip().splitlines()[-1]
    assert last.startswith("reproduced: 1 metric reproduced; "), last
    assert last.endswith("outputs differ only in volatile text"), last
    assert "volatile: cell 2: volatile: date and time, object address: 'started at 20" in result.out
    assert "volatile: cell 4: volatile: duration: 'trained in " in result.out
    assert "volatile: cell 5: volatile: tagged volatile: 'noise " in result.out
    assert "unseeded" not in result.out


def test_metrics_only_decides_on_metrics_and_reports_outputs(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment("import random, nbkit\nprint(random.random())\nnbkit.record('acc', 0.5)")
    assert cli("run", "exp.ipynb").code == 0
    run_id = only_run(repo).name

    result = cli("rerun", run_id, "--metrics-only", "--json")
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report["reproduced"] is True
    assert report["verdict"] == (
        "1 metric reproduced; outputs differ (not required: --metrics-only)"
    )
    assert [c["ok"] for c in report["checks"] if c["name"] == "outputs"] == [False]

    bare = _hand_made(repo, git={"commit": git(repo, "rev-parse", "HEAD").strip()})
    result = cli("rerun", bare, "--metrics-only")
    assert result.code == 2
    assert_one_line_error(result.err, f"{bare}: --metrics-only: run {bare} recorded no metrics")


def test_a_notebook_that_appends_to_the_file_it_read_reproduces(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    (repo / "data.csv").write_text("a\nb\n")
    experiment(
        "import nbkit\nrows = open('data.csv').read().splitlines()\nnbkit.record('rows', len(rows))",
        "with open('data.csv', 'a') as fh:\n    fh.write('c\\n')",
    )
    assert cli("run", "exp.ipynb").code == 0
    run_dir = only_run(repo)
    read = manifest_of(run_dir)["files_read"]
    assert read == [{"path": "data.csv", "size": 4, "sha256": _sha("a\nb\n"), "modified": True}]

    result = cli("rerun", run_dir.name)
    assert result.code == 0, result.out + result.err
    assert "inputs       ok   1 input file unchanged" in result.out


def test_an_untracked_module_the_notebook_imports_is_stored_and_named(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment("import nbkit, helpers\nnbkit.record('value', helpers.VALUE)")
    (repo / "helpers.py").write_text("VALUE = 42\n")  # written after the commit: untracked
    result = cli("run", "exp.ipynb")
    assert result.code == 0, result.err
    assert "the run read files git does not track: helpers.py (stored in its patch)" in result.err
    run_dir = only_run(repo)
    state = manifest_of(run_dir)["git"]
    assert state["dirty"] is True and state["untracked"] == ["helpers.py"]
    assert "untracked files read: helpers.py" in state["why"]
    assert b"+VALUE = 42" in (run_dir / "dirty.patch").read_bytes()

    result = cli("rerun", run_dir.name)
    assert result.code == 0, result.out + result.err
    assert "applied the recorded uncommitted changes (untracked: helpers.py)" in result.out

    def recorded_before_the_fix(manifest: dict[str, Any], nb: dict[str, Any]) -> None:
        manifest["git"] = {**manifest["git"], "dirty": False, "untracked": [], "why": ""}

    old_id = _fake_entry(repo, run_dir.name, recorded_before_the_fix)
    result = cli("rerun", old_id)
    assert result.code == 1, result.out + result.err
    assert "execution    DIFF cell 2 failed: ModuleNotFoundError: No module named 'helpers'" in (
        result.out
    )
    assert "| import nbkit, helpers" in result.out
    causes = [line for line in result.out.splitlines() if line.startswith("likely cause:")]
    assert causes == [
        "likely cause: untracked module: helpers.py is not in git, so the run's commit lacks "
        "it (add and commit it, then run again)"
    ]


def test_outside_files_and_declared_variables_are_checked_and_named(
    repo: Path, experiment: Callable[..., Path], cli: Cli, tmp_path: Path, monkeypatch: Any
) -> None:
    outside = tmp_path / "shared" / "labels.txt"
    outside.parent.mkdir()
    outside.write_text("3\n")
    (repo / "nbkit.toml").write_text('[runs]\nenv = ["DATA_VERSION"]\n')
    monkeypatch.setenv("DATA_VERSION", "v1")
    experiment(f"import nbkit\nnbkit.record('labels', int(open({str(outside)!r}).read()))")
    assert cli("run", "exp.ipynb").code == 0
    run_dir = only_run(repo)
    recorded = manifest_of(run_dir)
    assert [f["path"] for f in recorded["files_read"]] == [str(outside)]
    assert recorded["env"]["DATA_VERSION"] == "v1"

    outside.write_text("4\n")
    monkeypatch.setenv("DATA_VERSION", "v2")
    result = cli("rerun", run_dir.name)
    assert result.code == 1, result.out + result.err
    assert f"outside      DIFF changed: {outside}" in result.out
    assert "variables    DIFF DATA_VERSION v1 -> v2" in result.out
    causes = [line for line in result.out.splitlines() if line.startswith("likely cause:")]
    assert causes == [
        f"likely cause: changed files outside the project: {outside}",
        "likely cause: different environment variables: DATA_VERSION v1 -> v2",
    ]


def test_files_read_by_native_code_are_recorded_and_checked(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    (repo / ".gitignore").write_text("data/\n")
    (repo / "data").mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), repo / "data" / "train.parquet")
    np.save(repo / "data" / "w.npy", np.arange(4))
    experiment(
        "import nbkit, numpy as np, pyarrow.parquet as pq\n"
        "x = pq.read_table('data/train.parquet').column('x').to_pylist()\n"
        "nbkit.record('total', sum(x) + int(np.load('data/w.npy').sum()))"
    )
    assert cli("run", "exp.ipynb").code == 0
    run_dir = only_run(repo)
    recorded = manifest_of(run_dir)
    assert [f["path"] for f in recorded["files_read"]] == ["data/train.parquet", "data/w.npy"]
    assert recorded["native_reads"] == "watched"

    result = cli("rerun", run_dir.name)  # the data is ignored by git: copied from the checkout
    assert result.code == 0, result.out + result.err
    assert "inputs       ok   2 input files unchanged" in result.out

    pq.write_table(pa.table({"x": [1, 2, 4]}), repo / "data" / "train.parquet")
    result = cli("rerun", run_dir.name)
    assert result.code == 1, result.out + result.err
    assert "likely cause: changed inputs: data/train.parquet" in result.out


def test_causes_name_each_cell_once_and_list_what_was_not_checked() -> None:
    from nbkit.runs.checks import Check, Difference
    from nbkit.runs.verdict import likely_causes

    cell = [Difference("cell", "3", "text", "a"), Difference("cell", "3", "text", "b")]
    stability = Check("stability", False, ("cell 3: text: a", "cell 3: text: b"), (), tuple(cell))
    fine = {name: Check(name, True) for name in ("notebook", "inputs", "environment")}
    assert likely_causes(fine, stability, {}) == [
        "unseeded randomness: cell 3 differs between two executions with the same inputs and "
        "environment"
    ]
    unknown = (Difference("unchecked", "data.csv"),)
    fine["inputs"] = Check("inputs", True, ("not checked: data.csv",), (), unknown)
    (cause,) = likely_causes(fine, None, {"native_reads": "more than 2000 folders"})
    assert cause.startswith("unexplained: ") and "data.csv (changed during the run)" in cause
    assert "files read by native code (more than 2000 folders)" in cause


def test_a_run_that_read_no_files_says_so_in_the_inputs_check(tmp_path: Path) -> None:
    """`nbkit rerun` printed a bare `inputs ok` line, with nothing after it."""
    from nbkit.runs.checks import verify_inputs

    check = verify_inputs(tmp_path, tmp_path, {"inputs": [], "files_read": []})
    assert check.ok and check.details == ("none recorded (the run read no project files)",)
