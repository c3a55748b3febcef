"""Stable JSON (schema ``nbkit.diff/1``, documented in docs/review.md) for tools and CI.

Fields are only ever added within a schema version; indices are 0-based. Image payloads are
left out (sizes and the changed-pixel share are kept) so the document stays small.
"""

from __future__ import annotations

from typing import Any

import orjson

from nbkit.review.diff import CellChange, MetadataChange, NotebookDiff, Report
from nbkit.review.outputs import OutputChange, OutputView
from nbkit.review.render import RenderOptions

SCHEMA = "nbkit.diff/1"


def _meta(changes: tuple[MetadataChange, ...]) -> list[dict[str, Any]]:
    return [{"key": m.key, "old": m.old, "new": m.new} for m in changes]


def _view(v: OutputView | None, full: bool) -> dict[str, Any] | None:
    if v is None:
        return None
    out: dict[str, Any] = {"type": v.kind}
    if v.size:
        out["width"], out["height"] = v.size
    if full and v.image is None:
        out["text"] = v.text
    return out


def _output(o: OutputChange, full: bool) -> dict[str, Any]:
    return {
        "change": o.change,
        "old_index": o.old_index,
        "new_index": o.new_index,
        "summary": o.summary,
        "diff": list(o.diff),
        "pixels_changed": o.pixels_changed,
        "old": _view(o.old, full),
        "new": _view(o.new, full),
    }


def _cell(c: CellChange, full: bool) -> dict[str, Any]:
    return {
        "change": c.change,
        "old_index": c.old_index,
        "new_index": c.new_index,
        "cell_type": c.cell_type,
        "old_cell_type": c.old_cell_type,
        "id": c.cell_id,
        "source_changed": c.source_changed,
        "source_diff": list(c.source_diff),
        "whitespace_only": c.whitespace_only,
        "outputs": [_output(o, full) for o in c.outputs],
        "metadata": _meta(c.metadata),
    }


def _notebook(nb: NotebookDiff, full: bool) -> dict[str, Any]:
    return {
        "path": nb.path,
        "old_path": nb.old_path,
        "status": nb.status,
        "paired_scripts": list(nb.paired),
        "sources_changed": nb.sources_changed,
        "counts": nb.counts.as_dict(),
        "metadata": _meta(nb.metadata),
        "cells": [_cell(c, full) for c in nb.cells],
    }


def as_data(report: Report, options: RenderOptions) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "old": report.old_label,
        "new": report.new_label,
        "sources_changed": report.sources_changed,
        "counts": report.counts.as_dict(),
        "notebooks": [_notebook(nb, options.outputs) for nb in report.notebooks if nb.changed],
        "notes": list(report.notes),
    }


def render(report: Report, options: RenderOptions) -> str:
    return orjson.dumps(as_data(report, options), option=orjson.OPT_INDENT_2).decode() + "\n"
