"""Renderers: a diff ``Report`` -> text for a terminal, a PR comment, a web page, or JSON.

Each renderer is a module with ``render(report, options) -> str``; the registry maps a
``--format`` name to its module, imported only when that format is asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from nbkit.errors import UsageError

if TYPE_CHECKING:
    from nbkit.review.diff import Report

GITHUB_COMMENT_LIMIT = 65536


@dataclass(frozen=True)
class RenderOptions:
    outputs: bool = False  # output changes in full, not only their one-line summaries
    color: bool = False  # terminal colours
    max_chars: int = GITHUB_COMMENT_LIMIT  # markdown: the size a PR comment may have
    command: str = ""  # how to get the full report (named in a truncation note)


class Renderer(Protocol):
    def __call__(self, report: Report, options: RenderOptions) -> str: ...


RENDERERS: dict[str, str] = {
    "terminal": "nbkit.review.render.terminal",
    "markdown": "nbkit.review.render.markdown",
    "html": "nbkit.review.render.html",
    "json": "nbkit.review.render.jsonout",
}

SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".txt": "terminal",
}


def get(name: str) -> Renderer:
    """The renderer registered under ``name``."""
    module = RENDERERS.get(name)
    if module is None:
        raise UsageError(f"unknown format {name!r}; choose one of {', '.join(RENDERERS)}")
    render: Renderer = importlib.import_module(module).render
    return render


def cell_label(index: int | None) -> str:
    """Cells are numbered from 1 for people (JSON keeps 0-based indices)."""
    return "?" if index is None else str(index + 1)


def cell_where(new_index: int | None, old_index: int | None) -> str:
    """Where a cell is: its new position, or its old one (marked) for a removed cell."""
    if new_index is None:
        return f"{cell_label(old_index)} (old)"
    return cell_label(new_index)


def change_phrase(change: str, old_index: int | None, new_index: int | None) -> str:
    if change == "moved":
        return f"moved from {cell_label(old_index)} to {cell_label(new_index)}"
    return change


def summary_line(report: Report) -> str:
    c = report.counts
    changed = [nb for nb in report.notebooks if nb.changed]
    parts = [f"{len(changed)} notebook{'s' if len(changed) != 1 else ''} changed"]
    cells = [
        f"{n} {name}"
        for name, n in (
            ("added", c.added),
            ("removed", c.removed),
            ("modified", c.modified),
            ("moved", c.moved),
        )
        if n
    ]
    if cells:
        parts.append("cells: " + ", ".join(cells))
    if c.outputs:
        parts.append(f"outputs changed in {c.outputs} cell{'s' if c.outputs != 1 else ''}")
    if c.metadata:
        parts.append(f"metadata changed in {c.metadata} cell{'s' if c.metadata != 1 else ''}")
    return "; ".join(parts)
