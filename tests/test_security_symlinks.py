"""Symlinks a repository commits never carry a write out of the work tree or into .git.

The hostile repository is built upstream and reaches the user the way strangers' code does,
through `git clone` and `git pull`; then the user types an ordinary command. Every write
goes through `nbkit.fsutil`, which refuses a target that resolves outside the work tree or
inside `.git` (docs/reliability.md, "Attacks from a hostile repository").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from nbkit import config
from nbkit.hooks.install import InstallOptions, install
from nbkit.pairing.sync import resolve_pairs, sync_pairs
from tests.conftest import assert_one_line_error, commit_all, git, read_nb, run_nbkit, write_nb
from tests.hooks_helpers import PY, clean_nb, declare_pairing, dirty_nb, git_env, sh
from tests.security_helpers import Watch

RUN_ID = "20250102-030405-abcdef"
MANIFEST = {
    "id": RUN_ID,
    "notebook": "exp.ipynb",
    "status": "succeeded",
    "started": "2025-01-02T03:04:05.000+00:00",
    "ended": "2025-01-02T03:04:06.000+00:00",
    "parameters": {"lr": 0.1},
    "metrics": {"acc": 0.9},
    "git": {"commit": "a" * 40, "dirty": False},
    "files": {"executed": "executed.ipynb"},
}


class Scene(NamedTuple):
    upstream: Path  # the stranger's repository
    repo: Path  # the user's clone
    outside: Path  # a folder of the user's, outside the clone
    home: Path  # the user's (fake) home
    tmp: Path

    def watch(self, *guarded: Path) -> Watch:
        return Watch(self.tmp, self.repo, self.tmp / "markers", guarded, (self.upstream,))


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scene:
    upstream, outside, home = tmp_path / "upstream", tmp_path / "outside", tmp_path / "home"
    for folder in (upstream, outside, home):
        folder.mkdir()
    (home / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\n")
    git(upstream, "init", "-q", "-b", "main")
    return Scene(upstream, tmp_path / "repo", outside, home, tmp_path)


def _clone(scene: Scene) -> None:
    git(scene.tmp, "clone", "-q", str(scene.upstream), str(scene.repo))
    (scene.repo / ".git" / "info").mkdir(exist_ok=True)  # as git's default template makes it
    os.chdir(scene.repo)


def _ledger(root: Path) -> Path:
    run = root / ".nbkit" / "runs" / RUN_ID
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(MANIFEST))
    return run.parent


def test_committed_index_symlink_never_appends_to_the_home(scene: Scene) -> None:
    """`nbkit runs` after `git clone`: the index is a link to ~/.bashrc."""
    runs = _ledger(scene.upstream)
    (runs / "index.jsonl").symlink_to(scene.home / ".bashrc")
    commit_all(scene.upstream, "a run, and an index that is a link")
    _clone(scene)
    watch = scene.watch()
    proc = run_nbkit("runs", cwd=scene.repo, env={"HOME": str(scene.home)})
    assert proc.returncode == 0, proc.stderr
    assert RUN_ID in proc.stdout  # listed from its manifest
    watch.check("nbkit runs with index.jsonl -> ~/.bashrc")
    assert (scene.home / ".bashrc").read_text() == "export PATH=$HOME/bin:$PATH\n"


def test_ledger_folder_symlinked_out_of_the_tree(scene: Scene) -> None:
    """`.nbkit` committed as a link to a folder of the user's: the index stays out of it."""
    (scene.outside / "runs" / RUN_ID).mkdir(parents=True)
    (scene.outside / "runs" / RUN_ID / "manifest.json").write_text(json.dumps(MANIFEST))
    (scene.upstream / ".nbkit").symlink_to(scene.outside)
    commit_all(scene.upstream, "ledger elsewhere")
    _clone(scene)
    watch = scene.watch()
    proc = run_nbkit("runs", cwd=scene.repo, env={"HOME": str(scene.home)})
    assert proc.returncode == 0, proc.stderr
    watch.check("nbkit runs with .nbkit -> outside")


def _paired_upstream(scene: Scene) -> None:
    declare_pairing(scene.upstream)
    write_nb(scene.upstream / "a.ipynb", clean_nb("x = 1"))
    cfg = config.load(scene.upstream)
    sync_pairs(resolve_pairs([scene.upstream / "a.ipynb"], cfg), cfg)
    commit_all(scene.upstream, "paired")


