"""Run parameters: parse ``NAME=VALUE`` and YAML files as data, find what a notebook declares.

``-p NAME=VALUE`` is typed the way papermill's own CLI types it (``True``/``False``/``None``,
an int, a float, else the string as given: ``1e-3`` is 0.001, ``NO`` stays ``'NO'``, ``010``
is 10); ``-y NAME=VALUE`` and ``-f FILE`` are YAML, read with ``yaml.safe_load`` after a
bounded walk of the document (aliases, depth, size); ``-r NAME=VALUE`` is the raw string.
Every value is reduced to JSON types, so a parameter is never evaluated as code and always
fits in the manifest. The parameters a notebook declares are read from its ``parameters``
cell with ``ast`` (Python) or a line pattern (R, Julia...): no kernel. A declared type
(annotation or literal default) checks the values given for it.
"""

from __future__ import annotations

import ast
import datetime
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from nbkit.errors import BadInput
from nbkit.notebook import Notebook, source_text

PARAMETERS_TAG = "parameters"
MAX_YAML_BYTES = 1 << 20  # a parameters file larger than this is not a parameters file
MAX_YAML_NODES = 100_000  # values after expanding aliases ("billion laughs" stops here)
MAX_YAML_DEPTH = 64


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


def _bounded_yaml(text: str | bytes, where: str | Path) -> Any:
    """``yaml.safe_load`` after checking the composed document: size, nesting depth, and the
    number of values once aliases are expanded. PyYAML shares aliased nodes, but every later
    walk (and the manifest) expands them: eight lines of nested aliases are a billion values.
    """
    import yaml

    if len(text) > MAX_YAML_BYTES:
        raise BadInput(
            f"parameters larger than {MAX_YAML_BYTES // 1024} KiB", where, hint=_YAML_HINT
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise BadInput(f"invalid YAML: {_yaml_problem(exc)}", where) from None
    stack: list[tuple[Any, int]] = [(root, 1)] if root is not None else []
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES or depth > MAX_YAML_DEPTH:
            what = f"more than {MAX_YAML_NODES} values" if count > MAX_YAML_NODES else "too deep"
            raise BadInput(f"YAML expands to {what} (aliases or nesting)", where, hint=_YAML_HINT)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
    return yaml.safe_load(text)


_YAML_HINT = "write the values out: aliases, nesting and size are bounded"


def parse_value(text: str, where: str = "-y") -> Any:
    """A value as YAML data (``-y``, sweeps): ``0.1`` is a float, ``[1, 2]`` a list."""
    if not text.strip():
        return ""
    try:
        value = _bounded_yaml(text, where)
    except BadInput as exc:
        problem = exc.message.removeprefix("invalid YAML: ")
        joint = " is not valid YAML: " if problem != exc.message else ": "
        raise BadInput(f"value {text!r}{joint}{problem}", where, hint=exc.hint) from None
    return _to_data(value, where)


def papermill_value(text: str) -> Any:
    """A value typed as papermill's CLI types ``-p NAME VALUE``: ``True``, ``False``,
    ``None``, an int (``010`` is 10: base ten), a float (``1e-3``), else the text itself
    (``NO``, ``12:30:00``, ``[1, 2]`` stay strings: YAML is ``-y``)."""
    constants = {"True": True, "False": False, "None": None}
    if text in constants:
        return constants[text]
    for kind in (int, float):
        try:
            return _to_data(kind(text), "-p")
        except ValueError:
            pass
    return text


def parse_assignment(text: str, option: str = "-p") -> tuple[str, Any]:
    """Split ``NAME=VALUE`` and parse the value as ``option`` does (``-p``, ``-y``, ``-r``);
    the name must be a Python identifier."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise BadInput(
            f"parameter {text!r} is not NAME=VALUE", option, hint=f"e.g. {option} lr=0.01"
        )
    if option == "-y":
        return name, parse_value(raw, f"-y {name}")
    return name, papermill_value(raw) if option == "-p" else raw


def _yaml_problem(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def load_file(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML (or JSON) mapping file."""
    from nbkit.notebook import read_bytes

    data = read_bytes(path)
    loaded = _bounded_yaml(data, path) if data.strip() else {}
    if not isinstance(loaded, dict):
        raise BadInput("a parameters file must be a mapping of NAME: VALUE", path)
    result: dict[str, Any] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise BadInput(f"parameter name {key!r} is not a Python identifier", path)
        result[key] = _to_data(value, str(path))
    return result


def collect(
    files: Iterable[str | Path],
    assignments: Iterable[str],
    yaml_values: Iterable[str] = (),
    raw_values: Iterable[str] = (),
    types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Parameters from files in order, then ``-y``, ``-p`` and ``-r`` assignments (the last
    one wins), checked against the declared ``types`` (name -> type) when given."""
    result: dict[str, Any] = {}
    given: dict[str, tuple[str, str]] = {}  # name -> (option, raw text)
    for path in files:
        for name, value in load_file(path).items():
            result[name] = value
            given[name] = (str(path), "")
    for option, texts in (("-y", yaml_values), ("-p", assignments), ("-r", raw_values)):
        for text in texts:
            name, value = parse_assignment(text, option)
            result[name] = value
            given[name] = (option, text.partition("=")[2])
    for name, (option, raw) in given.items():
        declared_type = (types or {}).get(name, "")
        result[name] = typed(name, result[name], declared_type, option, raw)
    return result


_NUMBERS = {"float": (int, float), "int": (int,), "complex": (int, float)}
_COLLECTIONS = ("list", "dict", "tuple", "set", "List", "Dict", "Tuple")


def typed(name: str, value: Any, declared: str, option: str, raw: str) -> Any:
    """``value`` checked against the notebook's declared type: a ``-p`` value for a ``str``
    parameter is the text as given (``010`` stays ``'010'``); an int for a ``float``
    parameter becomes a float; anything else of the wrong type is refused."""
    base = declared.split("[", 1)[0].strip()
    where = f"{option} {name}" if option.startswith("-") else option
    if value is None or not base or option == "-r":  # -r: the string, as the user asked
        return value
    if base == "str":
        if option == "-p":
            return raw
        if isinstance(value, str):
            return value
        raise BadInput(
            f"parameter {name} is declared str, got {value!r}", where, hint="quote it in YAML"
        )
    if base in _NUMBERS:
        if isinstance(value, _NUMBERS[base]) and not isinstance(value, bool):
            return float(value) if base == "float" else value
        raise BadInput(f"parameter {name} is declared {base}, got {value!r}", where)
    if base == "bool":
        if isinstance(value, bool):
            return value
        raise BadInput(
            f"parameter {name} is declared bool, got {value!r}", where, hint="True or False"
        )
    if base in _COLLECTIONS and isinstance(value, str):
        raise BadInput(
            f"parameter {name} is declared {base}, got the string {value!r}",
            where,
            hint=f"-y {name}=VALUE reads the value as YAML, e.g. -y {name}=[1, 2]",
        )
    return value


def declared_types(path: str | Path) -> dict[str, str]:
    """name -> declared type of a notebook's parameters; empty when it cannot be read (the
    run's own checks then say why)."""
    from nbkit.notebook import read

    try:
        found = declared(read(path), path)
    except BadInput:
        return {}
    return {d.name: d.type for d in found or []}


def defaults(nb: Notebook, path: str | Path) -> dict[str, Any]:
    """The declared defaults as data: literals evaluated (never code), others as written."""
    result: dict[str, Any] = {}
    for item in declared(nb, path) or []:
        try:
            value = ast.literal_eval(item.default) if item.default else None
            result[item.name] = _to_data(value, str(path))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, BadInput):
            result[item.name] = item.default
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


def language(nb: Notebook, *, as_written: bool = False) -> str:
    """The notebook's language, lower case (``python`` when it does not say); as written
    for papermill, whose translators are keyed ``R``, ``julia``, ``scala``..."""
    meta = nb.get("metadata", {})
    lang = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {})
    name = str(lang.get("name", "python") if isinstance(lang, dict) else lang)
    return name if as_written else name.lower()


# ``name = value`` or ``name <- value`` (R), with an optional trailing ``#`` comment
_OTHER_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:=|<-)\s*(.+?)\s*(?:#\s*(.*))?$")


def _declared_other(source: str) -> list[Declared]:
    """Assignments in a parameters cell of another language (R, Julia, Scala...): names and
    defaults as written; no type (their literals are not Python's)."""
    found: dict[str, Declared] = {}
    for line in source.splitlines():
        match = _OTHER_ASSIGNMENT.match(line)
        if match and match.group(1).isidentifier():
            name, default, comment = match.group(1), match.group(2), match.group(3) or ""
            found[name] = Declared(name, "", default, comment.strip())
    return list(found.values())


def declared(nb: Notebook, path: str | Path) -> list[Declared] | None:
    """The parameters the notebook declares, or None when it has no parameters cell."""
    index = parameters_cell(nb)
    if index is None:
        return None
    source = source_text(nb["cells"][index])
    if language(nb) != "python":
        return _declared_other(source)
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
