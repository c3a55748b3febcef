"""A content-addressed artifact store in a folder or at an fsspec URL
(``[tool.nbkit.runs] artifacts = "/mnt/team/nbkit"`` or ``"s3://bucket/nbkit"``).

Layout, the same on every backend::

    objects/<sha256[:2]>/<sha256>   a file's bytes, named by their digest (written once)
    runs/<run id>.json              {file name: sha256} of one run's files

The manifest records each file's ``sha256``; ``runs/<id>.json`` lets a run recorded while the
store could not be written (its manifest is write-once, so it names no digest) be found once
``nbkit runs push`` stored it. Whatever is read back is checked against its digest, so a
store that was tampered with or half-written can never hand a run someone else's file.

The git-ref store (``nbkit.runs.artifacts``) stays the default; ``fsspec`` (the
``artifacts`` extra) is imported only when a URL is configured.

A repository is untrusted input: its own ``artifacts`` setting is used without asking only
when it is a folder inside the repository (``repository_folder``), where every write stays
confined to the work tree. A folder elsewhere or a URL would let a cloned repository write
anywhere on this machine or send the user's executed notebooks to a server it names: that
takes the user's consent, their own ``NBKIT_ARTIFACTS`` (``chosen_store``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nbkit.errors import BadInput, NbkitError, OutsideRepository

ENV = "NBKIT_ARTIFACTS"  # the user's own setting: wins over the repository's
SETTING = "[tool.nbkit.runs] artifacts"
OBJECTS = "objects"
RUNS = "runs"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_RUN_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6,}$")
_STORE_ERRORS = (OSError, ValueError, NbkitError)  # what a backend raises when it cannot


class Backend(Protocol):
    """Where the bytes go: keys are ``/``-separated paths below the store's location."""

    def read(self, key: str) -> bytes | None: ...  # None: not there

    def write(self, key: str, data: bytes) -> None: ...  # whole file or nothing

    def exists(self, key: str) -> bool: ...

    def remove(self, key: str) -> None: ...

    def names(self, folder: str) -> list[str]: ...  # file names directly in ``folder``


