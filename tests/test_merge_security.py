"""Merges that used to go wrong, driven through real `git merge` with the driver that
`nbkit install` configures: type change vs edit, id-less notebooks, invalid ids."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.merge.resolve import marked_cells
from tests.conftest import git, make_nb
from tests.merge_helpers import assert_valid_file, merge_branches, sources, unmerged


@pytest.fixture
def installed(repo: Path, cli: Callable[..., Any]) -> Path:
    """A repository where `nbkit install` set up the drivers, as a user does."""
    assert cli("install").code == 0
    return repo


def _retype(nb: dict[str, Any], index: int, cell_type: str) -> dict[str, Any]:
    nb = copy.deepcopy(nb)
    cell = nb["cells"][index]
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    return nb


@pytest.mark.parametrize("minor", [4, 5])
@pytest.mark.parametrize("retyper", ["ours", "theirs"])
@pytest.mark.parametrize(("old_type", "new_type"), [("markdown", "code"), ("code", "markdown")])
def test_type_change_on_one_side_and_text_edit_on_the_other_both_survive(
    installed: Path, minor: int, retyper: str, old_type: str, new_type: str
) -> None:
    base = make_nb("a = 1", (old_type, "x = 1\ny = 2\nz = 3"), "b = 2", minor=minor)
    if old_type == "code":
        base["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
        base["cells"][1]["execution_count"] = 1
    retyped = _retype(base, 1, new_type)
    edited = copy.deepcopy(base)
    edited["cells"][1]["source"] = "x = 1\ny = 20\nz = 3"
    ours, theirs = (retyped, edited) if retyper == "ours" else (edited, retyped)
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert sources(nb) == ["a = 1", "x = 1\ny = 20\nz = 3", "b = 2"]
    assert nb["cells"][1]["cell_type"] == new_type
    assert unmerged(installed) == []
    assert marked_cells(nb) == []


def test_resolve_redoes_a_merge_the_driver_did_not_do(
    installed: Path, cli: Callable[..., Any]
) -> None:
    """The driver failed (nbkit not on git's PATH, an older nbkit refusing): git leaves ours
    in place and the file conflicted; resolve merges again from git's stages."""
    git(installed, "config", "merge.nbkit.driver", "nbkit-not-on-path merge-driver %O %A %B %P")
    base = make_nb("a = 1", ("markdown", "x = 1\ny = 2"), "b = 2")
    ours = _retype(base, 1, "code")
    theirs = copy.deepcopy(base)
    theirs["cells"][1]["source"] = "x = 1\ny = 20"
    theirs["cells"][2]["source"] = "b = 3"
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code != 0
    assert unmerged(installed) == ["nb.ipynb"]
    done = cli("resolve", merge.path)
    assert done.code == 0, done
    assert "merged again from git's base, ours and theirs" in done.out
    nb = assert_valid_file(merge.path)
    assert sources(nb) == ["a = 1", "x = 1\ny = 20", "b = 3"]
    assert nb["cells"][1]["cell_type"] == "code"


ANALYSIS = "df = load('data.csv')\ndf = df.dropna()\nprint(df.shape)"
REWRITE_OURS = "import polars as pl\nframe = pl.read_csv('data.csv').drop_nulls()\nframe.shape"
REWRITE_THEIRS = "rows = [r for r in open('data.csv') if r.strip()]\nlen(rows)"


def _idless(*middle: str) -> dict[str, Any]:
    return make_nb("import pandas as pd", *middle, ("markdown", "## Results"), minor=4)


def test_both_sides_rewriting_one_idless_cell_is_one_marked_conflict(installed: Path) -> None:
    base, ours, theirs = _idless(ANALYSIS), _idless(REWRITE_OURS), _idless(REWRITE_THEIRS)
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code != 0, merge.output
    nb = assert_valid_file(merge.path)
    assert len(nb["cells"]) == 3, sources(nb)  # one cell, not both versions side by side
    assert marked_cells(nb) == [1]
    assert REWRITE_OURS in sources(nb)[1] and REWRITE_THEIRS in sources(nb)[1]
    assert unmerged(installed) == ["nb.ipynb"]


def test_a_light_edit_against_a_rewrite_is_a_source_conflict_resolve_ours_keeps_ours(
    installed: Path, cli: Callable[..., Any]
) -> None:
    light = ANALYSIS.replace("dropna()", "dropna(how='all')")
    base, ours, theirs = _idless(ANALYSIS), _idless(light), _idless(REWRITE_THEIRS)
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code != 0, merge.output
    nb = assert_valid_file(merge.path)
    assert len(nb["cells"]) == 3, sources(nb)
    assert "(cell deleted)" not in sources(nb)[1]
    assert cli("resolve", "--ours", merge.path).code == 0
    assert sources(assert_valid_file(merge.path)) == ["import pandas as pd", light, "## Results"]


def test_a_rewrite_on_one_side_of_an_idless_cell_merges_as_that_cell(installed: Path) -> None:
    base = _idless(ANALYSIS, "x = 1")
    ours = _idless(REWRITE_OURS, "x = 1")
    theirs = _idless(ANALYSIS, "x = 2")
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code == 0, merge.output
    assert sources(assert_valid_file(merge.path)) == [
        "import pandas as pd",
        REWRITE_OURS,
        "x = 2",
        "## Results",
    ]


def test_an_invalid_cell_id_gets_a_fresh_valid_id_instead_of_a_refusal(installed: Path) -> None:
    base = make_nb("a = 1", "b = 2", "c = 3")
    base["cells"][1]["id"] = "not a valid id!"
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["cells"][0]["source"] = "a = 10"
    theirs["cells"][2]["source"] = "c = 30"
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code == 0, merge.output
    assert "'not a valid id!' is no valid id; given the new id" in merge.output
    nb = assert_valid_file(merge.path)
    assert sources(nb) == ["a = 10", "b = 2", "c = 30"]
    assert nb["cells"][1]["id"] != "not a valid id!"


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_resolve_after_git_add_marks_a_cell_type_difference_and_settles_it(
    repo: Path, cli: Callable[..., Any], side: str
) -> None:
    """No driver: git's text merge breaks the JSON; after `git add` the two sides come from
    the markers with no base, so a cell type that differs is marked, never kept silently."""
    base = make_nb("a = 1", "x = 1", "b = 2")  # one-line sources: one JSON line
    ours = _retype(base, 1, "markdown")
    theirs = _retype(base, 1, "raw")
    theirs["cells"][1]["source"] = "x = 2"
    merge = merge_branches(repo, base, ours, theirs)
    assert merge.code != 0 and b"<<<<<<<" in merge.path.read_bytes()
    git(repo, "add", merge.path.name)
    marked = cli("resolve", merge.path)
    assert marked.code == 1, marked
    nb = assert_valid_file(merge.path)
    assert marked_cells(nb) == [1]
    assert "(cell type: markdown)" in sources(nb)[1]
    assert "(cell type: raw)" in sources(nb)[1]
    assert cli("resolve", f"--{side}", merge.path).code == 0
    nb = assert_valid_file(merge.path)
    want = ("markdown" if side == "ours" else "raw", "x = 2")  # git merged the source line
    assert (nb["cells"][1]["cell_type"], sources(nb)[1]) == want


def test_a_replaced_idless_cell_against_its_deletion_merges_cleanly(installed: Path) -> None:
    """Ours replaced a cell by an unrelated one, theirs deleted it: no conflict to mark."""
    base, ours = _idless(ANALYSIS, "x = 1"), _idless(REWRITE_OURS, "x = 1")
    theirs = _idless("x = 2")
    merge = merge_branches(installed, base, ours, theirs)
    assert merge.code == 0, merge.output
    assert sources(assert_valid_file(merge.path)) == [
        "import pandas as pd",
        REWRITE_OURS,
        "x = 2",
        "## Results",
    ]
