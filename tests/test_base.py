"""The shared base keeps one copy of each small rule: how a path is shown, how a hint is
written inline, which folders a walk skips."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from nbkit.errors import BadInput, shown, with_hint
from nbkit.selection import walk
from tests.conftest import REPO_ROOT, git, make_nb, write_nb

SOURCES = {p: p.read_text(encoding="utf-8") for p in (REPO_ROOT / "nbkit").rglob("*.py")}


@pytest.mark.parametrize(
    ("pattern", "owner"),
    [
        (r"relative_to\(\s*Path\.cwd\(\)", "errors.py"),  # a path shown relative to the cwd
        (r"\(hint: ", "errors.py"),  # "message (hint: ...)"
        (r"\.rglob\(|os\.walk\(", "selection.py"),  # a walk over a folder
    ],
)
def test_each_small_rule_has_one_owner(pattern: str, owner: str) -> None:
    places = sorted(
        str(path.relative_to(REPO_ROOT))
        for path, text in SOURCES.items()
        if re.search(pattern, text) and path.name != owner
    )
    assert places == [], f"{pattern!r} written again outside nbkit/{owner}: {places}"


def test_paths_are_shown_as_the_user_would_type_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path / "link")
    assert shown(Path("sub/a.ipynb")) == "sub/a.ipynb"  # relative: as given
    assert shown(tmp_path / "link" / "sub" / "a.ipynb") == "sub/a.ipynb"
    assert shown(real / "sub" / "a.ipynb") == "sub/a.ipynb"  # through the symlinked cwd
    assert shown(tmp_path / "elsewhere.ipynb") == str(tmp_path / "elsewhere.ipynb")


def test_a_hint_inline_and_on_its_own_line() -> None:
    error = BadInput("no such file", "a.ipynb", hint="check the path")
    assert error.one_line() == "a.ipynb: no such file (hint: check the path)"
    assert error.lines() == ["a.ipynb: no such file", "hint: check the path"]
    assert with_hint("fine", None) == "fine"


def test_the_walk_skips_hidden_and_tool_folders(tmp_path: Path) -> None:
    for rel in ("a.py", "sub/b.py", ".hidden/c.py", "venv/d.py", "node_modules/e.py", "f.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    os.mkfifo(tmp_path / "pipe.py")  # not a file
    assert [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path, "*.py")] == [
        "a.py",
        "sub/b.py",
    ]


@pytest.mark.parametrize("cwd_is_a_repo", [True, False])
def test_the_cache_goes_to_the_files_repository_not_the_current_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any, cwd_is_a_repo: bool
) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    for folder in (repo, elsewhere):
        folder.mkdir()
    git(repo, "init", "-q")
    if cwd_is_a_repo:
        git(elsewhere, "init", "-q")
    write_nb(repo / "a.ipynb", make_nb("x = 1"))
    monkeypatch.chdir(elsewhere)
    for args in (("clean", "--check"), ("validate",)):
        assert cli(*args, repo / "a.ipynb").code == 0, args
    assert (repo / ".git" / "nbkit-cache.json").is_file()
    assert not (elsewhere / ".git" / "nbkit-cache.json").exists()
    assert [p.name for p in elsewhere.iterdir()] == ([".git"] if cwd_is_a_repo else [])
