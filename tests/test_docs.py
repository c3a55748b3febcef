"""Docs that cannot drift: every command has help with an example and is in docs/*.md.

Every command in the lazy table must import, have help with an example, and be documented.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import click
import pytest

from nbkit import __version__
from nbkit.cli.main import COMMANDS
from tests.conftest import REPO_ROOT

DOCS = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "docs").glob("*.md")))


def _built() -> list[str]:
    """Every command in the table; importing each proves its module and attribute exist."""
    for module, attr, _help, _hidden in COMMANDS.values():
        assert getattr(importlib.import_module(module), attr, None) is not None, (module, attr)
    return sorted(COMMANDS)


BUILT = _built()


def _command(name: str) -> click.Command:
    module, attr, _help, _hidden = COMMANDS[name]
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command), name
    return command


def _walk(prefix: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
    """The command and its subcommands, asked the way click asks: lazy groups load theirs."""
    yield prefix, command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=prefix)
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            assert sub is not None, f"nbkit {prefix} {sub_name}: listed but does not load"
            yield from _walk(f"{prefix} {sub_name}", sub)


PATHS = sorted(path for name in BUILT for path, _cmd in _walk(name, _command(name)))


def test_the_hook_commands_are_built() -> None:
    assert {"install", "uninstall", "init", "hook", "filter-process"} <= set(BUILT)


def test_lazily_loaded_subcommands_are_walked() -> None:
    assert {"runs compare", "runs plot", "hook nbkit"} <= set(PATHS)


@pytest.mark.parametrize("name", BUILT)
def test_command_has_a_one_line_help_in_the_table(name: str) -> None:
    assert COMMANDS[name][2].strip(), f"{name}: no one-line help in COMMANDS"


@pytest.mark.parametrize("path", PATHS)
def test_command_has_help_with_an_example(path: str, cli: Callable[..., Any]) -> None:
    name, *subs = path.split()
    command = _command(name)
    for sub in subs:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), sub)
        assert found is not None, path
        command = found
    result = cli(*path.split(), "--help")
    assert result.code == 0, (path, result.err)
    assert (command.help or "").strip(), f"nbkit {path}: no help text"
    assert re.search(r"\bExamples?\b", result.out), f"nbkit {path} --help has no example"


@pytest.mark.parametrize("path", PATHS)
def test_command_is_documented(path: str) -> None:
    assert f"nbkit {path}" in DOCS, f"`nbkit {path}` is not mentioned in any docs/*.md"


def test_top_level_help_lists_every_visible_command(cli: Callable[..., Any]) -> None:
    result = cli("--help")
    assert result.code == 0
    rows = {line.split()[0] for line in result.out.splitlines() if line.startswith("  ")}
    for name, (_m, _a, _help, hidden) in COMMANDS.items():
        assert (name in rows) != hidden, name


def test_version(cli: Callable[..., Any]) -> None:
    result = cli("--version")
    assert result.code == 0 and __version__ in result.out
