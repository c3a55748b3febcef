"""What a project declares it needs: the lock's input.

The input is ``requirements.in`` (with its ``-r``/``-c`` includes) or a list of requirements
from ``pyproject.toml``. Its digest covers exactly what decides the resolution, so a lock is
stale when, and only when, that digest changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbkit.env.settings import EnvSettings
from nbkit.errors import BadInput, shown

_INCLUDES = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
_EDITABLE = ("-e", "--editable")


def normalize(name: str) -> str:
    """PEP 503 name: ``Scikit_Learn`` and ``scikit-learn`` are one distribution."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


@dataclass(frozen=True)
class Declared:
    """What one requirement line asks for, as pip and uv read it."""

    name: str | None  # normalized distribution name; None when nothing says (a bare URL)
    version: str | None = None  # the exact version of a `==` pin
    location: str | None = None  # the local path or URL it installs from
    editable: bool = False
    marker: str | None = None  # PEP 508 environment marker (a universal lock has many)

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        """Whether the marker holds in ``environment`` (default: this interpreter's)."""
        if self.marker is None:
            return True
        from packaging.markers import Marker

        return Marker(self.marker).evaluate(environment)


def _option(line: str, names: tuple[str, ...] | dict[str, bool]) -> tuple[str, str] | None:
    """``(option, value)`` when ``line`` is ``-x VALUE``, ``-xVALUE`` or ``--long=VALUE``."""
    for option in names:
        if line == option:
            return option, ""
        for sep in (" ", "\t", "="):
            if line.startswith(option + sep):
                return option, line[len(option) + 1 :].strip()
        if not option.startswith("--") and line.startswith(option) and len(line) > len(option):
            return option, line[len(option) :].strip()
    return None


def _looks_like_location(text: str) -> bool:
    """A path or URL rather than a PEP 508 requirement (pip's own test, roughly)."""
    from urllib.parse import urlsplit

    if text.startswith((".", "/", "~", "\\")) or (len(text) > 1 and text[1] == ":"):
        return True
    scheme = urlsplit(text).scheme
    return bool(scheme) and ("://" in text or scheme == "file")


def _project_name(folder: Path) -> str | None:
    """The [project] name of a local source tree (None when it is dynamic or unreadable)."""
    import tomllib

    try:
        doc = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = doc.get("project", {}).get("name") if isinstance(doc.get("project"), dict) else None
    return normalize(name) if isinstance(name, str) and name else None


def _location(text: str, base: Path, editable: bool) -> Declared:
    """A path or URL requirement: its name from ``#egg=``, else the tree's pyproject.toml."""
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(text)
    egg = parse_qs(parts.fragment).get("egg", [""])[0].split("[")[0]
    name = normalize(egg) if egg else None
    if name is None and parts.scheme in ("", "file"):
        raw = unquote(parts.path) if parts.scheme == "file" else text.split("#")[0]
        name = _project_name((base / Path(raw).expanduser()).resolve())
    return Declared(name, None, text, editable)


def parse_requirement(line: str, base: Path, where: str, lineno: int) -> Declared | None:
    """One logical requirement line (comments and continuations already handled): what it
    declares, or None for an option line. ``base``: the folder relative paths start from.
    Raises ``BadInput`` (naming ``where`` and the line) for a requirement packaging rejects."""
    from packaging.requirements import InvalidRequirement, Requirement

    editable = _option(line, _EDITABLE)
    if editable is not None:
        return _location(editable[1].split(" --")[0].strip(), base, editable=True)
    if line.startswith("-"):
        return None  # --index-url, --hash on its own line, ...: options name nothing
    text = line.split(" --")[0].split("\t--")[0].strip()  # per-requirement options
    if _looks_like_location(text):
        return _location(text, base, editable=False)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise BadInput(
            f"line {lineno}: cannot parse requirement {text!r}: {reason}", where
        ) from None
    marker = str(req.marker) if req.marker else None
    if req.url:
        return Declared(normalize(req.name), None, req.url, marker=marker)
    pins = [
        s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version
    ]
    return Declared(normalize(req.name), pins[0] if len(pins) == 1 else None, marker=marker)


