"""resolve: notebooks broken by a plain git text merge, repaired from git's stages or markers."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_one_line_error, git, write_nb
from tests.merge_helpers import (
    NB,
    assert_valid_file,
    base_nb,
    edit,
    install_driver,
    merge_branches,
    sources,
    unmerged,
)

STREAM = {"output_type": "stream", "name": "stdout", "text": "2\n"}
BROKEN_OURS = """{
 "cells": [
<<<<<<< HEAD
  {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "source": "x = 1",
=======
  {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "source": "x = 2",
   "execution_count": null}
>>>>>>> theirs
 ],
 "metadata": {}, "nbformat": 4, "nbformat_minor": 5
}
"""


def text_merge(root: Path) -> Path:
    """A merge where nbkit's driver is NOT configured: git leaves markers in the JSON."""
    base = base_nb()
    ours, theirs = edit(base, 1, "import math\nx = 2"), edit(base, 1, "import math\nx = 3")
    theirs["cells"][4]["source"] = "## Results (theirs)"  # merges as text without conflict
    merge = merge_branches(root, base, ours, theirs)
    assert merge.code != 0
    assert b"\n<<<<<<< HEAD\n" in merge.path.read_bytes()
    return merge.path


def test_a_text_merge_is_redone_from_the_stages(repo: Path, cli: Callable[..., Any]) -> None:
    path = text_merge(repo)
    result = cli("resolve", NB)
    assert result.code == 1
    assert "merged again from git's base, ours and theirs" in result.out
    assert "conflicts marked in cell(s) 2" in result.out
    nb = assert_valid_file(path)
    assert sources(nb)[1] == (
        "import math\n<<<<<<< ours\nx = 2\n||||||| base\nx = 1\n=======\nx = 3\n>>>>>>> theirs"
    )
    assert sources(nb)[4] == "## Results (theirs)"
    assert unmerged(repo) == [NB]  # resolve never stages: the user checks, then adds


def test_after_git_add_the_sides_come_from_the_markers(repo: Path, cli: Callable[..., Any]) -> None:
    path = text_merge(repo)
    git(repo, "add", NB)
    assert unmerged(repo) == []
    result = cli("resolve", path)
    assert result.code == 1
    assert "rebuilt from the two sides of the conflict markers" in result.out
    nb = assert_valid_file(path)
    assert sources(nb)[1] == "import math\n<<<<<<< ours\nx = 2\n=======\nx = 3\n>>>>>>> theirs"
    assert sources(nb)[4] == "## Results (theirs)"
    assert [c["id"] for c in nb["cells"]] == [c["id"] for c in base_nb()["cells"]]


@pytest.mark.parametrize("staged", [False, True])
@pytest.mark.parametrize(("flag", "expected"), [("--ours", "x = 2"), ("--theirs", "x = 3")])
def test_ours_or_theirs_settles_every_conflict(
    repo: Path, cli: Callable[..., Any], staged: bool, flag: str, expected: str
) -> None:
    path = text_merge(repo)
    if staged:
        git(repo, "add", NB)
    result = cli("resolve", flag, NB)
    assert result.code == 0, result.out + result.err
    nb = assert_valid_file(path)
    assert sources(nb)[1] == f"import math\n{expected}"
    assert sources(nb)[4] == "## Results (theirs)"


def test_outputs_that_differ_in_a_text_merge_do_not_conflict(
    repo: Path, cli: Callable[..., Any]
) -> None:
    base = base_nb()
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["cells"][2].update(outputs=[{**STREAM, "text": "ours\n"}], execution_count=5)
    theirs["cells"][2].update(outputs=[{**STREAM, "text": "theirs\n"}], execution_count=6)
    merge = merge_branches(repo, base, ours, theirs)
    assert merge.code != 0
    git(repo, "add", NB)  # the markers path: no base, outputs differ, still no conflict
    result = cli("resolve", NB)
    assert result.code == 0, result.out
    nb = assert_valid_file(merge.path)
    assert nb["cells"][2]["outputs"][0]["text"] == ["ours\n"]


def test_driver_conflicts_in_cells_are_listed_or_settled(
    repo: Path, cli: Callable[..., Any]
) -> None:
    install_driver(repo)
    base = base_nb()
    merge = merge_branches(repo, base, edit(base, 3, "z = 1"), edit(base, 3, "z = 2"))
    assert merge.code != 0
    before = merge.path.read_bytes()
    listed = cli("resolve", NB)
    assert listed.code == 1
    assert "no conflict markers in the JSON" in listed.out
    assert "conflicts marked in cell(s) 4" in listed.out
    assert merge.path.read_bytes() == before
    settled = cli("resolve", "--theirs", NB)
    assert settled.code == 0, settled.out
    assert sources(assert_valid_file(merge.path))[3] == "z = 2"


def test_a_clean_notebook_is_left_alone(repo: Path, cli: Callable[..., Any]) -> None:
    path = write_nb(repo / NB, base_nb())
    os.utime(path, (1_000_000, 1_000_000))
    result = cli("resolve", "--ours", path)
    assert result.code == 0
    assert "nothing to repair" in result.out
    assert path.stat().st_mtime == 1_000_000


def test_a_side_that_is_not_json_is_named_and_the_other_side_works(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    path = tmp_path / NB
    path.write_text(BROKEN_OURS)
    result = cli("resolve", path)
    assert result.code == 2
    assert_one_line_error(result.err, str(path), "the ours side of the conflict markers")
    assert "hint:" in result.err
    assert path.read_text() == BROKEN_OURS
    taken = cli("resolve", "--theirs", path)
    assert taken.code == 0, taken.err
    assert sources(assert_valid_file(path)) == ["x = 2"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"cells": [\n<<<<<<< HEAD\n]}\n', "not closed"),
        ('{"cells": []}\n>>>>>>> theirs\n<<<<<<< HEAD\n', "unexpected conflict marker"),
        ("", "empty file"),
        (None, "no such file"),
    ],
)
def test_unrepairable_files_are_refused_and_left_unchanged(
    tmp_path: Path, cli: Callable[..., Any], content: str | None, needle: str
) -> None:
    path = tmp_path / NB
    if content is not None:
        path.write_text(content)
    result = cli("resolve", path)
    assert result.code == 2
    assert_one_line_error(result.err, str(path), needle)
    assert (path.read_text() if content is not None else None) == content
    assert not path.exists() or content is not None


