"""Turn how an execution ended into a status, read from the executed notebook.

Cell numbers in the manifest are indexes in the SOURCE notebook (what the user edits):
papermill's injected parameters cell and error markers are not counted.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from nbkit import notebook as nbio
from nbkit.errors import BadInput

_INJECTED_TAGS = ("injected-parameters", "papermill-error-cell-tag")


def _tags(cell: dict[str, Any]) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def read_executed(path: Path) -> dict[str, Any] | None:
    """The executed notebook papermill wrote, or None when it never wrote one."""
    try:
        return nbio.read(path)
    except BadInput:
        return None


def source_cells(nb: dict[str, Any] | None) -> list[tuple[int | None, dict[str, Any]]]:
    """(index in the source notebook or None for injected cells, cell) for every cell."""
    result: list[tuple[int | None, dict[str, Any]]] = []
    index = 0
    for cell in (nb or {}).get("cells", []):
        if any(tag in _INJECTED_TAGS for tag in _tags(cell)):
            result.append((None, cell))
            continue
        result.append((index, cell))
        index += 1
    return result


def _papermill_meta(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("papermill", {})
    return meta if isinstance(meta, dict) else {}


def cell_durations(nb: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per executed code cell: source index, id, seconds (None when it never finished)."""
    rows = []
    for index, cell in source_cells(nb):
        meta = _papermill_meta(cell)
        if cell.get("cell_type") != "code" or meta.get("start_time") is None:
            continue
        rows.append({"cell": index, "id": cell.get("id"), "duration": meta.get("duration")})
    return rows


def _last_started(nb: dict[str, Any] | None) -> dict[str, Any]:
    """The cell that was running when execution stopped: the last one papermill started."""
    found: dict[str, Any] = {"cell": None, "cell_id": None}
    for index, cell in source_cells(nb):
        if cell.get("cell_type") == "code" and _papermill_meta(cell).get("start_time"):
            found = {"cell": index, "cell_id": cell.get("id")}
            if index is None and "injected-parameters" in _tags(cell):
                found["cell_id"] = "injected-parameters"
    return found


def status_of(
    error: BaseException | None, interrupted: str | None, nb: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """(status, error details) for the manifest."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    where = _last_started(nb)
    if interrupted:
        return "interrupted", {**where, "signal": interrupted}
    if error is None:
        return "succeeded", None
    if isinstance(error, CellTimeoutError):
        return "timed_out", {**where, "ename": "CellTimeoutError", "evalue": _short(error)}
    if isinstance(error, PapermillExecutionError):
        return "failed", {**where, "ename": error.ename, "evalue": _short(error.evalue)}
    if isinstance(error, DeadKernelError):
        return "failed", {
            **where,
            "ename": "DeadKernelError",
            "evalue": _short(error),
            "reason": "the kernel died (crashed, killed, or ran out of memory)",
        }
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", {**where, "signal": "SIGINT"}
    return "failed", {
        **where,
        "ename": type(error).__name__,
        "evalue": _short(error),
        "reason": "the kernel could not run the notebook",
    }


def _short(value: object, limit: int = 2000) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def seconds_between(start: str, end: str) -> float:
    delta = datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
    return round(delta.total_seconds(), 3)