@dataclass(frozen=True)
class LockInput:
    """The declared requirements: where they live, their digest, their names."""

    label: str  # what the user edits, e.g. "requirements.in"
    path: Path
    digest: str
    names: frozenset[str]  # normalized distribution names
    text: str | None = None  # requirements text for uv when the input is not a file uv reads


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with comments removed and backslash continuations joined, with line numbers."""
    result: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            result.append((start, line))
    return result


def _scan_requirements(
    path: Path, seen: set[Path], digest: Any, names: set[str], *, constraint: bool
) -> None:
    """Feed ``path`` and its includes to ``digest``; collect names (not from constraints)."""
    real = path.resolve()
    if real in seen:
        return
    seen.add(real)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(
            "no such file", shown(path), hint="create it, or set [tool.nbkit.env] input"
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", shown(path)) from None
    digest.update(f"{path.name}\0".encode() + data + b"\0")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte {exc.start})", shown(path)) from None
    for lineno, line in logical_lines(text):
        included = _option(line, _INCLUDES)
        if included is not None:
            target = path.parent / included[1]
            _scan_requirements(target, seen, digest, names, constraint=_INCLUDES[included[0]])
            continue
        declared = parse_requirement(line, path.parent, shown(path), lineno)
        if declared is not None and declared.name and not constraint:
            names.add(declared.name)


def _requirements_file(root: Path, rel: str) -> LockInput:
    path = root / rel
    digest = hashlib.sha256()
    names: set[str] = set()
    _scan_requirements(path, set(), digest, names, constraint=False)
    return LockInput(label=rel, path=path, digest=digest.hexdigest(), names=frozenset(names))


def _group(groups: dict[str, Any], name: str, path: Path, stack: tuple[str, ...]) -> list[str]:
    """A PEP 735 dependency group with its ``include-group`` entries expanded."""
    if name in stack:
        raise BadInput(f"[dependency-groups] '{name}' includes itself", path)
    entries = groups.get(name)
    if not isinstance(entries, list):
        raise BadInput(f"no [dependency-groups] '{name}'", path)
    result: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            result.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            result += _group(groups, entry["include-group"], path, (*stack, name))
        else:
            raise BadInput(f"[dependency-groups] '{name}' has an entry nbkit cannot read", path)
    return result


def _pyproject(root: Path, selector: str) -> LockInput:
    from nbkit.config import _load_toml

    path = root / "pyproject.toml"
    if not path.is_file():
        raise BadInput("no such file", shown(path), hint="create it, or set [tool.nbkit.env] input")
    doc = _load_toml(path)
    group = selector.partition(":")[2]
    if group:
        groups = doc.get("dependency-groups", {})
        reqs = _group(groups if isinstance(groups, dict) else {}, group, path, ())
        label = f"pyproject.toml [dependency-groups] {group}"
    else:
        reqs = doc.get("project", {}).get("dependencies", [])
        if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
            raise BadInput("[project] dependencies must be a list of strings", path)
        label = "pyproject.toml [project.dependencies]"
    names = {
        (parse_requirement(r.strip(), root, shown(path), 0) or Declared(None)).name for r in reqs
    }
    text = "".join(f"{r.strip()}\n" for r in reqs)
    digest = hashlib.sha256(f"{selector}\0{text}".encode()).hexdigest()
    found = frozenset(n for n in names if n)
    return LockInput(label=label, path=path, digest=digest, names=found, text=text)


# Names that resolve to another project's package than the one a user means: nbkit itself is
# the "nbkit-git" distribution ("nbkit" on the index is an unrelated toolkit that also
# installs an ``nbkit`` module and would shadow ours in the kernel).
FOREIGN: dict[str, str] = {"nbkit": "nbkit-git"}


def foreign(inp: LockInput) -> str | None:
    """A problem line when the input names a package that is not what the user means."""
    for name, meant in FOREIGN.items():
        if name in inp.names:
            return (
                f"names '{name}', another project's package on the index; nbkit is "
                f"'{meant}' (notebooks need neither: nbkit.record works without it)"
            )
    return None


SUPPORTED = (
    "requirements.in (with -r/-c includes), pyproject.toml [project.dependencies], "
    'a [dependency-groups] group (input = "pyproject.toml:GROUP"), '
    "or a uv project (pyproject.toml + uv.lock)"
)
UV_LOCK = "uv.lock"
_CONDA = ("environment.yml", "environment.yaml")


def _declares(pyproject: Path) -> bool:
    """Whether pyproject.toml declares dependencies (it is often there for tool settings)."""
    try:
        data = pyproject.read_bytes()
    except OSError:
        return False
    return b"dependencies" in data


def _found_input(root: Path) -> str:
    """The input to use when none is configured; a conda-only project is told what nbkit
    locks instead of hearing that requirements.in is missing."""
    if (root / "requirements.in").is_file():
        return "requirements.in"
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and (root / UV_LOCK).is_file():
        return UV_LOCK
    if pyproject.is_file() and _declares(pyproject):
        return "pyproject"
    conda = next((root / name for name in _CONDA if (root / name).is_file()), None)
    if conda is not None:
        raise BadInput(
            "a conda environment file: nbkit locks pip-installable requirements with uv, "
            "not conda environments",
            shown(conda),
            hint=f"declare the packages in {SUPPORTED}; its `pip:` section can become "
            "requirements.in as is, and conda-only packages stay with conda",
        )
    if pyproject.is_file():
        return "pyproject"
    raise BadInput(
        "no requirements.in or pyproject.toml declares the project's dependencies",
        root,
        hint=f"nbkit locks {SUPPORTED}; create requirements.in, or set [tool.nbkit.env] input",
    )


def _uv_project(root: Path) -> LockInput:
    """A uv project: pyproject.toml says what is needed, uv.lock (uv's universal lock) what
    was resolved. The digest covers both, so editing the dependencies without relocking, or
    relocking, makes requirements.lock stale."""
    from nbkit.config import _load_toml

    path = root / "pyproject.toml"
    if not path.is_file():
        raise BadInput("no such file", shown(path), hint="a uv project has a pyproject.toml")
    doc = _load_toml(path)
    project = doc.get("project", {}) if isinstance(doc.get("project"), dict) else {}
    groups = (
        doc.get("dependency-groups", {}) if isinstance(doc.get("dependency-groups"), dict) else {}
    )
    reqs = list(project.get("dependencies", []) or [])
    for extra in (project.get("optional-dependencies") or {}).values():
        reqs += extra
    for name in groups:
        reqs += _group(groups, name, path, ())
    if not all(isinstance(r, str) for r in reqs):
        raise BadInput("[project] dependencies must be lists of strings", shown(path))
    names = {
        (parse_requirement(r.strip(), root, shown(path), 0) or Declared(None)).name for r in reqs
    }
    try:
        locked = (root / UV_LOCK).read_bytes()
    except OSError:
        locked = b""  # `nbkit lock` runs `uv lock` first
    declared = json.dumps([project.get("requires-python"), reqs], sort_keys=True)
    digest = hashlib.sha256(locked + b"\0" + declared.encode()).hexdigest()
    label = f"{UV_LOCK} (pyproject.toml)"
    return LockInput(
        label=label, path=root / UV_LOCK, digest=digest, names=frozenset(n for n in names if n)
    )


def read_input(s: EnvSettings) -> LockInput:
    """The project's declared requirements, as configured (or found)."""
    choice = s.input
    if choice is None:
        choice = _found_input(s.root)
    if choice == "pyproject" or choice.startswith("pyproject:"):
        return _pyproject(s.root, choice)
    if choice == UV_LOCK:
        return _uv_project(s.root)
    return _requirements_file(s.root, choice)


def _uv_lock_pins(path: Path) -> list[str]:
    """``name==version`` of every package uv.lock pins (names normalised as uv exports them)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    packages = data.get("package")
    return [
        f"{normalize(str(p['name']))}=={p['version']}"
        for p in (packages if isinstance(packages, list) else [])
        if isinstance(p, dict) and isinstance(p.get("name"), str) and "version" in p
    ]


def declared_lines(inp: LockInput) -> list[str]:
    """The input's own logical lines (its includes too, comments dropped): the only options,
    URLs and editables a lock may carry besides hashed pins (``lockfile.foreign_lines``).

    For a uv project they are uv.lock's own pins: uv exports packages from local wheels or
    folders without hashes, and uv.lock (part of the input's digest) is what decided them."""
    if inp.path.name == UV_LOCK:
        return _uv_lock_pins(inp.path)
    if inp.text is not None:
        return [line for _n, line in logical_lines(inp.text)]
    found: list[str] = []
    todo, seen = [inp.path], set()
    while todo:
        path = todo.pop()
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        for _n, line in logical_lines(text):
            found.append(line)
            included = _option(line, _INCLUDES)
            if included is not None:
                todo.append(path.parent / included[1])
    return found
