"""What a project declares it needs: the lock's input.

The input is ``requirements.in`` (with its ``-r``/``-c`` includes) or a list of requirements
from ``pyproject.toml``. Its digest covers exactly what decides the resolution, so a lock is
stale when, and only when, that digest changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbkit.env.settings import EnvSettings
from nbkit.errors import BadInput, shown

_NAME_RE = re.compile(r"[-_.]+")
_OPTION_FILE_RE = re.compile(r"^(-r|-c|--requirement|--constraint)(=|\s+)(\S+)")
_EGG_RE = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 name: ``Scikit_Learn`` and ``scikit-learn`` are one distribution."""
    return _NAME_RE.sub("-", name).lower()


@dataclass(frozen=True)
class LockInput:
    """The declared requirements: where they live, their digest, their names."""

    label: str  # what the user edits, e.g. "requirements.in"
    path: Path
    digest: str
    names: frozenset[str]  # normalized distribution names
    text: str | None = None  # requirements text for uv when the input is not a file uv reads


def _requirement_name(line: str, path: Path, lineno: int) -> str | None:
    """The distribution a requirement line names (None for a bare path or URL)."""
    from packaging.requirements import InvalidRequirement, Requirement

    if line.startswith((".", "/", "file:")) or re.match(r"^[a-z+]+://", line):
        match = _EGG_RE.search(line)
        return normalize(match.group(1)) if match else None
    try:
        return normalize(Requirement(line).name)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise BadInput(
            f"line {lineno}: cannot parse requirement {line!r}: {reason}", shown(path)
        ) from None


def _logical_lines(text: str) -> list[tuple[int, str]]:
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
    for lineno, line in _logical_lines(text):
        included = _OPTION_FILE_RE.match(line)
        if included:
            is_constraint = included.group(1) in ("-c", "--constraint")
            target = path.parent / included.group(3)
            _scan_requirements(target, seen, digest, names, constraint=is_constraint)
        elif line.startswith("-e ") or line.startswith("--editable"):
            match = _EGG_RE.search(line)
            if match and not constraint:
                names.add(normalize(match.group(1)))
        elif line.startswith("-"):
            continue  # an option such as --index-url: part of the digest, names nothing
        else:
            # per-requirement options (--hash=..., --config-settings ...) name nothing
            name = _requirement_name(re.split(r"\s+--", line)[0], path, lineno)
            if name and not constraint:
                names.add(name)


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
    names = {_requirement_name(r.strip(), path, 0) for r in reqs}
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


def read_input(s: EnvSettings) -> LockInput:
    """The project's declared requirements, as configured (or found)."""
    choice = s.input
    if choice is None:
        if (s.root / "requirements.in").is_file():
            choice = "requirements.in"
        elif (s.root / "pyproject.toml").is_file():
            choice = "pyproject"
        else:
            raise BadInput(
                "no requirements.in or pyproject.toml declares the project's dependencies",
                s.root,
                hint="create requirements.in, or set [tool.nbkit.env] input",
            )
    if choice == "pyproject" or choice.startswith("pyproject:"):
        return _pyproject(s.root, choice)
    return _requirements_file(s.root, choice)
