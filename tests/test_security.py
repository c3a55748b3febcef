"""Security: only run, rerun and sweep may start a kernel; --help stays light.

Each command runs in a fresh interpreter with an audit hook that records every process it
spawns and, at exit, which kernel/execution modules were imported.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nbkit.cli.main import COMMANDS
from tests.conftest import commit_all, make_nb, write_nb

WRAPPER = r"""
import json, sys
spawned = []
def hook(event, args):
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system"):
        spawned.append(repr(args)[:400])
sys.addaudithook(hook)
opened = []
def watch_opens(event, args):
    if event == "open" and "secret.ipynb" in str(args[0]):
        opened.append(str(args[0]))
sys.addaudithook(watch_opens)
from nbkit.cli.main import main
code = main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {
    "papermill", "jupyter_client", "ipykernel", "nbclient", "nbformat", "jupytext", "nbdime",
    "git", "dask", "distributed", "matplotlib", "nh3", "PIL"})
with open(sys.argv[1], "w") as fh:
    json.dump({"code": code, "spawned": spawned, "loaded": loaded, "opened": opened}, fh)
"""

KERNEL_MARKERS = ("ipykernel", "kernel-", "jupyter", "papermill")
# jupytext imports jupyter_client's kernelspec lookup (no kernel); executing needs these:
EXECUTION_MODULES = {"papermill", "ipykernel", "nbclient"}


def _available(name: str) -> bool:
    entry = COMMANDS[name]
    try:
        return hasattr(importlib.import_module(entry[0]), entry[1])
    except ModuleNotFoundError:
        return False


def _traced(root: Path, *args: str) -> dict[str, object]:
    out = root.parent / "trace.json"
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    result: dict[str, object] = json.loads(out.read_text())
    return result


@pytest.fixture
def history(repo: Path) -> Path:
    nb = make_nb(("markdown", "# T\n"), "import os\nos.system('touch PWNED')\n")
    nb["cells"][1]["outputs"] = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"text/html": "<script>document.title='PWNED'</script>", "text/plain": "x"},
        }
    ]
    write_nb(repo / "a.ipynb", nb)
    commit_all(repo, "one")
    nb["cells"][1]["source"] = "import os\nos.system('touch PWNED2')\n"
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "new",
            "metadata": {},
            "source": "1/0",
            "outputs": [],
            "execution_count": None,
        }
    )
    write_nb(repo / "a.ipynb", nb)
    write_nb(repo / "b.ipynb", nb)
    commit_all(repo, "two")
    return repo


COMMAND_LINES = {
    "clean": ["clean", "a.ipynb"],
    "validate": ["validate", "a.ipynb"],
    "pair": ["pair", "b.ipynb"],
    "sync": ["sync", "a.ipynb"],
    "diff": ["diff", "HEAD~1", "HEAD", "--", "a.ipynb"],
    "review": ["review", "HEAD~1...HEAD", "--format", "html", "-o", "review.html"],
    "textconv": ["textconv", "a.ipynb"],
    "merge-driver": ["merge-driver", "a.ipynb", "b.ipynb", "a.ipynb", "b.ipynb"],
    "resolve": ["resolve", "a.ipynb"],
    "install": ["install"],
    "init": ["init"],
}


@pytest.mark.parametrize("name", sorted(COMMAND_LINES))
def test_no_kernel_is_started_outside_run(history: Path, name: str) -> None:
    assert _available(name), f"{name} is not built"
    trace = _traced(history, *COMMAND_LINES[name])
    spawned = [s for s in trace["spawned"] if any(m in s for m in KERNEL_MARKERS)]  # type: ignore[attr-defined]
    assert spawned == [], spawned
    assert EXECUTION_MODULES.isdisjoint(trace["loaded"]), trace["loaded"]  # type: ignore[arg-type]
    assert not (history / "PWNED").exists() and not (history / "PWNED2").exists()


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    trace = _traced(tmp_path / "w", "--help")
    assert trace["code"] == 0
    assert trace["loaded"] == [], trace["loaded"]
    assert trace["spawned"] == []


# --- runs: parameters are data; a tampered manifest cannot reach outside the repo -----------

from collections.abc import Callable  # noqa: E402

from tests.conftest import run_nbkit  # noqa: E402
from tests.runs_helpers import experiment, kernel_name, manifest_of, only_run  # noqa: E402,F401

HOSTILE = 'x\'); open("PWNED", "w").close(); (\'\n"""; import os; os.system("touch PWNED2") #\n'


def test_parameters_with_quotes_newlines_and_code_are_data(
    repo: Path,
    experiment: Callable[..., Path],  # noqa: F811
) -> None:
    experiment("import nbkit\nnbkit.record('got', name)\n", params="name = 'plain'")
    (repo / "params.yaml").write_text(
        "name: |\n" + "".join(f"  {line}\n" for line in HOSTILE.splitlines())
    )
    result = run_nbkit("run", "exp.ipynb", "-f", "params.yaml", "--allow-dirty", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert manifest_of(only_run(repo))["metrics"]["got"] == HOSTILE
    assert not (repo / "PWNED").exists() and not (repo / "PWNED2").exists()


def test_tampered_manifest_cannot_reach_outside_the_repo(
    repo: Path,
    experiment: Callable[..., Path],  # noqa: F811
) -> None:
    experiment("x = 1\n")
    assert run_nbkit("run", "exp.ipynb", cwd=repo).returncode == 0
    original = only_run(repo)
    secret = repo.parent / "secret.ipynb"
    secret.write_text("SECRET-CANARY")
    forged_id = "20990101-000000-abcdef"
    forged = original.parent / forged_id
    forged.mkdir()
    manifest = manifest_of(original)
    manifest.update(id=forged_id, notebook="../secret.ipynb")
    manifest.setdefault("files", {})["executed"] = "../../../../secret.ipynb"
    (forged / "manifest.json").write_text(json.dumps(manifest))
    for args in (
        ("runs", "show", forged_id),
        ("runs", "compare", original.name, forged_id),
        ("rerun", forged_id),
    ):
        trace = _traced(repo, *args)
        assert trace["opened"] == [], (args, trace["opened"])  # never even opened
        assert trace["code"] in (0, 1, 2), (args, trace)
    rerun = run_nbkit("rerun", forged_id, cwd=repo)
    assert rerun.returncode == 2 and "leaves the project" in rerun.stderr, rerun.stderr
