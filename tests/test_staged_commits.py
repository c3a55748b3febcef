"""What the plain-git pre-commit shim (`nbkit install`, no pre-commit framework) checks and
fixes is what is being committed, driven through real `git commit`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git, make_nb, write_nb
from tests.hooks_helpers import clean_nb, declare_pairing, dirty_nb, sh


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


def _long_pair(repo: Path, cli: Callable[..., Any]) -> None:
    """A pair whose first and last cells are far apart: two hunks for `git add -p`."""
    declare_pairing(repo)
    cells = ["x = 1", *(f"filler_{i} = {i}" for i in range(8)), "y = 1"]
    write_nb(repo / "a.ipynb", make_nb(*cells))
    assert cli("sync", "a.ipynb").code == 0
    assert cli("install").code == 0
    commit_all(repo)


def _committed_inputs(repo: Path, name: str) -> list[tuple[str, str]]:
    from nbkit.pairing.convert import inputs_of, read_script

    data = git(repo, "show", f"HEAD:{name}").encode()
    if name.endswith(".ipynb"):
        return list(inputs_of(json.loads(data)))
    return list(inputs_of(read_script(data, repo / name, "py:percent")))


def test_add_patch_hunks_never_leak_into_the_commit(repo: Path, cli: Callable[..., Any]) -> None:
    _long_pair(repo, cli)
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 2").replace("y = 1", "y = 2"))
    add = subprocess.run(
        ["git", "add", "-p", "a.py"], cwd=repo, input="y\nn\n", text=True, capture_output=True
    )
    assert add.returncode == 0, add.stderr
    assert "y = 1" in git(repo, "show", ":a.py") and "x = 2" in git(repo, "show", ":a.py")
    proc = sh(repo, "git", "commit", "-q", "-m", "x only")
    assert proc.returncode == 1, proc.stderr
    assert "git add -- a.ipynb\n" in proc.stderr, proc.stderr  # not a.py: its rest is unstaged
    assert "y = 2" in script.read_text()  # the unstaged hunk is still in the working file
    git(repo, "add", "a.ipynb")
    proc = sh(repo, "git", "commit", "-q", "-m", "x only")
    assert proc.returncode == 0, proc.stderr
    nb_cells, script_cells = _committed_inputs(repo, "a.ipynb"), _committed_inputs(repo, "a.py")
    assert nb_cells == script_cells  # the committed pair is in sync
    assert ("code", "x = 2") in nb_cells and ("code", "y = 1") in nb_cells  # and has no leak
    assert "y = 2" in script.read_text() and git(repo, "diff", "--name-only") == "a.py\n"


def test_staged_outputs_are_not_committed(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("install").code == 0
    write_nb(repo / "b.ipynb", clean_nb())
    commit_all(repo)
    write_nb(repo / "b.ipynb", dirty_nb())
    git(repo, "add", "b.ipynb")  # outputs staged
    write_nb(repo / "b.ipynb", clean_nb("print('cleaned by hand')"))  # the working copy differs
    mine = (repo / "b.ipynb").read_bytes()
    head = git(repo, "rev-parse", "HEAD")
    proc = sh(repo, "git", "commit", "-q", "-m", "outputs")
    assert proc.returncode == 1, proc.stderr
    assert git(repo, "rev-parse", "HEAD") == head  # nothing committed
    assert "b.ipynb" in proc.stderr and "unstaged" in proc.stderr
    assert (repo / "b.ipynb").read_bytes() == mine  # the unstaged work is back


def test_staged_conflict_markers_are_refused(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("install").code == 0
    write_nb(repo / "b.ipynb", clean_nb())
    commit_all(repo)
    good = (repo / "b.ipynb").read_bytes()
    text = good.decode().replace('"print(\'hi\')"', '"<<<<<<< ours\\nprint(1)"')
    (repo / "b.ipynb").write_text(text.replace('"# Title"', '"# Title"\n>>>>>>> theirs'))
    git(repo, "add", "b.ipynb")
    write_nb(repo / "b.ipynb", clean_nb("print('resolved, not added')"))
    mine = (repo / "b.ipynb").read_bytes()
    head = git(repo, "rev-parse", "HEAD")
    proc = sh(repo, "git", "commit", "-q", "-m", "markers")
    assert proc.returncode != 0, proc.stderr
    assert "conflict markers" in proc.stderr and "b.ipynb" in proc.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "b.ipynb").read_bytes() == mine
