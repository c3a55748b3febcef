"""nbkit's published hooks run by the real pre-commit, the way users run them.

A consumer repository points its .pre-commit-config.yaml at a commit of THIS checkout
(tracked and working files, so uncommitted changes are tested too). pre-commit builds nbkit's
hook environment from PyPI once per session: PRE_COMMIT_HOME is session-scoped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, git, read_nb, write_nb
from tests.hooks_helpers import clean_nb, copy_package, declare_pairing, dirty_nb, sh

pytestmark = pytest.mark.slow  # runs the real pre-commit (it builds a hook environment)


def _git_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TEMPLATE_DIR": "",
    }


@pytest.fixture(scope="session")
def nbkit_snapshot(
    tmp_path_factory: pytest.TempPathFactory, session_home: Path
) -> tuple[Path, str]:
    """A git repo holding what a user's pre-commit would install: the package as it is now."""
    target = copy_package(tmp_path_factory.mktemp("nbkit-snapshot"))
    env = _git_env(session_home)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=target, env=env, check=True, capture_output=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=target,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return target, sha


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},
        check=False,
        timeout=900,
    )


def test_manifest_is_valid(pre_commit_home: Path) -> None:
    proc = _pre_commit(REPO_ROOT, pre_commit_home, "validate-manifest", ".pre-commit-hooks.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_real_commits_through_pre_commit(
    repo: Path, nbkit_snapshot: tuple[Path, str], pre_commit_home: Path
) -> None:
    source, sha = nbkit_snapshot
    declare_pairing(repo)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {sha}\n    hooks:\n      - id: nbkit\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "config")
    installed = _pre_commit(repo, pre_commit_home, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    write_nb(repo / "analysis.ipynb", dirty_nb())
    git(repo, "add", "analysis.ipynb")
    first = sh(repo, "git", "commit", "-m", "add analysis")
    assert first.returncode == 1, first.stdout + first.stderr
    output = first.stdout + first.stderr
    assert "analysis.ipynb" in output and "analysis.py" in output
    assert read_nb(repo / "analysis.ipynb")["cells"][1]["outputs"] == []
    assert "print('hi')" in (repo / "analysis.py").read_text()  # paired script created

    git(repo, "add", "analysis.ipynb", "analysis.py")  # ONE git add
    second = sh(repo, "git", "commit", "-m", "add analysis")
    assert second.returncode == 0, second.stdout + second.stderr

    script = repo / "analysis.py"
    script.write_text(script.read_text().replace("print('hi')", "print('edited')"))
    git(repo, "add", "analysis.py")
    third = sh(repo, "git", "commit", "-m", "edit the script")
    assert third.returncode == 1 and "analysis.ipynb" in third.stdout + third.stderr
    assert "print('edited')" in "".join(read_nb(repo / "analysis.ipynb")["cells"][1]["source"])
    git(repo, "add", "analysis.ipynb")
    fourth = sh(repo, "git", "commit", "-m", "edit the script")
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_try_repo_nbkit_clean(repo: Path, pre_commit_home: Path) -> None:
    """try-repo builds a fresh environment from the checkout (uncommitted changes included)
    on every call, so it is called once."""
    write_nb(repo / "nb.ipynb", dirty_nb())
    ok = write_nb(repo / "ok.ipynb", clean_nb()).read_bytes()
    git(repo, "add", "-A")
    proc = _pre_commit(
        repo, pre_commit_home, "try-repo", str(REPO_ROOT), "nbkit-clean", "--all-files"
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "git add -- nb.ipynb" in output and "files were modified by this hook" in output
    assert read_nb(repo / "nb.ipynb")["cells"][1]["outputs"] == []
    assert (repo / "ok.ipynb").read_bytes() == ok
