"""A source that changed only in its line breaks is a (quiet) source change for nbkit diff."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.review_helpers import code, md, notebook


def _write(path: Path, nb: dict[str, Any]) -> Path:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("x = 1\ny = 2", "x = 1\ny = 2\n", "final newline added"),
        ("x = 1\ny = 2\n", "x = 1\ny = 2", "final newline removed"),
        ("x = 1\r\ny = 2", "x = 1\ny = 2", "line endings CRLF -> LF"),
    ],
)
def test_a_line_break_only_change_is_reported_quietly_and_exits_1(
    tmp_path: Path, cli: Callable[..., Any], old: str, new: str, what: str
) -> None:
    a = _write(tmp_path / "a.ipynb", notebook(md("# T"), code(old)))
    b = _write(tmp_path / "b.ipynb", notebook(md("# T"), code(new)))
    shown = cli("diff", "--no-color", a, b)
    assert shown.code == 1, shown
    assert f"whitespace only: {what}" in shown.out
    assert "1 modified" in shown.out
    as_json = cli("diff", "--format", "json", a, b)
    cell = json.loads(as_json.out)["notebooks"][0]["cells"][0]
    assert cell["source_changed"] is True
    assert cell["source_diff"] == []
    assert cell["whitespace_only"] == what
    assert "whitespace only" in cli("diff", "--format", "markdown", a, b).out


def test_a_real_edit_is_not_called_whitespace(tmp_path: Path, cli: Callable[..., Any]) -> None:
    a = _write(tmp_path / "a.ipynb", notebook(code("x = 1")))
    b = _write(tmp_path / "b.ipynb", notebook(code("x = 2\n")))
    as_json = json.loads(cli("diff", "--format", "json", a, b).out)
    assert as_json["notebooks"][0]["cells"][0]["whitespace_only"] is None
