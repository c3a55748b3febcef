"""Run the project's formatter (the ``pipe`` setting) over a script's text, stdin to stdout.

A formatter hook next to nbkit's (ruff format, black) rewrites the script nbkit writes, and
the pair never settles. With ``pipe = ["ruff format -"]`` nbkit formats the script text itself
while syncing and carries the formatted code back into the notebook (``convert.piped``), so the
formatter hook finds nothing left to change. As jupytext's ``--pipe``: each command reads the
text on stdin and writes it on stdout; ``{}`` in a command stands for the script's path
(``ruff format --stdin-filename {} -`` picks the file's own ruff settings).

The command comes from the project's configuration, so it runs only where the user asked
for project commands to run: ``nbkit sync`` and the commit hook (as pre-commit runs the
project's hooks), never from the checkout and merge git hooks.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nbkit.errors import BadInput

TIMEOUT = 60.0  # seconds per command: a formatter taking longer is stuck
PLACEHOLDER = "{}"
_HINT = "fix the `pipe` setting in [tool.nbkit] (docs/pairing-and-sync.md), or remove it"

Command = tuple[str, ...]  # one argv, run without a shell


def parse_commands(value: Any) -> tuple[Command, ...]:
    """The ``pipe`` setting: a command or a list of them, each a string split as a shell
    would (``shlex``) but never run by one. Raises ``ValueError`` naming what is wrong."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError('a list of commands such as ["ruff format -"]')
    commands = []
    for text in texts:
        try:
            argv = tuple(shlex.split(text))
        except ValueError as exc:
            raise ValueError(f"a list of commands ({text!r}: {exc})") from None
        if not argv:
            raise ValueError('a list of non-empty commands such as ["ruff format -"]')
        commands.append(argv)
    return tuple(commands)


def key(commands: Sequence[Command]) -> str:
    """A stable text form, part of the sync cache key: a changed pipe re-checks every pair."""
    return "\0".join("\x1f".join(argv) for argv in commands)


def shown_command(argv: Command) -> str:
    return shlex.join(argv)


def run(text: str, commands: Sequence[Command], path: Path, root: Path) -> str:
    """``text`` through each command in turn, in the project root (where the formatter finds
    the project's settings). A command missing, failing, stuck or printing nothing for some
    text is ``BadInput`` naming ``path`` and the command: the caller then writes nothing."""
    for argv in commands:
        text = _run_one(text, argv, path, root)
    return text


def _run_one(text: str, argv: Command, path: Path, root: Path) -> str:
    name = _relative(path, root)
    filled = [name if part == PLACEHOLDER else part for part in argv]
    where = f"pipe command `{shown_command(argv)}`"
    try:
        proc = subprocess.run(
            filled,
            input=text.encode("utf-8"),
            capture_output=True,
            cwd=root,
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise BadInput(
            f"{where}: '{argv[0]}' not found; nothing written",
            path,
            hint=f"install it where nbkit runs (with pre-commit: add it to the nbkit hook's "
            f"additional_dependencies), or {_HINT}",
        ) from None
    except subprocess.TimeoutExpired:
        raise BadInput(f"{where}: no answer after {TIMEOUT:.0f}s; nothing written", path) from None
    except OSError as exc:
        raise BadInput(f"{where}: cannot run: {exc.strerror or exc}", path, hint=_HINT) from None
    if proc.returncode != 0:
        raise BadInput(
            f"{where} failed (exit {proc.returncode}): {_first_line(proc.stderr)}; nothing written",
            path,
            hint="fix what the formatter reports in the notebook's code, or " + _HINT,
        )
    try:
        out = proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{where} printed text that is not UTF-8; nothing written", path) from None
    if not out.strip() and text.strip():
        raise BadInput(
            f"{where} printed nothing (it must print the formatted text); nothing written",
            path,
            hint="a formatter reading stdin usually needs '-' as its file name, or " + _HINT,
        )
    return out.replace("\r\n", "\n")


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).absolute().relative_to(Path(root).absolute()).as_posix()
    except ValueError:
        return str(path)


def _first_line(stderr: bytes) -> str:
    """The formatter's first non-empty line of complaint, short (the CLI escapes it)."""
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()[:200]
    return "no message"


def applies_to(nb: dict[str, Any]) -> bool:
    """Whether the pipe formats this notebook: a Python one (the kernel's language, else the
    language_info's; a notebook that names none is Python, as jupytext assumes). A project's
    R or Julia notebooks are left to their own tools."""
    meta = nb.get("metadata", {})
    for holder, field in (("kernelspec", "language"), ("language_info", "name")):
        value = meta.get(holder, {}).get(field) if isinstance(meta.get(holder), dict) else None
        if isinstance(value, str) and value:
            return value.lower() in ("python", "python3")
    return True


# pre-commit hook ids of formatters that rewrite Python files, and the pipe that formats alike
FORMATTER_HOOKS = {
    "ruff-format": "ruff format -",
    "black": "black -q -",
    "autopep8": "autopep8 -",
    "yapf": "yapf",
}
_HOOK_ID = re.compile(r"^\s*-?\s*id:\s*['\"]?([\w.-]+)", re.MULTILINE)
_ENTRY = re.compile(r"^\s*entry:\s*['\"]?(ruff format|black)\b", re.MULTILINE)


def formatter_hooks(config_file: Path) -> list[tuple[str, str]]:
    """Formatter hooks a ``.pre-commit-config.yaml`` runs, as (hook id, matching pipe). A
    line scan, no YAML parser: it only chooses whether to add a hint to a failure."""
    try:
        text = config_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = [(i, FORMATTER_HOOKS[i]) for i in _HOOK_ID.findall(text) if i in FORMATTER_HOOKS]
    for entry in _ENTRY.findall(text):
        command = "ruff format -" if entry == "ruff format" else FORMATTER_HOOKS["black"]
        found.append((f"`{entry}`", command))
    return list(dict.fromkeys(found))
