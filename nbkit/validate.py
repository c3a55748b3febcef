"""Is this a notebook git and Jupyter can both live with? One line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from nbkit import notebook
from nbkit.cache import Cache, digest
from nbkit.errors import BadInput, with_hint


class Problem(NamedTuple):
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate_file(
    path: str | Path,
    *,
    max_output_bytes: int | None = None,
    cache: Cache | None = None,
    data: bytes | None = None,
) -> list[Problem]:
    """Problems with one notebook: unreadable, conflict markers, schema, duplicate ids, size.
    ``data``: the file's bytes, when the caller has read them already."""
    name = str(path)
    try:
        data = notebook.read_bytes(path) if data is None else data
        key = digest(data + f"\0{max_output_bytes}".encode())
        if cache is not None and cache.has("valid", key):
            return []
        nb = notebook.loads(data, path)
    except BadInput as exc:
        return [Problem(name, with_hint(exc.message, exc.hint))]
    # fastjsonschema answers "valid?" without importing nbformat (seconds on a slow machine);
    # nbformat's own validator runs only to explain a notebook that fails.
    schema_messages = [] if notebook.schema_ok(nb) else notebook.validate_schema(nb, path)
    problems = [Problem(name, m) for m in schema_messages]
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        cell_id = cell.get("id")
        if isinstance(cell_id, str):
            if cell_id in seen:
                problems.append(
                    Problem(name, f"cells {seen[cell_id]} and {index} share the id {cell_id!r}")
                )
            seen.setdefault(cell_id, index)
        if notebook.has_conflict_markers(notebook.source_text(cell)):
            problems.append(
                Problem(
                    name,
                    with_hint(
                        f"cell {index} holds an unsettled merge conflict (<<<<<<< ... >>>>>>>)",
                        f"edit the cell, or nbkit resolve --ours|--theirs {name}",
                    ),
                )
            )
        if max_output_bytes is None:
            continue
        for output in cell.get("outputs", []):
            size = notebook.output_size(output)
            if size > max_output_bytes:
                problems.append(
                    Problem(
                        name,
                        f"cell {index} has an output of {size:,} bytes "
                        f"(limit {max_output_bytes:,})",
                    )
                )
    if not problems and cache is not None:
        cache.add("valid", key)
    return problems
