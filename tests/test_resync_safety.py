"""Re-sync safety: `git checkout`, `git pull` and `git merge` (through the hooks that
`nbkit install` puts in place) never overwrite work git cannot see.

A side may be overwritten only when its cells are an agreed state of the pair (its version in
the commit being left, or the last in-step state nbkit wrote or saw); anything else is a
conflict that writes nothing and names both files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit import config
from nbkit.cache import Cache
from nbkit.pairing.sync import resolve_pairs, sync_pairs
from tests.conftest import commit_all, git, read_nb, run_nbkit, write_nb
from tests.hooks_helpers import clean_nb, declare_pairing, sh


def _source(nb_path: Path) -> str:
    return "".join(read_nb(nb_path)["cells"][1]["source"])


def _synced(root: Path, name: str = "a") -> None:
    """Pair ``name``.ipynb as a user of nbkit would: the sync that created the script
    remembers the pair's agreed state."""
    cache = Cache.for_root(root)
    cfg = config.load(root)
    sync_pairs(resolve_pairs([root / f"{name}.ipynb"], cfg), cfg, cache=cache)
    cache.save()


def _jupytext_project(root: Path) -> None:
    """The common jupytext set-up: only the script is committed, notebooks are git-ignored."""
    declare_pairing(root)
    (root / ".gitignore").write_text("*.ipynb\n")
    write_nb(root / "a.ipynb", clean_nb("x = 1"))
    _synced(root)
    commit_all(root, "script only")
    assert git(root, "ls-files").split() == [".gitignore", "a.py", "nbkit.toml"]


def _edit_script_on_branch(root: Path, branch: str, value: str) -> None:
    git(root, "checkout", "-q", "-b", branch)
    script = root / "a.py"
    script.write_text(script.read_text().replace("x = 1", value))
    git(root, "commit", "-q", "--no-verify", "-am", "script edit")
    git(root, "checkout", "-q", "main")


def test_ignored_notebook_edit_survives_checkout(repo: Path, cli: Callable[..., Any]) -> None:
    _jupytext_project(repo)
    _edit_script_on_branch(repo, "other", "x = 2")
    assert cli("install").code == 0
    write_nb(repo / "a.ipynb", clean_nb("x = 'unsynced edit'"))
    before = (repo / "a.ipynb").read_bytes()
    proc = sh(repo, "git", "checkout", "other")
    assert (repo / "a.ipynb").read_bytes() == before
    assert proc.returncode == 1, proc.stderr  # git checked out; nbkit reports the conflict
    assert "a.ipynb" in proc.stderr and "a.py" in proc.stderr and "nothing written" in proc.stderr


def test_ignored_notebook_without_edits_follows_checkout(
    repo: Path, cli: Callable[..., Any]
) -> None:
    _jupytext_project(repo)
    _edit_script_on_branch(repo, "other", "x = 2")
    assert cli("install").code == 0
    proc = sh(repo, "git", "checkout", "other")
    assert proc.returncode == 0, proc.stderr
    assert _source(repo / "a.ipynb") == "x = 2"


def test_ignored_notebook_edit_survives_pull(tmp_path: Path, repo: Path) -> None:
    _jupytext_project(repo)
    remote, bob = tmp_path / "remote.git", tmp_path / "bob"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(bob))
    git(repo, "remote", "add", "origin", str(remote))
    assert run_nbkit("install", cwd=bob).returncode == 0
    write_nb(bob / "a.ipynb", read_nb(repo / "a.ipynb"))  # bob opened the script in Jupyter
    assert run_nbkit("sync", "a.ipynb", cwd=bob).returncode == 0
    write_nb(bob / "a.ipynb", clean_nb("x = 'bob, unsynced'"))
    before = (bob / "a.ipynb").read_bytes()
    script = repo / "a.py"  # alice changes the script and pushes
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    git(repo, "commit", "-q", "--no-verify", "-am", "alice")
    git(repo, "push", "-q", "origin", "main")
    proc = sh(bob, "git", "pull", "-q", "--no-rebase", "origin", "main")
    assert (bob / "a.ipynb").read_bytes() == before
    assert "x = 2" in (bob / "a.py").read_text()  # git's part happened
    assert "a.ipynb" in proc.stderr and "a.py" in proc.stderr, proc.stderr


