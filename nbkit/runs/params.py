"""Run parameters: parse ``NAME=VALUE`` and YAML files as data, find what a notebook declares.

Values are YAML scalars or collections read with ``yaml.safe_load`` and then reduced to JSON
types, so a parameter is never evaluated as code and always fits in the manifest. The
parameters a notebook declares are read from its ``parameters`` cell with ``ast``: no kernel.
"""

from __future__ import annotations

import ast
import datetime
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from nbkit.errors import BadInput
from nbkit.notebook import Notebook, source_text

PARAMETERS_TAG = "parameters"


class Declared(NamedTuple):
    """One parameter assigned in the parameters cell."""

    name: str
    type: str  # the annotation, or the type of the literal default, or "" when unknown
    default: str  # the default's source text, as written
    help: str  # a trailing comment on the line, if any


def _to_data(value: Any, where: str) -> Any:
    """Reduce a YAML value to JSON types; dates become ISO strings, anything else refused."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_to_data(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_data(v, where) for k, v in value.items()}
    raise BadInput(f"parameter value of type {type(value).__name__} is not supported", where)


def parse_value(text: str, where: str = "-p") -> Any:
    """A ``-p`` value as YAML data: ``0.1`` is a float, ``[1, 2]`` a list, ``abc`` a string."""
    import yaml

    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as exc:
        raise BadInput(f"value {text!r} is not valid YAML: {_yaml_problem(exc)}", where) from None
    return _to_data(value, where)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``NAME=VALUE`` and parse the value; the name must be a Python identifier."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise BadInput(f"parameter {text!r} is not NAME=VALUE", "-p", hint="e.g. -p lr=0.01")
    return name, parse_value(raw, f"-p {name}")


def _yaml_problem(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def load_file(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML (or JSON) mapping file."""
    import yaml

    from nbkit.notebook import read_bytes

    data = read_bytes(path)
    try:
        loaded = yaml.safe_load(data) if data.strip() else {}
    except yaml.YAMLError as exc:
        raise BadInput(f"invalid YAML: {_yaml_problem(exc)}", path) from None
    if not isinstance(loaded, dict):
        raise BadInput("a parameters file must be a mapping of NAME: VALUE", path)
    result: dict[str, Any] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise BadInput(f"parameter name {key!r} is not a Python identifier", path)
        result[key] = _to_data(value, str(path))
    return result


def collect(files: Iterable[str | Path], assignments: Iterable[str]) -> dict[str, Any]:
    """Parameters from files in order, then ``-p`` assignments (the last one wins)."""
    result: dict[str, Any] = {}
    for path in files:
        result.update(load_file(path))
    for text in assignments:
        name, value = parse_assignment(text)
        result[name] = value
    return result


def parameters_cell(nb: Notebook) -> int | None:
    """Index of the first code cell tagged ``parameters``, as papermill chooses it."""
    for index, cell in enumerate(nb.get("cells", [])):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and isinstance(tags, list) and PARAMETERS_TAG in tags:
            return index
    return None


def _literal_type(node: ast.expr) -> str:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ""
    return type(value).__name__


def _targets(stmt: ast.stmt) -> list[tuple[str, str, ast.expr | None]]:
    """(name, annotation, value) for each simple name a statement assigns."""
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [(stmt.target.id, ast.unparse(stmt.annotation), stmt.value)]
    if isinstance(stmt, ast.Assign):
        return [(t.id, "", stmt.value) for t in stmt.targets if isinstance(t, ast.Name)]
    return []


def declared(nb: Notebook, path: str | Path) -> list[Declared] | None:
    """The parameters the notebook declares, or None when it has no parameters cell."""
    index = parameters_cell(nb)
    if index is None:
        return None
    source = source_text(nb["cells"][index])
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise BadInput(
            f"the parameters cell (cell {index}) is not valid Python: {exc.msg} "
            f"(line {exc.lineno})",
            path,
        ) from None
    lines = source.splitlines()
    found: dict[str, Declared] = {}
    for stmt in tree.body:
        line = lines[stmt.lineno - 1] if stmt.lineno <= len(lines) else ""
        comment = line.partition("#")[2].strip() if "#" in line else ""
        for name, annotation, value in _targets(stmt):
            kind = annotation or (_literal_type(value) if value is not None else "")
            default = ast.unparse(value) if value is not None else ""
            found[name] = Declared(name, kind, default, comment)
    return list(found.values())


def check(
    nb: Notebook, path: str | Path, parameters: Mapping[str, Any], *, allow_unknown: bool
) -> None:
    """Refuse parameters the notebook cannot take (papermill itself would only warn)."""
    if not parameters:
        return
    names = declared(nb, path)
    if names is None:
        raise BadInput(
            "has no cell tagged 'parameters', so it takes no parameters",
            path,
            hint="tag the cell that sets the defaults with 'parameters'",
        )
    if allow_unknown:
        return
    known = {d.name for d in names}
    unknown = sorted(set(parameters) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise BadInput(
            f"parameter {', '.join(unknown)} is not declared in the parameters cell "
            f"(declared: {listed})",
            path,
            hint="--allow-unknown passes it anyway",
        )
