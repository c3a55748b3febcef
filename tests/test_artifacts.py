"""The artifact store: executed notebooks in git refs outside the branch, pushed and fetched
explicitly, restored on demand; the branch grows by manifests only."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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


# ---- a folder or fsspec URL store ([tool.nbkit.runs] artifacts) ------------------------------


def _configure_store(repo: Path, setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The team's store, committed; a store outside the repository is used only with the
    user's consent (tests/test_security_runs_config.py), given here as they would."""
    (repo / "nbkit.toml").write_text(f"[runs]\nartifacts = {setting!r}\n")
    commit_all(repo, "artifact store")
    monkeypatch.setenv("NBKIT_ARTIFACTS", setting)


def test_a_folder_store_is_content_addressed_and_restores_on_demand(
    tmp_path: Path,
    repo: Path,
    experiment: Callable[..., Path],
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hashlib

    store = tmp_path / "team-store"
    experiment("import nbkit\nprint('hello ' * 3)\nnbkit.record('x', x)", params="x = 1")
    _configure_store(repo, str(store), monkeypatch)
    result = cli("sweep", "exp.ipynb", "-p", "x=1,2", "--json")
    assert result.code == 0, result.out + result.err
    ids = [o["run"] for o in json.loads(result.out)]
    for run_id in ids:
        run = repo / ".nbkit" / "runs" / run_id
        data = (run / "executed.ipynb").read_bytes()
        entry = manifest_of(run)["artifacts"]["executed.ipynb"]
        sha = hashlib.sha256(data).hexdigest()
        assert entry == {"sha256": sha, "size": len(data)}
        assert (store / "objects" / sha[:2] / sha).read_bytes() == data
        assert json.loads((store / "runs" / f"{run_id}.json").read_text()) == {
            "executed.ipynb": sha
        }
    assert git(repo, "for-each-ref", "refs/nbkit/runs/") == ""  # nothing in git refs
    commit_all(repo, "runs")
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", str(repo), str(mate))
    rerun = run_nbkit("rerun", ids[0], cwd=mate)  # compares with the executed notebook: fetched
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "reproduced" in rerun.stdout
    show = run_nbkit("runs", "show", ids[0], cwd=mate)
    assert show.returncode == 0, show.stderr
    assert f"executed   .nbkit/runs/{ids[0]}/executed.ipynb" in show.stdout
    restored = mate / ".nbkit" / "runs" / ids[0] / "executed.ipynb"
    assert (
        restored.read_bytes() == (repo / ".nbkit" / "runs" / ids[0] / "executed.ipynb").read_bytes()
    )
    # a tampered object is never handed out: what is read back must match its digest
    sha = manifest_of(repo / ".nbkit" / "runs" / ids[1])["artifacts"]["executed.ipynb"]["sha256"]
    (store / "objects" / sha[:2] / sha).write_bytes(b"{}")
    show = run_nbkit("runs", "show", ids[1], cwd=mate)
    assert show.returncode == 0, show.stderr
    assert f"missing: run {ids[1]}'s executed.ipynb is not here nor in the artifact store" in (
        show.stdout
    )
    assert "nbkit runs push" in show.stdout
    assert not (mate / ".nbkit" / "runs" / ids[1] / "executed.ipynb").exists()


def test_push_and_fetch_move_git_stored_runs_into_an_fsspec_store(
    tmp_path: Path,
    repo: Path,
    experiment: Callable[..., Path],
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "bucket"
    experiment("import nbkit\nnbkit.record('x', x)", params="x = 1")
    result = cli("sweep", "exp.ipynb", "-p", "x=1,2", "--json")  # stored in git refs
    assert result.code == 0, result.out + result.err
    ids = [o["run"] for o in json.loads(result.out)]
    _configure_store(repo, store.as_uri(), monkeypatch)  # file:///...: through fsspec
    pushed = run_nbkit("runs", "push", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert f"stored run artifacts (2 new runs, 2 in all) in {store.as_uri()}" in pushed.stderr
    assert sorted(p.name for p in (store / "runs").iterdir()) == sorted(f"{i}.json" for i in ids)
    again = run_nbkit("runs", "push", cwd=repo)
    assert "(0 new runs, 2 in all)" in again.stderr
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", str(repo), str(mate))  # no refs/nbkit: only the store has them
    show = run_nbkit("runs", "show", ids[0], cwd=mate)
    assert show.returncode == 0 and "missing" not in show.stdout, show.stdout + show.stderr
    fetched = run_nbkit("runs", "fetch", cwd=mate)
    assert fetched.returncode == 0, fetched.stderr
    assert f"fetched run artifacts from {store.as_uri()}: 1 files" in fetched.stderr
    for run_id in ids:
        mine = mate / ".nbkit" / "runs" / run_id / "executed.ipynb"
        assert (
            mine.read_bytes() == (repo / ".nbkit" / "runs" / run_id / "executed.ipynb").read_bytes()
        )


def test_a_store_that_cannot_be_written_refuses_before_any_kernel(
    tmp_path: Path,
    repo: Path,
    experiment: Callable[..., Path],
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    experiment("print(x)", params="x = 1")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the store's folder should be\n")
    _configure_store(repo, str(blocked / "store"), monkeypatch)
    for args in (("sweep", "exp.ipynb", "-p", "x=1,2"), ("run", "exp.ipynb")):
        result = cli(*args)
        assert result.code == 2, result.err
        assert_one_line_error(
            result.err, f"the run artifact store {blocked / 'store'} is not writable"
        )
        assert "hint: check that the folder or URL exists" in result.err
    assert not (repo / ".nbkit" / "runs").exists()  # nothing started, nothing half-recorded
    result = cli("runs", "push", "origin")
    assert result.code == 2
    assert_one_line_error(result.err, f"the run artifact store is {blocked / 'store'}, not a git")
    assert "hint: leave REMOTE out" in result.err
