"""A corpus of malformed and odd notebooks, for every command that reads notebooks.

``invalid`` cases must give exit 1 or 2, one line naming the file, no traceback, no change.
``odd`` cases are valid notebooks in unusual shapes: any command may succeed or report, but
never crash (exit 3) or print a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from tests.conftest import make_nb


class Case(NamedTuple):
    name: str
    build: Callable[[Path], Path]  # makes the file in the folder, returns its path
    invalid: bool
    heavy: bool = False  # large: only run through the commands that must scale


def _bytes(name: str, data: bytes, filename: str = "nb.ipynb") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / filename
        path.write_bytes(data)
        return path

    return build


def _json(
    nb: Any, filename: str = "nb.ipynb", newline: str = "\n", bom: bool = False
) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        data = text.replace("\n", newline).encode("utf-8")
        path = folder / filename
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
        return path

    return build


GOOD = make_nb(("markdown", "# Title\n"), "x = 1\nprint(x)\n", "y = x + 1\n")


def _with(**changes: Any) -> dict[str, Any]:
    nb = json.loads(json.dumps(GOOD))
    nb.update(changes)
    return nb


def _cell_with(**changes: Any) -> dict[str, Any]:
    nb = json.loads(json.dumps(GOOD))
    nb["cells"][1].update(changes)
    return nb


def _dir(folder: Path) -> Path:
    path = folder / "x.ipynb"
    path.mkdir()
    return path


def _symlink_to_good(folder: Path) -> Path:
    target = folder / "real target.ipynb"
    target.write_text(json.dumps(GOOD, indent=1))
    link = folder / "link.ipynb"
    os.symlink(target.name, link)
    return link


def _dangling_symlink(folder: Path) -> Path:
    link = folder / "dangling.ipynb"
    os.symlink("does-not-exist.ipynb", link)
    return link


def _huge_output(folder: Path) -> Path:
    nb = json.loads(json.dumps(GOOD))
    nb["cells"][1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "x" * (50 * 1024 * 1024)}
    ]
    path = folder / "huge.ipynb"
    path.write_text(json.dumps(nb))
    return path


def _nbformat_minor(minor: int) -> dict[str, Any]:
    nb = make_nb(("markdown", "# T\n"), "x = 1\n", minor=minor)
    return nb


def _conflicted_bytes() -> bytes:
    """What git's text merge leaves: marker lines around a changed line of the JSON."""
    lines = json.dumps(GOOD, indent=1).splitlines()
    at = next(i for i, line in enumerate(lines) if "x = 1" in line)
    ours, theirs = lines[at], lines[at].replace("x = 1", "x = 2")
    lines[at : at + 1] = ["<<<<<<< HEAD", ours, "=======", theirs, ">>>>>>> branch"]
    return ("\n".join(lines) + "\n").encode()


_conflicted = _conflicted_bytes()

CASES: list[Case] = [
    Case("empty file", _bytes("empty", b""), True),
    Case("truncated JSON", _bytes("trunc", json.dumps(GOOD).encode()[:200]), True),
    Case("not JSON at all", _bytes("junk", b"\x89PNG\r\n\x1a\n\x00\x00binary"), True),
    Case(
        "non-UTF-8 bytes",
        _bytes("latin", json.dumps(GOOD).replace("Title", "T\u00eftle").encode("latin-1")),
        True,
    ),
    Case("JSON list", _bytes("list", b"[1, 2, 3]"), True),
    Case("cells is a dict", _json(_with(cells={})), True),
    Case("cell is a string", _json(_with(cells=["x = 1"])), True),
    Case("source is a number", _json(_cell_with(source=42)), True),
    Case("outputs is a dict", _json(_cell_with(outputs={})), True),
    Case("metadata is a list", _json(_with(metadata=[])), True),
    Case("nbformat is a string", _json(_with(nbformat="4")), True),
    Case("unknown cell type", _json(_cell_with(cell_type="widget")), True),
    Case(
        "nbformat 3",
        _json({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}),
        True,
    ),
    Case("conflict markers", _bytes("markers", _conflicted), True),
    Case(
        "deeply nested JSON",
        _bytes(
            "deep",
            b'{"cells": [], "metadata": {"a": '
            + b"[" * 100000
            + b"]" * 100000
            + b'}, "nbformat": 4, "nbformat_minor": 5}',
        ),
        True,
    ),
    Case("a directory named x.ipynb", _dir, True),
    Case("dangling symlink", _dangling_symlink, True),
    # valid notebooks in odd shapes
    *[Case(f"nbformat 4.{m}", _json(_nbformat_minor(m)), False) for m in range(6)],
    Case(
        "missing cell ids in 4.5",
        _json(
            {**GOOD, "cells": [{k: v for k, v in c.items() if k != "id"} for c in GOOD["cells"]]}
        ),
        False,
    ),
    Case(
        "duplicate cell ids",
        _json({**GOOD, "cells": [{**c, "id": "same"} for c in GOOD["cells"]]}),
        False,
    ),
    Case("CRLF line endings", _json(GOOD, newline="\r\n"), False),
    Case("UTF-8 BOM", _json(GOOD, bom=True), False),
    Case("unicode and spaces in the path", _json(GOOD, filename="mé ñ 数据 notebook.ipynb"), False),
    Case("symlink to a notebook", _symlink_to_good, False),
    Case("50 MB output", _huge_output, False, heavy=True),
]
