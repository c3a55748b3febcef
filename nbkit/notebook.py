"""Read notebooks fast, write them exactly as nbformat does, validate on request.

Reading parses plain JSON (orjson when present) and checks the few things every command
relies on; the nbformat schema validator is imported only by ``validate_schema`` because it
costs more than everything else a hook does.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from pathlib import Path
from typing import Any

from nbkit.errors import BadInput
from nbkit.fsutil import atomic_write_bytes, detect_newline

Notebook = dict[str, Any]

_BOM = b"\xef\xbb\xbf"
# A line git opens or closes a conflict with: seven '<' or '>' at the start of the line, then a
# space and a label, or the end of the line ('\r' of a CRLF file allowed). Only '\n' ends a line,
# as in git. ``conflict_marker`` is the same rule, one line at a time.
_MARKER_LINE = r"^(?:<<<<<<<|>>>>>>>)(?: [^\n]*|\r)?$"
_CONFLICT_TEXT_RE = re.compile(_MARKER_LINE, re.MULTILINE)
_CONFLICT_BYTES_RE = re.compile(_MARKER_LINE.encode(), re.MULTILINE)
# Mime types that nbformat stores as a list of lines although they are not text/*.
_SPLIT_MIMES = frozenset({"application/javascript", "image/svg+xml"})

_orjson: Any
try:  # orjson parses and writes large notebooks several times faster; json is the fallback.
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None


def _fast_loads(data: bytes) -> Any:
    return _orjson.loads(data) if _orjson is not None else json.loads(data)


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, or one clear ``BadInput`` for a missing file, a folder, no access."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise BadInput("no such file", path) from None
    except IsADirectoryError:
        raise BadInput("is a directory, not a notebook", path) from None
    except PermissionError:
        raise BadInput("permission denied", path) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", path) from None


def has_conflict_markers(data: bytes | str) -> bool:
    """Whether git left a ``<<<<<<<`` or ``>>>>>>>`` line: in a file's bytes or a cell's source.

    One marker is enough: a half-resolved conflict is still unsettled (resolve says which
    marker is missing).
    """
    if isinstance(data, bytes):
        return _CONFLICT_BYTES_RE.search(data) is not None
    return _CONFLICT_TEXT_RE.search(data) is not None


def conflict_marker(line: str) -> str | None:
    """The conflict marker ``line`` is (``<``, ``|``, ``=``, ``>``), or None.

    ``line`` may keep its newline. ``<`` and ``>`` follow the rule of ``has_conflict_markers``;
    ``|||||||`` (diff3 base) likewise; ``=======`` only alone on its line, since a Markdown
    heading underline looks the same and is harmless outside a hunk.
    """
    bare = line[:-1] if line.endswith("\n") else line
    bare = bare[:-1] if bare.endswith("\r") else bare
    if bare == "=======":
        return "="
    mark = bare[:1]
    if mark in ("<", "|", ">") and bare[:7] == mark * 7 and (len(bare) == 7 or bare[7] == " "):
        return mark
    return None


def parse_json(data: bytes, path: str | Path) -> Any:
    """Parse JSON bytes with a message that names the file and the first problem."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return _fast_loads(data)
    except ValueError:
        pass  # orjson refuses some valid JSON (NaN, huge ints); json decides.
    if not data.strip():
        raise BadInput("empty file, not a notebook", path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte {exc.start})", path) from None
    if has_conflict_markers(data):
        raise BadInput(
            "contains git conflict markers (<<<<<<< / >>>>>>>)",
            path,
            hint=f"nbkit resolve {path}",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path
        ) from None
    except RecursionError:
        raise BadInput("invalid JSON: nested too deeply", path) from None


_CELL_TYPES = frozenset(("code", "markdown", "raw"))


def _all(items: list[Any], kind: type) -> bool:
    """Whether every item is a ``kind``: one C pass over the types (parsed JSON holds exact
    types), the slower ``isinstance`` walk only for subclasses."""
    return set(map(type, items)) <= {kind} or all(isinstance(i, kind) for i in items)


