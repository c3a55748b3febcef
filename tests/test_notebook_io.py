"""Reading and canonical writing: byte-identical to nbformat, clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbkit import notebook
from nbkit.errors import BadInput
from tests.conftest import make_nb

RICH = make_nb(
    {"cell_type": "markdown", "source": "# Title\n\nÜnïcödé ✓ text\n"},
    {
        "cell_type": "code",
        "source": "x = 1\nprint(x)",
        "execution_count": 3,
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "1\n2\n"},
            {
                "output_type": "execute_result",
                "execution_count": 3,
                "metadata": {},
                "data": {
                    "text/plain": "a\nb",
                    "text/html": ["<b>x</b>\n", "<i>y</i>"],
                    "image/png": "iVBORw0KGgo=\n",
                    "image/svg+xml": "<svg>\n</svg>",
                    "application/json": {"a": [1, 2.5, None]},
                },
            },
        ],
    },
    {"cell_type": "raw", "source": ""},
    {"cell_type": "code", "source": [], "metadata": {"tags": ["parameters"]}},
    metadata={"orig_nbformat": 3},
)


def test_dumps_matches_nbformat_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(RICH))
    expected = nbformat.writes(nbformat.read(str(path), as_version=4)) + "\n"
    ours = notebook.dumps(notebook.read(path))
    assert ours == expected


def test_write_keeps_crlf_and_skips_identical(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    data = notebook.to_bytes(RICH, "\r\n")
    path.write_bytes(data)
    mtime = path.stat().st_mtime_ns
    assert notebook.write(path, notebook.read(path)) is False
    assert path.stat().st_mtime_ns == mtime
    assert b"\r\n" in path.read_bytes()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b'{"cells": [', "invalid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "not a notebook"),
        (b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}', "nbformat 3"),
        (b'{"cells": 5, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a list"),
        (b'{\n<<<<<<< HEAD\n "a": 1\n=======\n "a": 2\n>>>>>>> b\n}', "conflict markers"),
        (
            b'{"cells": [{"cell_type": "bogus"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
            "unknown cell_type",
        ),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(BadInput) as info:
        notebook.read(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_directory_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d.ipynb").mkdir()
    with pytest.raises(BadInput, match="is a directory"):
        notebook.read(tmp_path / "d.ipynb")
    with pytest.raises(BadInput, match="no such file"):
        notebook.read(tmp_path / "missing.ipynb")


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(RICH).encode())
    assert notebook.read(path)["nbformat"] == 4


def test_transient_fields_are_not_written() -> None:
    nb = make_nb(
        {
            "cell_type": "code",
            "source": "x",
            "outputs": [
                {
                    "output_type": "display_data",
                    "data": {"text/plain": "x"},
                    "metadata": {},
                    "transient": {"display_id": "abc"},
                }
            ],
        }
    )
    assert "transient" not in notebook.dumps(nb)


# --- conflict markers: one rule for a file's bytes, a cell's source and the marker parser ----

MARKER_CASES = [
    ("<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> b\n", True),
    ("<<<<<<<\r\nx\r\n=======\r\ny\r\n>>>>>>>\r\n", True),  # CRLF, no labels
    ("<<<<<<< only the opening line\nx\n", True),  # half-resolved: still unsettled
    ("x\n>>>>>>>", True),  # closing line at the very end, no newline
    ("Title\n=======\n", False),  # a Markdown heading underline
    ("<<<<<<<< eight\n>>>>>>>> eight\n", False),
    ("  <<<<<<< indented\n  >>>>>>> indented\n", False),
    ("<<<<<<<\tHEAD\n>>>>>>>\tb\n", False),
    ("a\u2028<<<<<<< x\u2028>>>>>>> y", False),  # only '\n' ends a line, as in git
    ("a\r<<<<<<< x\r>>>>>>> y", False),
    ("a\x0c<<<<<<< x\x0c>>>>>>> y", False),
    ("<<<<<<<\r\r\n", False),
    ("x = '<<<<<<< not at the start'\n", False),
]


def _parsed_markers(text: str) -> bool:
    """What the marker parser (resolve, merge) finds: hunks, or markers it refuses."""
    from nbkit.merge.text import UnbalancedMarkers, split_markers

    try:
        return split_markers(text).hunks > 0
    except UnbalancedMarkers:
        return True


def _flagged_cell(tmp_path: Path, text: str) -> bool:
    """Whether validate reports the cell holding ``text`` as an unsettled conflict."""
    from nbkit.merge.resolve import marked_cells
    from nbkit.validate import validate_file

    path = tmp_path / "nb.ipynb"
    nb = make_nb(("markdown", text))
    path.write_text(json.dumps(nb), encoding="utf-8")
    flagged = any("merge conflict" in p.message for p in validate_file(path))
    assert flagged == (marked_cells(nb) == [0]), text  # resolve lists the same cells
    return flagged


@pytest.mark.parametrize(("text", "marked"), MARKER_CASES)
def test_file_cell_and_parser_agree_on_conflict_markers(
    tmp_path: Path, text: str, marked: bool
) -> None:
    assert notebook.has_conflict_markers(text.encode()) is marked  # a file git broke
    assert notebook.has_conflict_markers(text) is marked
    assert _flagged_cell(tmp_path, text) is marked  # validate (commit path) and resolve
    assert _parsed_markers(text) is marked  # the parser resolve and merge use


_FRAGMENTS = ["<<<<<<<", ">>>>>>>", "|||||||", "=======", *"<> x\n\r\t\u2028\x0c"]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join))
@settings(max_examples=300, deadline=None)
def test_the_marker_rule_is_one_rule(text: str) -> None:
    lines = text.split("\n")
    by_line = any(notebook.conflict_marker(line) in ("<", ">") for line in lines)
    assert notebook.has_conflict_markers(text) is by_line
    assert notebook.has_conflict_markers(text.encode()) is by_line
    assert _parsed_markers(text) is by_line