def test_unadded_script_edit_survives_checkout(repo: Path, cli: Callable[..., Any]) -> None:
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    git(repo, "add", "a.ipynb", "nbkit.toml")
    git(repo, "commit", "-q", "--no-verify", "-m", "notebook only")
    git(repo, "checkout", "-q", "-b", "other")
    write_nb(repo / "a.ipynb", clean_nb("x = 2"))
    git(repo, "commit", "-q", "--no-verify", "-am", "notebook edit")
    git(repo, "checkout", "-q", "main")
    _synced(repo)  # a.py appears, not added
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 'my edit'"))
    before = script.read_bytes()
    assert cli("install").code == 0
    proc = sh(repo, "git", "checkout", "other")
    assert script.read_bytes() == before
    assert proc.returncode == 1 and "a.ipynb" in proc.stderr and "a.py" in proc.stderr


def test_unrelated_untracked_module_is_not_overwritten(repo: Path, cli: Callable[..., Any]) -> None:
    declare_pairing(repo)
    commit_all(repo, "config")
    git(repo, "checkout", "-q", "-b", "other")
    write_nb(repo / "utils.ipynb", clean_nb("x = 1"))
    git(repo, "add", "utils.ipynb")
    git(repo, "commit", "-q", "--no-verify", "-m", "a notebook named utils")
    git(repo, "checkout", "-q", "main")
    utils = repo / "utils.py"
    utils.write_text("def helper():\n    return 42\n")  # untracked, nothing to do with it
    assert cli("install").code == 0
    proc = sh(repo, "git", "checkout", "other")
    assert utils.read_text() == "def helper():\n    return 42\n"
    assert proc.returncode == 1, proc.stderr
    assert "utils.ipynb" in proc.stderr and "utils.py" in proc.stderr
    assert "commit them" not in proc.stderr  # nothing was written, nothing to commit


def test_pulled_runs_stay_outside_the_resync(tmp_path: Path, repo: Path) -> None:
    """The run ledger is outside every hook: pulling a teammate's runs writes nothing."""
    declare_pairing(repo)
    commit_all(repo, "config")
    remote, bob = tmp_path / "remote.git", tmp_path / "bob"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(bob))
    git(repo, "remote", "add", "origin", str(remote))
    assert run_nbkit("install", cwd=bob).returncode == 0
    run = repo / ".nbkit" / "runs" / "20260101-abc"
    write_nb(run / "executed.ipynb", clean_nb("x = 1"))
    (run / "manifest.json").write_text("{}\n")
    commit_all(repo, "a run")
    git(repo, "push", "-q", "origin", "main")
    proc = sh(bob, "git", "pull", "-q", "--no-rebase", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert (bob / ".nbkit" / "runs" / "20260101-abc" / "executed.ipynb").exists()
    assert not (bob / ".nbkit" / "runs" / "20260101-abc" / "executed.py").exists()
    assert proc.stderr == "", proc.stderr


@pytest.mark.parametrize("moved", ["script", "notebook"])
def test_checkout_back_leaves_a_clean_tree(
    repo: Path, cli: Callable[..., Any], moved: str
) -> None:
    """A branch that moved one side only: the side re-synced there is derived, so on the way
    back the side the checkout moved wins and main is exactly its commit."""
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    _synced(repo)
    commit_all(repo, "pair")
    if moved == "script":
        _edit_script_on_branch(repo, "side", "x = 2")
    else:
        git(repo, "checkout", "-q", "-b", "side")
        write_nb(repo / "a.ipynb", clean_nb("x = 2"))
        git(repo, "commit", "-q", "--no-verify", "-am", "notebook edit")
        git(repo, "checkout", "-q", "main")
    assert cli("install").code == 0
    proc = sh(repo, "git", "checkout", "side")
    assert proc.returncode == 0, proc.stderr
    assert _source(repo / "a.ipynb") == "x = 2" and "x = 2" in (repo / "a.py").read_text()
    proc = sh(repo, "git", "checkout", "main")
    assert proc.returncode == 0, proc.stderr
    assert "x = 1" in (repo / "a.py").read_text()
    assert _source(repo / "a.ipynb") == "x = 1"
    assert git(repo, "status", "--porcelain", "a.py", "a.ipynb") == ""  # main, as committed