def check_structure(nb: Any, path: str | Path) -> Notebook:
    """The minimal shape every command relies on; the full schema is ``validate_schema``."""
    if not isinstance(nb, dict) or ("cells" not in nb and "worksheets" not in nb):
        raise BadInput("not a notebook (no 'cells' list)", path)
    major = nb.get("nbformat")
    if not isinstance(major, int) or isinstance(major, bool):
        raise BadInput("not a notebook (no integer 'nbformat' version)", path)
    if major < 4:
        raise BadInput(
            f"nbformat {major} notebook; nbkit reads nbformat 4",
            path,
            hint=f"upgrade it with: jupyter nbconvert --to notebook --inplace {path}",
        )
    if major > 4:
        raise BadInput(f"nbformat {major} is newer than nbkit understands (4)", path)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise BadInput("not a notebook ('cells' is not a list)", path)
    if not isinstance(nb.get("metadata", {}), dict):
        raise BadInput("'metadata' is not an object", path)
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise BadInput(f"cell {index} is not an object", path)
        if cell.get("cell_type") not in _CELL_TYPES:
            raise BadInput(f"cell {index} has unknown cell_type {cell.get('cell_type')!r}", path)
        source = cell.get("source", "")
        if type(source) is not str and not (isinstance(source, list) and _all(source, str)):
            raise BadInput(f"cell {index} has a 'source' that is not text", path)
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list) or not _all(outputs, dict):
            raise BadInput(f"cell {index} has 'outputs' that are not a list of objects", path)
        if not isinstance(cell.get("metadata", {}), dict):
            raise BadInput(f"cell {index} has 'metadata' that is not an object", path)
    return nb


def loads(data: bytes, path: str | Path) -> Notebook:
    """Parse and shape-check notebook bytes."""
    return check_structure(parse_json(data, path), path)


def read(path: str | Path) -> Notebook:
    """Read a notebook file: parsed, shape-checked, not schema-validated."""
    return loads(read_bytes(path), path)


def output_size(output: Any) -> int:
    """An output's size in bytes as stored (what ``max_output_bytes`` limits)."""
    return len(json.dumps(output, ensure_ascii=False).encode("utf-8"))


def source_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string, whichever form the file stored it in."""
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def _split(value: Any) -> Any:
    """nbformat's storage form of a multiline string: a list of lines ("" becomes [])."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "".join(value)
    return value.splitlines(True) if isinstance(value, str) else value


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _split_bundle(bundle: Any) -> None:
    """Rejoin then split a mime bundle the way nbformat's reader and writer do."""
    if not isinstance(bundle, dict):
        return
    for key, value in bundle.items():
        if _is_json_mime(key):
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "".join(value)
            bundle[key] = value
        if isinstance(value, str) and (key.startswith("text/") or key in _SPLIT_MIMES):
            bundle[key] = value.splitlines(True)


