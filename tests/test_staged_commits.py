"""What the plain-git pre-commit shim (`nbkit install`, no pre-commit framework) checks and
fixes is what is being committed, driven through real `git commit`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git, write_nb
from tests.hooks_helpers import clean_nb, declare_pairing, sh


def _installed_pair(repo: Path, cli: Callable[..., Any]) -> None:
    """a.ipynb and a.py (``x = 1``), committed, with nbkit's git hooks installed."""
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    assert cli("sync", "a.ipynb").code == 0
    assert cli("install").code == 0
    commit_all(repo)


def test_commit_all_names_every_file_to_add(repo: Path, cli: Callable[..., Any]) -> None:
    """`git commit -am` stages the script edit in a temporary index that the failed commit
    drops: the message must name the script as well as the notebook it updated."""
    _installed_pair(repo, cli)
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    proc = sh(repo, "git", "commit", "-q", "-am", "edit the script")
    assert proc.returncode == 1, proc.stderr
    assert "git add -- a.ipynb a.py" in proc.stderr, proc.stderr
    assert sh(repo, "git", "add", "--", "a.ipynb", "a.py").returncode == 0
    proc = sh(repo, "git", "commit", "-q", "-m", "edit the script")
    assert proc.returncode == 0, proc.stderr
    assert "x = 2" in git(repo, "show", "HEAD:a.py") and "x = 2" in git(repo, "show", "HEAD:a.ipynb")
