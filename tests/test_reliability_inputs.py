"""Every command that reads notebooks, against the malformed-input corpus.

Invalid input: exit 1 or 2, one line naming the file, no traceback, no file changed.
Odd but valid input: never an internal error or a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.cli.main import COMMANDS
from tests.conftest import make_nb, write_nb
from tests.malformed import CASES, Case
from tests.reliability import count

# command name -> argument builder (P: the case's path, GOOD: a valid notebook beside it)
# `mutates`: the command may legitimately rewrite a valid input.
COMMAND_ARGS: dict[str, tuple[Callable[[Path, Path], list[str]], bool]] = {
    "clean": (lambda p, g: ["clean", str(p)], True),
    "clean --check": (lambda p, g: ["clean", "--check", str(p)], False),
    "validate": (lambda p, g: ["validate", str(p)], False),
    "sync --check": (lambda p, g: ["sync", "--check", str(p)], False),
    "pair": (lambda p, g: ["pair", str(p)], True),
    "diff": (lambda p, g: ["diff", str(g), str(p)], False),
    "resolve": (lambda p, g: ["resolve", str(p)], True),
    "merge-driver": (lambda p, g: ["merge-driver", str(g), str(p), str(g), p.name], True),
}
# Commands that would start a kernel on a valid notebook: only invalid input goes through them.
INVALID_ONLY = {"run": (lambda p, g: ["run", str(p)], False)}
HEAVY_OK = {"clean", "clean --check", "validate"}
# Cases that are the command's normal input rather than bad input.
EXPECTED_INPUT = {("resolve", "conflict markers")}


def _available(command: str) -> bool:
    entry = COMMANDS.get(command.split()[0])
    if entry is None:
        return False
    try:
        module = importlib.import_module(entry[0])
    except ModuleNotFoundError:
        return False
    return hasattr(module, entry[1])


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    result: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            result[str(path)] = path.read_bytes()
    return result


def _params() -> list[Any]:
    params = []
    for command, (build, mutates) in {**COMMAND_ARGS, **INVALID_ONLY}.items():
        for case in CASES:
            if command in INVALID_ONLY and not case.invalid:
                continue
            if case.heavy and command not in HEAVY_OK:
                continue
            assert _available(command), f"{command} is not built"
            marks: list[Any] = []
            params.append(
                pytest.param(
                    command, build, mutates, case, id=f"{command}-{case.name}", marks=marks
                )
            )
    return params


@pytest.mark.parametrize(("command", "build", "mutates", "case"), _params())
def test_command_on_malformed_input(
    repo: Path,
    cli: Callable[..., Any],
    command: str,
    build: Callable[[Path, Path], list[str]],
    mutates: bool,
    case: Case,
) -> None:
    good = write_nb(repo / "good.ipynb", make_nb(("markdown", "# Good\n"), "z = 3\n"))
    path = case.build(repo)
    before = _snapshot(repo)
    result = cli(*build(path, good))
    count("cases")
    assert "Traceback" not in result.err + result.out
    assert result.code != 3, result.err
    if not case.invalid or (command, case.name) in EXPECTED_INPUT:
        return
    assert result.code in (1, 2), (result.code, result.err)
    lines = [
        line
        for line in result.err.strip().splitlines()
        if line.strip() and not line.startswith("hint:")
    ]
    assert len(lines) == 1, result.err
    assert path.name in lines[0] or str(path) in lines[0], result.err
    after = _snapshot(repo)
    if after != before:
        count("lost")
    assert after == before, "a file changed on invalid input"


@pytest.mark.parametrize("case", [c for c in CASES if c.invalid], ids=lambda c: c.name)
def test_textconv_never_fails_git_diff(repo: Path, cli: Callable[..., Any], case: Case) -> None:
    """git's textconv contract: a bad file is shown as it is with a note, never an error that
    would break `git diff` / `git log -p`."""
    if not _available("textconv"):
        pytest.fail("textconv is not built")
    path = case.build(repo)
    before = _snapshot(repo)
    result = cli("textconv", path)
    count("cases")
    assert "Traceback" not in result.err + result.out
    assert result.code in (0, 2), result.err
    if result.code == 0:
        assert result.out.startswith("# nbkit:"), result.out[:200]
    assert _snapshot(repo) == before