def copy_json(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, immutable scalars), several times faster
    than ``copy.deepcopy``, which needs a memo for cycles JSON cannot have."""
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)  # dict subclasses (NotebookNode), tuples, anything odd


def to_storage_form(nb: Notebook) -> Notebook:
    """A deep copy in the form nbformat writes: lines split, transient fields gone."""
    cells = nb.get("cells")
    nb = {k: copy_json(v) for k, v in nb.items() if k != "cells"}
    meta = nb.get("metadata")
    if isinstance(meta, dict):
        for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
            meta.pop(key, None)
    if cells is not None:
        nb["cells"] = (
            [_storage_cell(c) for c in cells] if isinstance(cells, list) else copy_json(cells)
        )
    return nb


def storage_form_in_place(nb: Notebook) -> Notebook:
    """``to_storage_form`` without the copy, for a notebook the caller owns: lines split
    and transient fields dropped in ``nb`` itself. Returns ``nb``."""
    meta = nb.get("metadata")
    if isinstance(meta, dict):
        for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
            meta.pop(key, None)
    cells = nb.get("cells")
    if isinstance(cells, list):
        for cell in cells:
            if isinstance(cell, dict):
                _storage_cell_in_place(cell)
    return nb


def _storage_cell_in_place(cell: dict[str, Any]) -> None:
    source = cell.get("source")
    if type(source) is list:
        with contextlib.suppress(TypeError):  # lines as nbformat stores them: rejoined in C
            cell["source"] = "".join(source).splitlines(True)
    elif "source" in cell:
        cell["source"] = _split(source)
    attachments = cell.get("attachments")
    if isinstance(attachments, dict):
        for att in attachments.values():
            _split_bundle(att)
    if cell.get("cell_type") != "code":
        return
    for out in cell.get("outputs", []) or []:
        if not isinstance(out, dict):
            continue
        out.pop("transient", None)
        kind = out.get("output_type")
        if kind in ("execute_result", "display_data"):
            _split_bundle(out.get("data"))
        elif isinstance(out.get("text"), list):
            out["text"] = "".join(out["text"])
        if kind == "stream" and isinstance(out.get("text"), str):
            out["text"] = out["text"].splitlines(True)


def _storage_cell(cell: Any) -> Any:
    if not isinstance(cell, dict):
        return copy_json(cell)
    # The source is re-split into new lists anyway: copying it first would be wasted work.
    cell = {k: (v if k == "source" else copy_json(v)) for k, v in cell.items()}
    if "source" in cell:
        split = _split(cell["source"])
        cell["source"] = split if split is not cell["source"] else copy_json(split)
    attachments = cell.get("attachments")
    if isinstance(attachments, dict):
        for att in attachments.values():
            _split_bundle(att)
    if cell.get("cell_type") != "code":
        return cell
    for out in cell.get("outputs", []) or []:
        if not isinstance(out, dict):
            continue
        out.pop("transient", None)
        kind = out.get("output_type")
        if kind in ("execute_result", "display_data"):
            _split_bundle(out.get("data"))
        elif isinstance(out.get("text"), list):
            out["text"] = "".join(out["text"])
        if kind == "stream" and isinstance(out.get("text"), str):
            out["text"] = out["text"].splitlines(True)
    return cell


class _Unusual(Exception):
    """A value the canonical writer does not handle itself (a non-str key, a tuple, a dict
    subclass): ``json.dumps`` writes the whole notebook instead."""


_encode_str: Any = json.encoder.encode_basestring  # C when available; what json.dumps uses


def _float_text(value: float) -> str:
    """A float as ``json.dumps`` writes it (``allow_nan``: NaN and Infinity as words)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _scalar(value: Any) -> str | None:
    """A scalar as ``json.dumps`` writes it; None for a container (or anything unusual)."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _float_text(value)
    return None


def _write(value: Any, pad: str, out: list[str]) -> None:
    """Append ``value`` as ``json.dumps(indent=1, sort_keys=True, ensure_ascii=False)``
    writes it, ``pad`` being the newline and indent of the line the value starts on."""
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        inner = pad + " "
        lead = "{" + inner
        for key in sorted(value):  # parsed JSON has str keys only; anything else: _Unusual
            if type(key) is not str:
                raise _Unusual
            item = value[key]
            head = lead + _encode_str(key) + ": "
            lead = "," + inner
            kind = type(item)
            if kind is str:
                out.append(head + _encode_str(item))
            elif (kind is list or kind is dict) and item:
                out.append(head)
                _write(item, inner, out)
            elif kind is list or kind is dict:
                out.append(head + ("[]" if kind is list else "{}"))
            else:
                text = _scalar(item)
                if text is None:
                    raise _Unusual
                out.append(head + text)
        out.append(pad + "}")
    elif kind is list:
        if not value:
            out.append("[]")
            return
        inner = pad + " "
        try:  # lines of text, most of a notebook: one C call (it refuses a non-str item)
            out.append("[" + inner + ("," + inner).join(map(_encode_str, value)) + pad + "]")
            return
        except TypeError:
            pass
        lead = "[" + inner
        for item in value:
            text = _scalar(item)
            if text is not None:
                out.append(lead + text)
            else:
                out.append(lead)
                _write(item, inner, out)
            lead = "," + inner
        out.append(pad + "]")
    else:
        text = _scalar(value)
        if text is None:
            raise _Unusual
        out.append(text)


def _dump_bytes(nb: Notebook, *, owned: bool = False) -> bytes:
    """UTF-8 JSON as nbformat writes it, without the trailing newline.

    Written directly in nbformat's layout (indent 1, sorted keys, non-ASCII kept): strings go
    through ``json``'s own C string encoder and lists of lines are joined in one call, so the
    result is ``json.dumps``'s byte for byte (tests/test_clean_writer.py proves it on the
    benchmark corpus) without its pure-Python indenting encoder. ``owned``: ``nb`` may be
    turned into storage form in place (the caller parsed it and throws it away).
    """
    storage = storage_form_in_place(nb) if owned else to_storage_form(nb)
    out: list[str] = []
    try:
        _write(storage, "\n", out)
        text = "".join(out)
    except _Unusual:
        text = json.dumps(
            storage, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False
        )
    return text.encode("utf-8")


def dumps(nb: Notebook) -> str:
    """Serialise exactly as ``nbformat.write`` does (indent 1, sorted keys, trailing newline)."""
    return _dump_bytes(nb).decode("utf-8") + "\n"


def to_bytes(nb: Notebook, newline: str = "\n", *, owned: bool = False) -> bytes:
    """Canonical bytes; ``newline`` "\\r\\n" keeps a CRLF file CRLF. ``owned``: ``nb`` is the
    caller's own parse, which may be changed in place (saves a copy of the notebook)."""
    data = _dump_bytes(nb, owned=owned) + b"\n"
    if newline != "\n":
        data = data.replace(b"\n", newline.encode("ascii"))
    return data


