"""One error hierarchy: every failure a user can act on carries a path and a one-line message.

Library code raises these; only ``nbkit.cli`` turns them into exit codes and text.
"""

from __future__ import annotations

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