class FolderBackend:
    """A plain folder (local disk, a network mount): written through nbkit's atomic helper,
    confined to the work tree ``root`` when the repository chose the folder (a symlink
    committed inside it cannot lead a write out), anywhere when the user did."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self.root = root

    def read(self, key: str) -> bytes | None:
        try:
            return (self.path / key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        from nbkit.fsutil import atomic_write_bytes, make_folder

        target = self.path / key
        if self.root is None:  # the user's own folder, wherever they chose
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data, private=True)
            return
        make_folder(target.parent, self.root)
        atomic_write_bytes(target, data, root=self.root)

    def exists(self, key: str) -> bool:
        return (self.path / key).is_file()

    def remove(self, key: str) -> None:
        (self.path / key).unlink(missing_ok=True)

    def names(self, folder: str) -> list[str]:
        try:
            return os.listdir(self.path / folder)
        except FileNotFoundError:
            return []


class FsspecBackend:
    """Any fsspec filesystem (``file://``, ``memory://``, ``s3://``...): a write goes to a
    temporary name first and is then moved, so a reader never sees half a file."""

    def __init__(self, url: str) -> None:
        from fsspec.core import url_to_fs  # type: ignore[import-untyped]

        self.fs, self.base = url_to_fs(url)
        self.base = str(self.base).rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def read(self, key: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None
        return data

    def write(self, key: str, data: bytes) -> None:
        final = self._path(key)
        folder, name = final.rsplit("/", 1)
        self.fs.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/.{name}.{secrets.token_hex(4)}.tmp"
        self.fs.pipe_file(tmp, data)
        try:
            self.fs.mv(tmp, final)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
            raise

    def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._path(key)))

    def remove(self, key: str) -> None:
        if self.fs.exists(self._path(key)):
            self.fs.rm_file(self._path(key))

    def names(self, folder: str) -> list[str]:
        try:
            found = self.fs.ls(self._path(folder), detail=False)
        except FileNotFoundError:
            return []
        return [str(p).rstrip("/").rsplit("/", 1)[-1] for p in found]


def _object(sha: str) -> str:
    return f"{OBJECTS}/{sha[:2]}/{sha}"


class StoreError(BadInput):
    """The artifact store cannot be used (not writable, unreachable)."""


@dataclass(frozen=True)
class ContentStore:
    """The store at ``location`` (as configured: shown in every message)."""

    location: str
    backend: Backend
    origin: str = SETTING  # where the location was set: named in every error

    def _failed(self, doing: str, exc: BaseException) -> StoreError:
        reason = exc.message if isinstance(exc, NbkitError) else (str(exc) or type(exc).__name__)
        return StoreError(
            f"the run artifact store {self.location} {doing}: {reason.splitlines()[0][:200]}",
            self.origin,
            hint="check that the folder or URL exists and that you may write to it, or set "
            'artifacts = "git" (the default)',
        )

    def check_writable(self) -> None:
        """Write and remove a probe: fail before any kernel starts when runs could not be
        stored."""
        key = f"{OBJECTS}/.probe-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            self.backend.write(key, b"")
            self.backend.remove(key)
        except _STORE_ERRORS as exc:
            raise self._failed("is not writable", exc) from None

    def put(self, data: bytes) -> str:
        """Store ``data`` once; its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.backend.exists(_object(sha)):
            self.backend.write(_object(sha), data)
        return sha

    def keep(self, run_id: str, files: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
        """Store a run's files and its index; what the manifest records under ``artifacts``.
        Empty when the store cannot be written (the local copies stay; ``nbkit runs push``
        stores them later)."""
        stored: dict[str, dict[str, Any]] = {}
        try:
            for name, path in sorted(files.items()):
                if path.is_file():
                    data = path.read_bytes()
                    stored[name] = {"sha256": self.put(data), "size": len(data)}
            if stored:
                index = {n: v["sha256"] for n, v in stored.items()}
                self.backend.write(f"{RUNS}/{run_id}.json", json.dumps(index).encode())
        except _STORE_ERRORS:
            return {}
        return stored

    def get(self, sha: str) -> bytes | None:
        """The bytes of ``sha``, or None when missing or not what the digest says."""
        if not _SHA_RE.match(sha):
            return None
        try:
            data = self.backend.read(_object(sha))
        except _STORE_ERRORS as exc:
            raise self._failed("cannot be read", exc) from None
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            return None
        return data

    def run_index(self, run_id: str) -> dict[str, str]:
        """{file name: sha256} the store holds for a run (``{}``: none)."""
        if not _RUN_RE.match(run_id):
            return {}
        try:
            raw = self.backend.read(f"{RUNS}/{run_id}.json")
            found = json.loads(raw) if raw else {}
        except _STORE_ERRORS:
            return {}
        if not isinstance(found, dict):
            return {}
        return {str(k): v for k, v in found.items() if isinstance(v, str) and _SHA_RE.match(v)}

    def stored_runs(self) -> set[str]:
        try:
            names = self.backend.names(RUNS)
        except _STORE_ERRORS as exc:
            raise self._failed("cannot be read", exc) from None
        return {n.removesuffix(".json") for n in names if _RUN_RE.match(n.removesuffix(".json"))}


def open_store(
    setting: str, root: Path, origin: str = SETTING, confine: bool = False
) -> ContentStore:
    """The store a setting names: an fsspec URL (``scheme://...``), else a folder (relative
    to the project root, ``~`` expanded), its writes kept inside ``root`` when ``confine``."""
    if "://" in setting:
        from nbkit.errors import require

        require("fsspec", "artifacts", f"the artifact store {setting}")
        try:
            backend: Backend = FsspecBackend(setting)
        except (ImportError, ValueError, OSError) as exc:
            raise StoreError(
                f"cannot open the run artifact store {setting}: {str(exc)[:200]}",
                origin,
                hint="a folder, or an fsspec URL whose filesystem is installed "
                "(file://, memory://, s3:// with s3fs...)",
            ) from None
        return ContentStore(setting, backend, origin)
    path = _folder(setting, root)
    return ContentStore(setting, FolderBackend(path, root if confine else None), origin)


def _folder(setting: str, root: Path) -> Path:
    path = Path(os.path.expanduser(setting))
    return path if path.is_absolute() else root / path


def consent_hint(setting: str) -> str:
    return (
        f"if you trust it, say so: NBKIT_ARTIFACTS={shlex.quote(setting)} (your own setting "
        "wins over the repository's); or NBKIT_ARTIFACTS=git keeps runs in git refs"
    )


def repository_folder(setting: str, root: Path, source: Path | None) -> None:
    """Refuse a repository's ``artifacts`` setting unless it is a folder that resolves,
    symlinks followed, inside the repository and outside ``.git``: a URL or a folder
    elsewhere is the user's to name."""
    where = f"{SETTING} = {setting!r}"
    if "://" in setting:
        raise BadInput(
            f"the repository sets {where}: a URL, which would receive your executed notebooks; "
            "nothing was stored or sent",
            source,
            hint=consent_hint(setting),
        )
    real, top = os.path.realpath(_folder(setting, root)), os.path.realpath(root)
    rel = os.path.relpath(real, top)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise OutsideRepository(
            f"the repository sets {where}, outside the repository ({real}); nothing was stored",
            source,
            hint=consent_hint(setting),
        )
    if ".git" in Path(rel).parts:
        raise OutsideRepository(
            f"the repository sets {where}, inside .git; nothing was stored",
            source,
            hint="keep the store in a folder of the work tree, or " + consent_hint(setting),
        )


def chosen_store(
    root: Path, setting: str, source: Path | None, env: Mapping[str, str]
) -> ContentStore | None:
    """The content store to use, None for git refs: the user's ``NBKIT_ARTIFACTS`` when set
    (their consent, wherever it points), else the repository's setting when it is safe."""
    mine = env.get(ENV, "").strip()
    if mine:
        return None if mine == "git" else open_store(mine, root, origin=ENV)
    if setting == "git":
        return None
    repository_folder(setting, root, source)
    return open_store(setting, root, confine=True)