def write(path: str | Path, nb: Notebook, *, original: bytes | None = None) -> bool:
    """Write ``nb`` canonically and atomically unless the file already holds those bytes.

    Returns whether the file changed. ``original`` (the bytes read earlier) saves a read and
    decides the line ending, so a CRLF notebook stays CRLF.
    """
    p = Path(path)
    if original is None:
        try:
            original = p.read_bytes()
        except OSError:
            original = None
    newline = detect_newline(original) if original else "\n"
    data = to_bytes(nb, newline)
    if original == data:
        return False
    atomic_write_bytes(p, data)
    return True


def validate_schema(nb: Notebook, path: str | Path) -> list[str]:
    """Problems the nbformat JSON schema finds, one message each (imports nbformat)."""
    from nbkit import lazy

    nbformat = lazy.nbformat()
    from nbformat.validator import iter_validate

    minor = nb.get("nbformat_minor", 0)
    problems: list[str] = []
    try:
        for error in iter_validate(nb, version=4, version_minor=minor):  # type: ignore[no-untyped-call]
            where = "/".join(str(p) for p in error.absolute_path) or "notebook"
            problems.append(f"schema: {where}: {error.message}")
            if len(problems) >= 5:
                problems.append("schema: (more problems not shown)")
                break
    except nbformat.ValidationError as exc:  # pragma: no cover - defensive
        problems.append(f"schema: {exc.message}")
    return problems


_FAST_VALIDATORS: dict[int, Any] = {}


def schema_ok(nb: Notebook) -> bool:
    """Quick yes/no against nbformat's own v4 schema file, compiled by fastjsonschema.

    ``import nbformat`` pulls in jsonschema and its format checkers (seconds on a slow
    machine); a command that only needs "is this valid?" (the merge driver, on every
    ``git merge``) asks here first and calls ``validate_schema`` for the messages only when
    the answer is no.
    """
    import importlib.util

    import fastjsonschema

    minor = nb.get("nbformat_minor", 0)
    minor = minor if isinstance(minor, int) and 0 <= minor <= 5 else 5
    check = _FAST_VALIDATORS.get(minor)
    if check is None:
        spec = importlib.util.find_spec("nbformat")
        if spec is None or not spec.submodule_search_locations:
            raise BadInput("nbformat is not installed")
        folder = Path(next(iter(spec.submodule_search_locations))) / "v4"
        schema = json.loads((folder / f"nbformat.v4.{minor}.schema.json").read_text("utf-8"))
        check = _FAST_VALIDATORS[minor] = fastjsonschema.compile(schema)
    try:
        check(nb)
    except fastjsonschema.JsonSchemaException:
        return False
    return True
