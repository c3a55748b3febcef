"""The artifact store: executed notebooks in git refs outside the branch, pushed and fetched
explicitly, restored on demand; the branch grows by manifests only."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import assert_one_line_error, commit_all, git, run_nbkit
from tests.runs_helpers import experiment, kernel_name, manifest_of

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

Cli = Callable[..., Any]

PLOT = (
    "import io, nbkit\n"
    "import numpy as np\n"
    "import matplotlib\n"
    "matplotlib.use('Agg')\n"
    "import matplotlib.pyplot as plt\n"
    "from IPython.display import Image, display\n"
    "rng = np.random.default_rng(seed)\n"
    "fig, ax = plt.subplots(figsize=(6, 4))\n"
    "ax.scatter(rng.random(3000), rng.random(3000), s=2)\n"
    "buf = io.BytesIO(); fig.savefig(buf, format='png', dpi=100)\n"
    "display(Image(buf.getvalue()))\n"
    "nbkit.record('seed', seed)"
)


def _sizes(repo: Path, objects: list[str]) -> dict[str, int]:
    proc = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname) %(objectsize)"],
        cwd=repo,
        input="\n".join(objects) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split()[0]: int(line.split()[1]) for line in proc.stdout.splitlines()}


def test_a_sweep_with_plots_grows_the_branch_by_manifests_only(
    repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment(PLOT, params="seed = 0")
    seeds = ",".join(str(i) for i in range(20))
    result = cli("sweep", "exp.ipynb", "-p", f"seed={seeds}")
    assert result.code == 0, result.out + result.err
    before = git(repo, "rev-parse", "HEAD").strip()
    commit_all(repo, "20 runs")  # what a user shares: everything git does not ignore
    added = git(repo, "diff-tree", "-r", "--no-commit-id", before, "HEAD").splitlines()
    paths = [line.split("\t")[1] for line in added]
    blobs = [line.split()[3] for line in added]
    sizes = _sizes(repo, blobs)
    grown = sum(sizes.values())
    runs = [p for p in (repo / ".nbkit" / "runs").iterdir() if (p / "manifest.json").is_file()]
    assert len(runs) == 20
    manifests = sum((p / "manifest.json").stat().st_size for p in runs)
    assert all(p.endswith(("manifest.json", ".gitignore", ".json")) for p in paths), paths
    record = sum(s for p, s in zip(paths, sizes.values(), strict=True) if "/sweeps/" in p)
    assert grown <= manifests + record + 200, (grown, manifests)
    # the executed notebooks (≈50 KB of plot each) are in the store, outside the branch
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/nbkit/runs/").split()
    assert sorted(r.rsplit("/", 1)[1] for r in refs) == sorted(p.name for p in runs)
    stored = 0
    for run in runs:
        m = manifest_of(run)
        blob = m["artifacts"]["executed.ipynb"]["blob"]
        stored += int(git(repo, "cat-file", "-s", blob))
        assert git(repo, "rev-parse", f"refs/nbkit/runs/{run.name}:executed.ipynb").strip() == blob
    assert stored > 20 * 20_000 > 20 * manifests / len(runs)
    branch = git(repo, "rev-list", "--objects", "HEAD").split()
    assert blob not in branch


def _share(
    tmp_path: Path, repo: Path, experiment: Callable[..., Path], cli: Cli
) -> tuple[Path, str]:
    experiment("import nbkit\nprint('hello ' * 3)\nnbkit.record('x', x)", params="x = 1")
    result = cli("sweep", "exp.ipynb", "-p", "x=1,2", "--json")
    assert result.code == 0, result.out + result.err
    run_id = json.loads(result.out)[0]["run"]
    commit_all(repo, "runs")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote, run_id


def test_push_fetch_and_on_demand_restore_through_a_bare_remote(
    tmp_path: Path, repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    remote, run_id = _share(tmp_path, repo, experiment, cli)
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", str(remote), str(mate))
    # manifests came with the branch; the executed notebook did not, and is not pushed yet
    show = run_nbkit("runs", "show", run_id, cwd=mate)
    assert show.returncode == 0, show.stderr
    assert f"missing: run {run_id}'s executed.ipynb is not here (not on origin either)" in (
        show.stdout
    )
    assert "nbkit runs push" in show.stdout
    pushed = run_nbkit("runs", "push", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed run artifacts (2 runs) to origin" in pushed.stderr
    assert len(git(remote, "for-each-ref", "refs/nbkit/runs/").splitlines()) == 2
    # on demand: show fetches the one run it needs
    show = run_nbkit("runs", "show", run_id, cwd=mate)
    assert show.returncode == 0, show.stderr
    executed = mate / ".nbkit" / "runs" / run_id / "executed.ipynb"
    assert f"executed   .nbkit/runs/{run_id}/executed.ipynb" in show.stdout
    assert (
        executed.read_bytes() == (repo / ".nbkit" / "runs" / run_id / "executed.ipynb").read_bytes()
    )
    assert git(mate, "status", "--porcelain") == ""  # the restored copy is ignored
    fetched = run_nbkit("runs", "fetch", cwd=mate)
    assert fetched.returncode == 0, fetched.stderr
    assert "fetched run artifacts from origin: 1 new runs" in fetched.stderr


def test_store_bad_input_is_one_line_with_a_hint(
    tmp_path: Path, repo: Path, experiment: Callable[..., Path], cli: Cli
) -> None:
    experiment("print(x)", params="x = 1")
    for verb in ("push", "fetch"):
        result = cli("runs", verb)
        assert result.code == 2
        assert_one_line_error(result.err, "no git remote to share run artifacts with")
        assert "hint: git remote add origin URL" in result.err
        result = cli("runs", verb, "nosuchremote")
        assert result.code == 2
        assert_one_line_error(result.err, f"git {verb} of run artifacts to/from 'nosuchremote'")
    # a store that cannot be written: refused before any kernel starts, nothing recorded
    (repo / ".git" / "refs" / "nbkit").write_text("not a folder\n")
    result = cli("sweep", "exp.ipynb", "-p", "x=1,2")
    assert result.code == 2
    assert_one_line_error(result.err, "the run artifact store (git refs under refs/nbkit/runs/)")
    assert "hint: check the permissions" in result.err
    assert not (repo / ".nbkit" / "runs" / "sweeps").exists()
