"""Reading and canonical writing: byte-identical to nbformat, clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

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
