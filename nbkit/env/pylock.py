"""PEP 751 ``pylock.toml`` as nbkit's lock: uv's standard lock file, with nbkit's header.

The body is uv's output (``uv pip compile --format pylock.toml`` or ``uv export --format
pylock.toml``); nbkit appends its header as the ``[tool.nbkit]`` table PEP 751 reserves for
tools, always last, so the body is every byte before it and its digest works as in
``requirements.lock``: staleness is a comparison, a hand edit a digest mismatch.

Unlike a requirements file, a pylock names where each file is downloaded from, so before
``nbkit env`` installs it every package must be files with hashes, from the index in use
(PyPI, or the one the user chose or agreed to) or from inside the repository; a VCS
checkout, an archive URL, or a folder the input did not declare is refused (``foreign``).
File URLs uv writes for wheels inside the repository become paths relative to the lock, so
the committed lock works in every clone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from nbkit.env.lockfile import FORMAT, LockFile, body_digest
from nbkit.env.requirements import (
    Declared,
    LockInput,
    declared_lines,
    normalize,
    parse_requirement,
)
from nbkit.errors import BadInput

TABLE = "[tool.nbkit]"
_NAME_RE = re.compile(r"^pylock\.([^.]+\.)?toml$")
_HASH_ALGORITHMS = ("sha256", "sha384", "sha512")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{32,}$")
_FILE_URL_RE = re.compile(r'url = "file://(/[^"]+)"')
HINT = "nbkit lock writes it again from the input"


def is_pylock(path: str | Path) -> bool:
    """A PEP 751 lock file name: ``pylock.toml`` or ``pylock.NAME.toml``."""
    return bool(_NAME_RE.match(Path(path).name))


@dataclass(frozen=True)
class PyLock(LockFile):
    """A parsed pylock.toml: its ``[tool.nbkit]`` header, the body, and its packages."""

    packages: tuple[dict[str, Any], ...] = field(default=())

    def entries(self, base: Path | None = None) -> list[Declared]:
        """Every locked package: pinned by version, or a local folder (its location)."""
        where = base or self.base
        found = []
        for pkg in self.packages:
            name = normalize(str(pkg["name"]))
            marker = pkg.get("marker") if isinstance(pkg.get("marker"), str) else None
            directory = pkg.get("directory")
            if isinstance(directory, dict) and isinstance(directory.get("path"), str):
                location = str((where / directory["path"]).resolve())
                editable = bool(directory.get("editable", False))
                found.append(Declared(name, None, location, editable, marker))
                continue
            version = pkg.get("version")
            found.append(Declared(name, str(version) if version else None, marker=marker))
        return found


def _bad(message: str, path: Path | str | None) -> BadInput:
    return BadInput(message, path, hint=HINT)


def _packages(doc: dict[str, Any], path: Path | str | None) -> tuple[dict[str, Any], ...]:
    """The ``[[packages]]`` tables, checked for the shape PEP 751 requires."""
    version = doc.get("lock-version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise _bad(f"lock-version {version!r} is not a PEP 751 version 1.x lock", path)
    packages = doc.get("packages", [])
    if not isinstance(packages, list):
        raise _bad("packages must be an array of tables ([[packages]])", path)
    for index, pkg in enumerate(packages):
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            raise _bad(f"packages[{index}] has no name", path)
        if "version" in pkg and not isinstance(pkg["version"], str):
            raise _bad(f"packages[{index}] ({pkg['name']}): version must be a string", path)
    return tuple(packages)


def _load(text: str, path: Path | str | None) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(f"not valid TOML: {exc}", path) from None


def parse(text: str, path: Path | str | None = None) -> PyLock | None:
    """The lock's header, body and packages; None when nbkit did not write it (no
    ``[tool.nbkit]`` header). Not TOML, or not PEP 751's shape: ``BadInput`` naming ``path``."""
    text = text.replace("\r\n", "\n")
    doc = _load(text, path)
    packages = _packages(doc, path)
    tool = doc.get("tool", {})
    header = tool.get("nbkit") if isinstance(tool, dict) else None
    start = text.find("\n" + TABLE + "\n")
    if not isinstance(header, dict) or "input-sha256" not in header or start < 0:
        return None
    body = text[:start]  # the blank line before the table is the separator
    fields = {str(key): str(value) for key, value in header.items()}
    return PyLock(header=fields, body=body, body_line=1, packages=packages)


def from_body(body: str) -> PyLock:
    """uv's output alone (no header yet): its packages, for reading import names."""
    return PyLock(header={}, body=body, packages=_packages(_load(body, None), None))


