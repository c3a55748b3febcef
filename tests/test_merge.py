"""merge-driver: real `git merge` runs calling the driver, plus the merge's properties."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbkit.merge.notebook import MergeSettings, merge_notebooks
from nbkit.merge.resolve import marked_cells
from tests.conftest import assert_one_line_error, commit_all, git, make_nb, write_nb
from tests.merge_helpers import (
    NB,
    assert_valid,
    assert_valid_file,
    base_nb,
    code_cell,
    edit,
    install_driver,
    merge_branches,
    sources,
    unmerged,
)

STREAM_A = {"output_type": "stream", "name": "stdout", "text": "A\n"}
STREAM_B = {"output_type": "stream", "name": "stdout", "text": "B\n"}


@pytest.fixture
def driver_repo(repo: Path) -> Path:
    install_driver(repo, report=repo.parent / "report.json")
    return repo


def report(repo: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((repo.parent / "report.json").read_text())
    return result


@pytest.mark.parametrize("name", [NB, "sub dir/my notebook é.ipynb"])
def test_edits_to_different_cells_merge_cleanly(driver_repo: Path, name: str) -> None:
    base = base_nb()
    ours, theirs = edit(base, 1, "import math\nx = 10"), edit(base, 3, "z = y * 3\nz")
    merge = merge_branches(driver_repo, base, ours, theirs, name)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert sources(nb)[1] == "import math\nx = 10"
    assert sources(nb)[3] == "z = y * 3\nz"
    assert report(driver_repo)["clean"] is True
    assert unmerged(driver_repo) == []


def test_same_cell_edited_differently_is_marked_inside_the_cell(driver_repo: Path) -> None:
    base = base_nb()
    ours, theirs = edit(base, 1, "import math\nx = 2"), edit(base, 1, "import math\nx = 3")
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code != 0
    assert "1 conflict(s) marked inside cell(s) 2" in merge.output
    nb = assert_valid_file(merge.path)
    assert sources(nb)[1] == (
        "import math\n<<<<<<< ours\nx = 2\n||||||| base\nx = 1\n=======\nx = 3\n>>>>>>> theirs"
    )
    assert [c["id"] for c in nb["cells"]] == [c["id"] for c in base["cells"]]
    assert unmerged(driver_repo) == [NB]
    assert report(driver_repo)["conflicts"] == [{"cell": 1, "cell_id": "cell-1", "kind": "source"}]


def test_a_cell_moved_on_one_side_and_edited_on_the_other(driver_repo: Path) -> None:
    base = base_nb()
    moved = copy.deepcopy(base)
    moved["cells"].insert(5, moved["cells"].pop(1))  # "import math" moves to the end
    merge = merge_branches(driver_repo, base, moved, edit(base, 1, "import math\nx = 5"))
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert [c["id"] for c in nb["cells"]] == [c["id"] for c in moved["cells"]]
    assert sources(nb)[5] == "import math\nx = 5"


def test_the_same_cell_added_on_both_sides_appears_once(driver_repo: Path) -> None:
    base = base_nb()
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["cells"].insert(2, code_cell("new-1", "import numpy as np"))
    theirs["cells"].insert(2, code_cell("new-1", "import numpy as np"))
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert sources(nb).count("import numpy as np") == 1
    assert len(nb["cells"]) == 7


def test_different_cells_added_at_the_same_place_both_appear(driver_repo: Path) -> None:
    base = base_nb()
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["cells"].insert(2, code_cell("ours-new", "a = 'ours'"))
    theirs["cells"].insert(2, code_cell("theirs-new", "a = 'theirs'"))
    theirs["cells"].insert(3, code_cell("theirs-new-2", "b = 'theirs'"))
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert [c["id"] for c in nb["cells"]][1:6] == [
        "cell-1",
        "ours-new",
        "theirs-new",
        "theirs-new-2",
        "cell-2",
    ]


def test_new_cells_with_the_same_id_keep_both_and_one_gets_a_new_id(driver_repo: Path) -> None:
    base = base_nb()
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["cells"].append(code_cell("clash", "ours = 1"))
    theirs["cells"].append(code_cell("clash", "theirs = 1"))
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    by_source = {"".join(c["source"]): c["id"] for c in nb["cells"]}
    assert by_source["ours = 1"] == "clash"
    assert by_source["theirs = 1"] != "clash"
    notes = report(driver_repo)["notes"]
    assert [n["kind"] for n in notes] == ["new-id"]
    assert by_source["theirs = 1"] in notes[0]["detail"]
    assert "given the new id" in merge.output


def test_delete_versus_edit_keeps_the_edit_marked(driver_repo: Path) -> None:
    base = base_nb()
    deleted = copy.deepcopy(base)
    del deleted["cells"][3]
    merge = merge_branches(driver_repo, base, deleted, edit(base, 3, "z = y * 4\nz"))
    assert merge.code != 0
    nb = assert_valid_file(merge.path)
    assert sources(nb)[3] == "<<<<<<< ours (cell deleted)\n=======\nz = y * 4\nz\n>>>>>>> theirs"
    assert report(driver_repo)["conflicts"][0]["kind"] == "delete-edit"


def test_delete_versus_unchanged_deletes(driver_repo: Path) -> None:
    base = base_nb()
    deleted = copy.deepcopy(base)
    del deleted["cells"][3]
    merge = merge_branches(driver_repo, base, edit(base, 5, "print('end')"), deleted)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert "z = y * 2\nz" not in sources(nb)
    assert sources(nb)[-1] == "print('end')"


def test_outputs_and_counts_never_conflict(driver_repo: Path) -> None:
    base = base_nb()
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["cells"][2].update(outputs=[STREAM_A], execution_count=7)
    theirs["cells"][2].update(outputs=[STREAM_B], execution_count=9)
    theirs["cells"][3].update(outputs=[STREAM_B], execution_count=3)  # only theirs ran it
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert nb["cells"][2]["outputs"][0]["text"] == ["A\n"]
    assert nb["cells"][2]["execution_count"] == 7
    assert nb["cells"][3]["outputs"][0]["text"] == ["B\n"]


def test_outputs_follow_the_side_that_changed_the_source(driver_repo: Path) -> None:
    base = base_nb()
    ours = edit(base, 2, "y = x + 1\nprint(y)\nprint(y)")
    ours["cells"][2].update(outputs=[STREAM_A], execution_count=4)
    theirs = edit(base, 1, "import math\nx = 1.0")  # and re-ran cell 2 with its old source
    theirs["cells"][2].update(outputs=[STREAM_B], execution_count=8)
    theirs["cells"][3] = {**theirs["cells"][3], "source": "y = 3\nz = y * 2\nz"}
    theirs["cells"][3].update(outputs=[STREAM_B], execution_count=9)
    ours["cells"][3] = {**ours["cells"][3], "source": "z = y * 2\nz\nprint(z)"}
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert nb["cells"][2]["outputs"][0]["text"] == ["A\n"]  # ours changed the source
    assert sources(nb)[3] == "y = 3\nz = y * 2\nz\nprint(z)"  # merged from both sides...
    assert nb["cells"][3]["outputs"] == [] and nb["cells"][3]["execution_count"] is None


def test_metadata_merges_and_a_clash_keeps_ours_with_a_note(driver_repo: Path) -> None:
    base = base_nb()
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    ours["metadata"].update(author="ours", ours_key=1)
    theirs["metadata"].update(author="theirs", theirs_key=2)
    ours["cells"][1]["metadata"] = {"tags": ["parameters"]}
    theirs["cells"][1]["metadata"] = {"tags": ["slow"], "jupyter": {"source_hidden": True}}
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert nb["metadata"]["author"] == "ours"
    assert nb["metadata"]["ours_key"] == 1 and nb["metadata"]["theirs_key"] == 2
    assert nb["cells"][1]["metadata"] == {
        "tags": ["parameters", "slow"],
        "jupyter": {"source_hidden": True},
    }
    notes = report(driver_repo)["notes"]
    assert [(n["kind"], n["cell"]) for n in notes] == [("metadata", None)]
    assert "metadata.author" in notes[0]["detail"]


def test_notebook_added_on_both_branches_merges_two_way(driver_repo: Path) -> None:
    ours = make_nb("a = 1", "b = 2")
    theirs = make_nb("a = 1", "b = 3")
    merge = merge_branches(driver_repo, None, ours, theirs)
    assert merge.code != 0
    nb = assert_valid_file(merge.path)
    assert sources(nb) == ["a = 1", "<<<<<<< ours\nb = 2\n=======\nb = 3\n>>>>>>> theirs"]


def test_notebooks_without_ids_match_cells_by_content(driver_repo: Path) -> None:
    base = make_nb("a = 1", "b = 2\nb += 1\nprint(b)", "c = 3", minor=4)
    ours = edit(base, 1, "b = 2\nb += 1\nprint(b)  # ours")
    theirs = copy.deepcopy(base)
    theirs["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "# New"})
    theirs["cells"][3]["source"] = "c = 4"
    merge = merge_branches(driver_repo, base, ours, theirs)
    assert merge.code == 0, merge.output
    nb = assert_valid_file(merge.path)
    assert sources(nb) == ["# New", "a = 1", "b = 2\nb += 1\nprint(b)  # ours", "c = 4"]
    assert all("id" not in c for c in nb["cells"])


@pytest.mark.parametrize(
    ("side", "content", "needle"),
    [
        ("ours", b'{"cells": [\n<<<<<<< HEAD\n]}\n=======\n]}\n>>>>>>> x\n', "conflict markers"),
        ("theirs", b'{"cells": [', "invalid JSON"),
        ("base", b'{"not": "a notebook"}', "not a notebook"),
    ],
)
def test_a_side_that_is_not_a_notebook_is_refused(
    tmp_path: Path, cli: Callable[..., Any], side: str, content: bytes, needle: str
) -> None:
    files = {s: write_nb(tmp_path / f"{s}.ipynb", base_nb()) for s in ("base", "ours", "theirs")}
    files[side].write_bytes(content)
    before = files["ours"].read_bytes()
    result = cli("merge-driver", files["base"], files["ours"], files["theirs"], "nb.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, f"nb.ipynb ({side})", needle)
    assert files["ours"].read_bytes() == before


def test_git_leaves_the_file_conflicted_when_ours_is_broken(driver_repo: Path) -> None:
    base = base_nb()
    broken = b'{"cells": [\n<<<<<<< HEAD\n]}\n=======\n]}\n>>>>>>> other\n'
    write_nb(driver_repo / NB, base)
    commit_all(driver_repo, "base")
    git(driver_repo, "checkout", "-q", "-b", "theirs")
    write_nb(driver_repo / NB, edit(base, 1, "x = 3"))
    commit_all(driver_repo, "theirs")
    git(driver_repo, "checkout", "-q", "main")
    (driver_repo / NB).write_bytes(broken)
    commit_all(driver_repo, "a broken notebook committed")
    proc = subprocess.run(["git", "merge", "theirs"], cwd=driver_repo, capture_output=True)
    err = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode != 0
    assert "nbkit: nb.ipynb (ours): contains git conflict markers" in err
    assert "hint: nbkit resolve nb.ipynb\n" in err and "Traceback" not in err
    assert (driver_repo / NB).read_bytes() == broken
    assert unmerged(driver_repo) == [NB]


def test_merge_driver_is_documented_and_has_help(cli: Callable[..., Any]) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "merge.md").read_text()
    for command in ("merge-driver", "resolve"):
        result = cli(command, "--help")
        assert result.code == 0 and "Example" in result.out
        assert f"nbkit {command}" in docs
    assert "--report" in docs and "--ours" in docs and "--theirs" in docs


# --- properties of the pure merge ------------------------------------------------------------

_SOURCES = st.text(alphabet="ab\n=", max_size=12)


@st.composite
def _edited(draw: st.DrawFn, base: dict[str, Any], tag: str) -> dict[str, Any]:
    """A random descendant of ``base``: edits, deletions, moves, additions, outputs, metadata."""
    nb = copy.deepcopy(base)
    cells = nb["cells"]
    for step in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["edit", "delete", "move", "add", "output", "meta", "retype"]))
        if op == "add" or not cells:
            cid = draw(st.sampled_from(["n1", "n2", f"{tag}{step}"]))
            cid = f"{tag}{step}" if cid in {c.get("id") for c in cells} else cid
            new = code_cell(cid, draw(_SOURCES))
            if nb["nbformat_minor"] < 5:
                del new["id"]
            cells.insert(draw(st.integers(0, len(cells))), new)
            continue
        k = draw(st.integers(0, len(cells) - 1))
        if op == "edit":
            cells[k]["source"] = draw(_SOURCES)
        elif op == "delete":
            del cells[k]
        elif op == "move":
            cells.insert(draw(st.integers(0, len(cells) - 1)), cells.pop(k))
        elif op == "output" and cells[k]["cell_type"] == "code":
            cells[k]["outputs"] = [{**STREAM_A, "text": tag}]
            cells[k]["execution_count"] = step + 1
        elif op == "retype":
            kept = {key: cells[k][key] for key in ("id", "source", "metadata") if key in cells[k]}
            cells[k] = {**kept, "cell_type": "markdown"}
        else:
            cells[k]["metadata"] = {"tags": [tag], "who": tag}
    nb["metadata"]["who"] = draw(st.sampled_from(["base", tag]))
    return nb


@st.composite
def _three(draw: st.DrawFn) -> tuple[dict[str, Any], ...]:
    cells = draw(st.lists(_SOURCES, max_size=6))
    base = make_nb(*cells, minor=draw(st.sampled_from([4, 5])))  # 4: no ids, match by content
    return base, draw(_edited(base, "o")), draw(_edited(base, "t"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_three(), st.sampled_from([None, "ours", "theirs"]))
def test_any_merge_is_a_valid_notebook_with_unique_ids(
    sides: tuple[dict[str, Any], ...], prefer: str | None
) -> None:
    base, ours, theirs = sides
    for b in (base, None):
        result = merge_notebooks(b, ours, theirs, MergeSettings(prefer=prefer))
        assert_valid(result.notebook)
        marked = marked_cells(result.notebook)
        assert [c.cell for c in result.conflicts] == marked  # what resolve will find
        if prefer:
            assert marked == []


@settings(max_examples=100, deadline=None)
@given(_three())
def test_merging_with_an_unchanged_side_gives_the_changed_side(
    sides: tuple[dict[str, Any], ...],
) -> None:
    base, ours, theirs = sides
    assert merge_notebooks(base, ours, base).notebook["cells"] == ours["cells"]
    assert merge_notebooks(base, base, theirs).notebook["cells"] == theirs["cells"]
    assert merge_notebooks(base, ours, ours).notebook["cells"] == ours["cells"]


def test_settings_refuse_an_unknown_side() -> None:
    from nbkit.errors import UsageError

    with pytest.raises(UsageError):
        MergeSettings(prefer="mine")


def test_merge_notebooks_does_not_change_its_inputs() -> None:
    base = base_nb()
    ours, theirs = edit(base, 1, "x = 2"), edit(base, 1, "x = 3")
    frozen = [copy.deepcopy(n) for n in (base, ours, theirs)]
    merge_notebooks(base, ours, theirs)
    assert [base, ours, theirs] == frozen


def test_duplicate_ids_inside_one_side_are_made_unique_and_reported() -> None:
    base = make_nb("a = 1", "b = 2")
    ours = copy.deepcopy(base)
    ours["cells"].append(code_cell("cell-0", "c = 3"))  # a hand-edited file reusing an id
    result = merge_notebooks(base, ours, base)
    assert_valid(result.notebook)
    assert [n.kind for n in result.notes] == ["new-id"]
    assert sources(result.notebook) == ["a = 1", "b = 2", "c = 3"]


# --- the line merge of sources ---------------------------------------------------------------


def test_line_merge_takes_both_sides_changes_and_marks_overlaps() -> None:
    from nbkit.merge.text import merge3

    base = "a\nb\nc\nd\ne"
    assert merge3(base, "A\nb\nc\nd\ne", "a\nb\nc\nd\nE") == ("A\nb\nc\nd\nE", 0, 0)
    clash = merge3(base, "a\nB1\nc\nd\ne", "a\nB2\nc\nd\ne")
    assert clash.conflicts == 1
    assert clash.text == (
        "a\n<<<<<<< ours\nB1\n||||||| base\nb\n=======\nB2\n>>>>>>> theirs\nc\nd\ne"
    )
    assert merge3(base, "a\nB1\nc\nd\ne", "a\nB2\nc\nd\ne", "theirs") == (
        "a\nB2\nc\nd\ne",
        0,
        1,
    )


def test_markers_split_back_into_the_two_sides_and_headings_survive() -> None:
    from nbkit.merge.text import merge2, settle, split_markers
    from nbkit.notebook import has_conflict_markers as has_markers

    ours = "Title\n=======\nx = 1\nshared"
    theirs = "Title\n=======\nx = 2\nshared"
    marked = merge2(ours, theirs)
    assert marked.conflicts == 1 and has_markers(marked.text)
    assert not has_markers(ours)  # a Markdown heading underline is not a marker
    sides = split_markers(marked.text)
    assert (sides.ours, sides.theirs, sides.hunks) == (ours, theirs, 1)
    assert settle(marked.text, "ours") == ours
    assert settle(marked.text, "theirs") == theirs
