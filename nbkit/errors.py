"""One error hierarchy: every failure a user can act on carries a path and a one-line message.

Library code raises these; only ``nbkit.cli`` turns them into exit codes and text.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbkit import DISTRIBUTION


class NbkitError(Exception):
    """A failure the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def one_line(self) -> str:
        """The message and its hint on one line, for a report that lists many problems."""
        return with_hint(str(self), self.hint)

    def lines(self) -> list[str]:
        """The message as the CLI prints it: one line, plus a hint line when there is one."""
        out = [str(self)]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class BadInput(NbkitError):
    """Input nbkit cannot use: invalid JSON, not a notebook, missing file, unknown id."""


class OutsideRepository(BadInput):
    """A write that would land outside the work tree or inside ``.git`` (a symlink, a
    pairing or a setting from the repository pointing there): refused, nothing written."""


class UsageError(NbkitError):
    """Arguments that do not fit together."""


class MissingDependency(NbkitError):
    """An optional part of nbkit is used without its extra installed."""


class ConflictError(NbkitError):
    """A decision is needed (sync conflict, merge conflict): exit 1, nothing written."""

    exit_code = 1


class GitError(NbkitError):
    """git failed or the path is not where git can answer."""


def require(module: str, extra: str, feature: str) -> None:
    """Fail with an install hint when an optional dependency is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependency(
            f"{feature} needs the '{module}' package, which is not installed",
            hint=f"pip install '{DISTRIBUTION}[{extra}]'",
        )


def with_hint(message: str, hint: str | None) -> str:
    """``message (hint: HINT)``: the one-line form of a problem and its way out."""
    return f"{message} (hint: {hint})" if hint else message


def shown(path: str | Path) -> str:
    """A path as the user would type it: relative to the current folder when it is inside it
    (symlinked folders resolved), else as given."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    here = Path(os.getcwd())
    for candidate, base in ((path, here), (path.resolve(), here.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)
