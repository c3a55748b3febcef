"""nbkit: Jupyter notebooks that behave like source code in git.

Importing the package must stay cheap: notebooks call ``nbkit.record`` and the CLI starts on
every commit, so nothing heavy is imported here.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
# What pip installs: "nbkit" on the package index is another author's project.
DISTRIBUTION = "nbkit-git"

__all__ = ["DISTRIBUTION", "__version__", "record"]


def record(name: str, value: Any = None, *, figure: Any = None, step: int | None = None) -> None:
    """Record a named result of an experiment inside a running notebook.

    The value is shown as a display output with nbkit's own MIME type, so the executed
    notebook itself is the evidence (see ``nbkit.recording``). With ``step`` (an int, e.g.
    the epoch) the records of one name form a series that ``nbkit runs plot`` draws.
    """
    from nbkit.recording import record_value

    record_value(name, value, figure=figure, step=step)
