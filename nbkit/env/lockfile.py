"""The lock file: uv's pinned, hashed requirements under a header nbkit can compare.

The header records what the lock was made from (the input's digest), for which Python and
platform, by which uv, and the digest of the body below it. Staleness is then a comparison
of digests, never a re-resolution, and a hand edit shows as a body digest mismatch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from nbkit.env.requirements import (
    Declared,
    LockInput,
    declared_lines,
    logical_lines,
    parse_requirement,
)

FORMAT = "1"
_HEADER_RE = re.compile(r"^# nbkit-([a-z0-9-]+): (.*)$")
# A pin nbkit installs: name[extras]==exact version [; marker], nothing that names a place.
_HASHED_PIN_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]*\])?\s*===?\s*[A-Za-z0-9][A-Za-z0-9.+!_-]*"
    r"\s*(;[^@]*)?$"
)
_HASH_RE = re.compile(r"^--hash[=\s]\s*(sha256|sha384|sha512):[0-9a-fA-F]{32,}$")


def body_digest(body: str) -> str:
    return hashlib.sha256(body.replace("\r\n", "\n").encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LockFile:
    """A parsed lock: its header fields and its body (uv's output)."""

    header: dict[str, str]
    body: str
    base: Path = Path(".")  # the lock's folder: where its relative paths start
    body_line: int = 1  # the file's line number of the body's first line

    @property
    def hash(self) -> str:
        """Identifies this lock's content (kernel names, env markers and run manifests use it)."""
        return body_digest(self.body)

    def provides(self) -> dict[str, tuple[str, ...]]:
        """Import name -> distributions, as recorded at lock time (only the names that do
        not say their distribution already)."""
        from nbkit.env.imports import parse_provides

        return parse_provides(self.header.get("imports", ""))

    def entries(self, base: Path | None = None) -> list[Declared]:
        """Every locked requirement, pins and local paths alike (``base``: the lock's folder,
        where relative paths start)."""
        found = []
        for lineno, line in logical_lines(self.body):
            declared = parse_requirement(line, base or self.base, "lock", lineno)
            if declared is not None:
                found.append(declared)
        return found

    def environment(self) -> dict[str, str]:
        """Where markers are evaluated: this machine, at the Python version locked for (a
        universal lock's markers pick this platform's entries)."""
        python = self.header.get("python")
        if not python:
            return {}
        return {"python_version": python, "python_full_version": f"{python}.0"}

    def pins(self, environment: dict[str, str] | None = None) -> dict[str, str]:
        """Normalized name -> exact version of every package locked by version whose marker
        holds here (``environment`` overrides parts of this interpreter's)."""
        env = environment if environment is not None else self.environment()
        return {
            d.name: d.version
            for d in self.entries()
            if d.name and d.version and d.location is None and d.applies(env or None)
        }

    def locations(self, base: Path | None = None) -> dict[str, str]:
        """Normalized name -> path or URL of every package locked by where it is (an editable
        or local project, a URL): its version is whatever that tree holds."""
        env = self.environment() or None
        return {
            d.name: d.location
            for d in self.entries(base)
            if d.name and d.location and d.applies(env)
        }


def header_fields(
    inp: LockInput,
    *,
    python: str,
    platform: str,
    uv: str,
    as_of: str | None = None,
    imports: str = "",
) -> dict[str, str]:
    """What a lock records about how it was made (both formats; the body digest is added
    when rendering)."""
    return {
        "lock-format": FORMAT,
        "input": inp.label,
        "input-sha256": inp.digest,
        "python": python,
        "platform": platform,
        "uv": uv,
        **({"as-of": as_of} if as_of else {}),
        # import name -> distribution where they differ, read from the resolved wheels
        **({"imports": imports} if imports else {}),
    }


def render(fields: dict[str, str], body: str) -> str:
    """The lock file text: header then body."""
    body = body.replace("\r\n", "\n")
    if not body.endswith("\n"):
        body += "\n"
    fields = {**fields, "body-sha256": body_digest(body)}
    head = "# Written by `nbkit lock`: do not edit. Change the input and run `nbkit lock`.\n"
    head += "".join(f"# nbkit-{key}: {value}\n" for key, value in fields.items())
    return head + "\n" + body


def parse(text: str) -> LockFile | None:
    """The lock's header and body; None when it has no nbkit header."""
    text = text.replace("\r\n", "\n")
    header: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith("#"):
        match = _HEADER_RE.match(lines[index])
        if match:
            header[match.group(1)] = match.group(2).strip()
        index += 1
    if "input-sha256" not in header:
        return None
    if index < len(lines) and lines[index] == "":
        index += 1
    return LockFile(header=header, body="\n".join(lines[index:]), body_line=index + 1)


def read(path: Path) -> LockFile | None:
    """The lock at ``path`` (a requirements lock, or a PEP 751 ``pylock.toml`` by its name);
    None when missing or not written by nbkit."""
    from nbkit.env import pylock

    if pylock.is_pylock(path):
        return pylock.read(path)
    try:
        lock = parse(path.read_bytes().decode("utf-8", "replace"))
    except (FileNotFoundError, IsADirectoryError):
        return None
    return None if lock is None else dataclasses.replace(lock, base=path.parent)


def _split_options(line: str) -> tuple[str, list[str]]:
    """A requirement line's requirement and its ``--option`` parts."""
    parts = re.split(r"\s+(?=--)", line.strip())
    return " ".join(parts[0].split()), [" ".join(p.split()) for p in parts[1:]]


def foreign_lines(lock: LockFile, inp: LockInput) -> list[tuple[int, str]]:
    """(file line number, line) of every body line that is not a hashed pin, nor a line
    the input itself declares (an option, URL or editable the user wrote there).

    The body digest only shows accidental edits (anyone can recompute it): this is what
    stops a lock that adds ``--index-url``, ``--extra-index-url``, ``--find-links``, ``-e``,
    a URL or an unhashed pin from being installed."""
    allowed = {_split_options(line)[0] for line in declared_lines(inp)}
    found: list[tuple[int, str]] = []
    for number, line in logical_lines(lock.body):
        requirement, options = _split_options(line)
        hashed = bool(options) and all(_HASH_RE.match(o) for o in options)
        if hashed and _HASHED_PIN_RE.match(requirement):
            continue
        if requirement in allowed and all(_HASH_RE.match(o) for o in options):
            continue
        found.append((lock.body_line + number - 1, line))
    return found


def problems(lock: LockFile | None, inp: LockInput, python: str | None) -> list[str]:
    """Why the lock does not match its input (empty: up to date).

    ``python``: the configured resolution target; None accepts the one recorded.
    """
    if lock is None:
        return ["missing or not written by `nbkit lock`"]
    found: list[str] = []
    if body_digest(lock.body) != lock.header.get("body-sha256"):
        found.append("edited by hand (its body no longer matches the digest in its header)")
    if lock.header.get("input") != inp.label:
        found.append(f"stale: made from {lock.header.get('input')}, not from {inp.label}")
    elif lock.header.get("input-sha256") != inp.digest:
        found.append(f"stale: {inp.label} changed since the lock was made")
    if python is not None and lock.header.get("python") != python:
        found.append(f"stale: locked for Python {lock.header.get('python')}, configured {python}")
    return found