def test_many_files_report_each_and_exit_with_the_worst(
    repo: Path, cli: Callable[..., Any]
) -> None:
    path = text_merge(repo)
    good = write_nb(repo / "good.ipynb", base_nb())
    result = cli("resolve", good, path, repo / "missing.ipynb")
    assert result.code == 2
    assert f"{good}: no conflict markers" in result.out
    assert f"{path}: merged again" in result.out
    assert "missing.ipynb: no such file" in result.err


def test_resolve_needs_a_notebook(cli: Callable[..., Any]) -> None:
    result = cli("resolve")
    assert result.code == 2
    assert "Traceback" not in result.err


@pytest.mark.parametrize("style", ["diff3", "zdiff3"])
def test_base_sections_of_diff3_markers_are_dropped(
    repo: Path, cli: Callable[..., Any], style: str
) -> None:
    git(repo, "config", "merge.conflictStyle", style)
    path = text_merge(repo)
    assert b"\n||||||| " in path.read_bytes()
    git(repo, "add", NB)
    result = cli("resolve", "--theirs", NB)
    assert result.code == 0, result.err
    assert sources(assert_valid_file(path))[1] == "import math\nx = 3"


def test_resolve_from_a_subfolder_finds_the_stages(
    repo: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = text_merge(repo)
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    result = cli("resolve", Path("..") / NB)
    assert result.code == 1
    assert "merged again from git's base" in result.out
    assert_valid_file(path)


def test_ours_and_theirs_together_is_a_usage_error(repo: Path, cli: Callable[..., Any]) -> None:
    path = write_nb(repo / NB, base_nb())
    before = path.read_bytes()
    result = cli("resolve", "--ours", "--theirs", path)
    assert result.code == 2
    assert_one_line_error(result.err, "--ours and --theirs exclude each other")
    assert path.read_bytes() == before


@pytest.mark.parametrize(("flag", "kept"), [("--ours", False), ("--theirs", True)])
def test_a_delete_edit_conflict_settles_to_deleted_or_edited(
    repo: Path, cli: Callable[..., Any], flag: str, kept: bool
) -> None:
    install_driver(repo)
    base = base_nb()
    deleted = copy.deepcopy(base)
    del deleted["cells"][3]
    merge = merge_branches(repo, base, deleted, edit(base, 3, "z = 5"))
    assert merge.code != 0
    result = cli("resolve", flag, NB)
    assert result.code == 0, result.out
    nb = assert_valid_file(merge.path)
    assert ("z = 5" in sources(nb)) is kept
    assert len(nb["cells"]) == 6 if kept else 5
    assert not any("<<<<<<<" in s for s in sources(nb))