def read(path: Path) -> PyLock | None:
    """The pylock at ``path``; None when missing or not written by nbkit."""
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except (FileNotFoundError, IsADirectoryError):
        return None
    lock = parse(text, path)
    return None if lock is None else dataclasses.replace(lock, base=path.parent)


def relative_paths(body: str, folder: Path) -> str:
    """uv writes ``file://`` URLs for local wheels: inside the lock's folder they become
    ``path`` entries relative to it (PEP 751), so the lock does not name this machine."""
    top = os.path.realpath(folder)

    def local(match: re.Match[str]) -> str:
        real = os.path.realpath(unquote(match.group(1)))
        rel = os.path.relpath(real, top)
        if rel.startswith(os.pardir):
            return match.group(0)
        return f"path = {json.dumps(Path(rel).as_posix())}"

    return _FILE_URL_RE.sub(local, body)


def render(fields: dict[str, str], body: str) -> str:
    """The lock file text: uv's body, then ``[tool.nbkit]`` (TOML basic strings)."""
    body = body.replace("\r\n", "\n")
    if not body.endswith("\n"):
        body += "\n"
    fields = {**fields, "lock-format": FORMAT, "body-sha256": body_digest(body)}
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items())
    note = "# Written by `nbkit lock`: do not edit. Change the input and run `nbkit lock`.\n"
    return f"{body}\n{TABLE}\n{note}{lines}"


def _declared_folders(inp: LockInput, root: Path) -> set[str]:
    """Resolved local folders the input itself declares (``-e ./pkg``, ``./pkg``)."""
    found = set()
    for number, line in enumerate(declared_lines(inp), 1):
        declared = parse_requirement(line, inp.path.parent, inp.label, number)
        if declared is not None and declared.location and "://" not in declared.location:
            found.add(str(Path(declared.location).resolve()))
    return found


def _inside(path: str, folders: list[Path]) -> bool:
    for folder in folders:
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
        if not (rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel)):
            return True
    return False


def _file_problem(entry: Any, lock: PyLock, folders: list[Path], hosts: set[str]) -> str | None:
    """Why one wheel/sdist entry may not be installed (None: it may)."""
    if not isinstance(entry, dict):
        return "a file entry that is not a table"
    hashes = entry.get("hashes")
    if not isinstance(hashes, dict) or not any(
        isinstance(hashes.get(a), str) and _HEX_RE.match(hashes[a]) for a in _HASH_ALGORITHMS
    ):
        return "a file without a sha256 hash"
    if isinstance(entry.get("path"), str):
        where = str(lock.base / entry["path"])
        return None if _inside(where, folders) else f"a file outside the repository ({where})"
    url = entry.get("url")
    if not isinstance(url, str):
        return "a file with neither url nor path"
    parts = urlsplit(url)
    if parts.scheme == "file":
        where = unquote(parts.path)
        return None if _inside(where, folders) else f"a file outside the repository ({where})"
    if parts.scheme == "https" and (parts.hostname or "") in hosts:
        return None
    return f"a file from {parts.scheme}://{parts.hostname}, not the index in use"


def foreign(lock: PyLock, inp: LockInput, folders: list[Path], hosts: set[str]) -> list[str]:
    """Every package nbkit env must not install, one line each: a VCS checkout, an archive
    URL, a folder the input did not declare, a file without a hash, or a file from anywhere
    but the index in use (``hosts``), the repository or the user's find-links (``folders``,
    the repository first). The body digest only shows accidental edits; this is what stops
    a lock that points uv at someone else's files."""
    root = folders[0]
    declared: set[str] | None = None
    found: list[str] = []
    for index, pkg in enumerate(lock.packages):
        label = f"packages[{index}] ({pkg['name']})"
        for kind in ("vcs", "archive"):
            if kind in pkg:
                found.append(f"{label} installs from a {kind} source")
        directory = pkg.get("directory")
        if directory is not None:
            if declared is None:
                declared = _declared_folders(inp, root)
            path = directory.get("path") if isinstance(directory, dict) else None
            where = str((lock.base / path).resolve()) if isinstance(path, str) else "?"
            if where not in declared:
                found.append(
                    f"{label} installs the folder {where}, which the input does not declare"
                )
            continue
        if "vcs" in pkg or "archive" in pkg:
            continue
        files = list(pkg.get("wheels") or []) + ([pkg["sdist"]] if "sdist" in pkg else [])
        if not isinstance(pkg.get("version"), str) or not files:
            found.append(f"{label} is not a pinned version with files")
            continue
        for entry in files:
            problem = _file_problem(entry, lock, folders, hosts)
            if problem:
                found.append(f"{label} has {problem}")
                break
    return found