def _edit_upstream_notebook(scene: Scene, source: str) -> None:
    nb = read_nb(scene.upstream / "a.ipynb")
    nb["cells"][1]["source"] = source
    write_nb(scene.upstream / "a.ipynb", nb)
    commit_all(scene.upstream, "notebook edited")


@pytest.mark.parametrize("where", ["outside", "git"])
def test_git_pull_never_writes_a_script_through_its_link(scene: Scene, where: str) -> None:
    """First pull: the script becomes a link (to a user's file, or into .git); second pull:
    the notebook changes, so the post-merge re-sync would write the script."""
    _paired_upstream(scene)
    _clone(scene)
    install(InstallOptions(scene.repo, PY))
    target = scene.outside / "notes.py"
    target.write_text("print('my own file')\n")
    link_to = str(target) if where == "outside" else ".git/info/attributes"
    (scene.upstream / "a.py").unlink()
    (scene.upstream / "a.py").symlink_to(link_to)
    commit_all(scene.upstream, "the script is a link now")
    attributes = scene.repo / ".git" / "info" / "attributes"
    watch = scene.watch(attributes)
    proc = sh(scene.repo, "git", "pull", "-q", "--no-rebase")
    assert proc.returncode == 0, proc.stderr
    git(scene.repo, "checkout", "--", "a.ipynb")  # whatever that re-sync did, undone
    _edit_upstream_notebook(scene, "x = 'pwned'")
    proc = sh(scene.repo, "git", "pull", "-q", "--no-rebase")
    assert proc.returncode == 0, proc.stderr  # git's pull itself succeeded
    assert "Traceback" not in proc.stderr
    watch.check(f"git pull with a.py -> {where}")
    assert target.read_text() == "print('my own file')\n"
    assert not attributes.exists()


def test_sync_refuses_a_script_linked_into_git(scene: Scene, cli: Callable[..., Any]) -> None:
    """`nbkit sync --prefer notebook` forces the write: one line naming the link, exit 2."""
    _paired_upstream(scene)
    _clone(scene)
    (scene.repo / "a.py").unlink()
    (scene.repo / "a.py").symlink_to(".git/info/attributes")
    attributes = scene.repo / ".git" / "info" / "attributes"
    watch = scene.watch(attributes)
    result = cli("sync", "--prefer", "notebook", "a.ipynb")
    assert result.code == 2, result
    assert_one_line_error(result.err, "a.py", ".git", "refusing to write")
    watch.check("nbkit sync with a.py -> .git/info/attributes")
    assert not attributes.exists()


def test_commit_hook_never_cleans_a_notebook_outside_the_repository(scene: Scene) -> None:
    """`git commit` of a symlinked notebook whose target (with outputs) is the user's."""
    real = write_nb(scene.outside / "real.ipynb", dirty_nb())
    data = real.read_bytes()
    git(scene.upstream, "commit", "-q", "--allow-empty", "-m", "empty")
    _clone(scene)
    install(InstallOptions(scene.repo, PY))
    (scene.repo / "ext.ipynb").symlink_to(real)
    git(scene.repo, "add", "ext.ipynb")
    watch = scene.watch()
    proc = sh(scene.repo, "git", "commit", "-m", "a link", env=git_env())
    assert proc.returncode == 1, proc.stderr  # the hook failed, naming the file
    assert "ext.ipynb" in proc.stderr and "refusing to write" in proc.stderr
    assert "Traceback" not in proc.stderr
    watch.check("git commit of ext.ipynb -> outside")
    assert real.read_bytes() == data


def test_a_link_inside_the_tree_is_still_written_through(repo: Path, cli: Callable[..., Any]) -> None:
    """Not an attack: a notebook linked to another file of the same work tree is cleaned
    through the link, which stays a link."""
    real = write_nb(repo / "real.ipynb", dirty_nb())
    (repo / "link.ipynb").symlink_to("real.ipynb")
    assert cli("clean", "link.ipynb").code == 0
    assert (repo / "link.ipynb").is_symlink()
    assert read_nb(real)["cells"][1]["outputs"] == []
