"""A merge conflict in a paired notebook is one conflict in two files: `nbkit resolve`
ends with both valid and in step. Real `git merge`, drivers from `nbkit install`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbkit.merge.resolve import marked_cells
from nbkit.pairing.convert import inputs_of, read_script
from tests.conftest import commit_all, git, read_nb, write_nb
from tests.merge_helpers import assert_valid_file, unmerged
from tests.pairing_helpers import sample_nb

NB, PY = "analysis.ipynb", "analysis.py"


def _in_step(root: Path) -> bool:
    script = root / PY
    got = inputs_of(read_script(script.read_bytes(), script, "py:percent"))
    return got == inputs_of(read_nb(root / NB))


Edit = Callable[[dict[str, Any]], None]


def _source(index: int, text: str) -> Edit:
    def edit(nb: dict[str, Any]) -> None:
        nb["cells"][index]["source"] = text

    return edit


def _branches(root: Path, cli: Callable[..., Any], ours: Edit, theirs: Edit) -> None:
    """A paired notebook committed, then each branch edits the notebook and syncs its
    script, then `git merge` (which must leave a conflict)."""
    assert cli("install").code == 0
    write_nb(root / NB, sample_nb())
    assert cli("pair", root / NB).code == 0
    assert cli("clean", root / NB).code in (0, 1)  # as the commit hook would have
    commit_all(root, "base")
    for branch, edit in (("theirs", theirs), ("main", ours)):
        git(root, "checkout", "-q", *(["-b"] if branch == "theirs" else []), branch)
        nb = read_nb(root / NB)
        edit(nb)
        write_nb(root / NB, nb)
        assert cli("sync", root / NB).code in (0, 1)
        assert _in_step(root)
        commit_all(root, branch)
    proc = subprocess.run(
        ["git", "merge", "--no-edit", "theirs"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr


def test_resolve_settles_the_notebook_and_its_script_as_one(
    repo: Path, cli: Callable[..., Any]
) -> None:
    _branches(repo, cli, _source(1, "x = 2"), _source(1, "x = 3"))
    assert sorted(unmerged(repo)) == [NB, PY]
    assert "<<<<<<<" in (repo / PY).read_text()  # git's text merge of the script
    first = cli("resolve", NB)
    assert first.code == 1, first
    assert f"paired script {PY} is written from the notebook once" in first.out
    nb = assert_valid_file(repo / NB)
    assert marked_cells(nb) == [1]
    done = cli("resolve", "--theirs", NB)
    assert done.code == 0, done
    nb = assert_valid_file(repo / NB)
    assert "".join(nb["cells"][1]["source"]) == "x = 3"
    assert f"regenerated {PY}" in done.out
    assert _in_step(repo)
    assert "<<<<<<<" not in (repo / PY).read_text()
    git(repo, "add", NB, PY)
    commit = subprocess.run(
        ["git", "commit", "--no-edit"], cwd=repo, capture_output=True, text=True
    )
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_a_notebook_edited_by_hand_regenerates_the_script_on_resolve(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """Resolving in Jupyter: fix the marked cell, then `nbkit resolve` brings the script."""
    _branches(repo, cli, _source(1, "x = 2"), _source(1, "x = 3"))
    assert cli("resolve", NB).code == 1
    nb = read_nb(repo / NB)
    nb["cells"][1]["source"] = "x = 4"
    write_nb(repo / NB, nb)
    done = cli("resolve", NB)
    assert done.code == 0, done
    assert _in_step(repo)
    assert "x = 4" in (repo / PY).read_text()


def test_a_clean_notebook_merge_with_a_conflicted_script(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """The driver merged the notebook (a new cell on each side at the same place) but git's
    text merge of the script conflicted: resolve writes the script from the merged notebook."""

    def insert(text: str) -> Edit:
        def edit(nb: dict[str, Any]) -> None:
            cell = {"cell_type": "code", "id": text[:1], "metadata": {}, "source": text}
            nb["cells"].insert(2, {**cell, "outputs": [], "execution_count": None})

        return edit

    _branches(repo, cli, insert("a = 'ours'"), insert("b = 'theirs'"))
    assert unmerged(repo) == [PY]
    done = cli("resolve", PY)  # the script's name works too
    assert done.code == 0, done
    nb = assert_valid_file(repo / NB)
    assert ["".join(c["source"]) for c in nb["cells"][2:4]] == ["a = 'ours'", "b = 'theirs'"]
    assert _in_step(repo)
