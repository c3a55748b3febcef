"""The run ledger: one folder per run holding a write-once manifest and the executed notebook.

Layout (``.nbkit/runs/`` under the project root by default)::

    .nbkit/runs/<id>/manifest.json     written once, atomically, never edited
    .nbkit/runs/<id>/executed.ipynb    the executed (possibly partial) notebook
    .nbkit/runs/<id>/dirty.patch       ``git diff HEAD`` when the run was allowed dirty
    .nbkit/runs/index.jsonl            local summary cache, one JSON line per run

The manifests are the truth; ``index.jsonl`` only makes ``list`` fast (10,000 runs well under
a second). It is appended with one ``O_APPEND`` write per run, ignored by git, and rebuilt for
any run folder it does not know (a missing index, runs pulled from a teammate). A corrupt or
half-copied manifest is reported in ``Ledger.problems`` and skipped, never a crash.

Rerun, compare and sweep build on: ``Ledger.new_run_dir``, ``Ledger.write``,
``Ledger.get``, ``Ledger.list`` and ``Run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbkit.config import DEFAULT_LEDGER
from nbkit.errors import BadInput, NbkitError
from nbkit.fsutil import append_bytes, atomic_write_bytes, confined, make_folder

if TYPE_CHECKING:
    from nbkit.runs.contentstore import ContentStore

DEFAULT_FOLDER = DEFAULT_LEDGER
MANIFEST = "manifest.json"
INDEX = "index.jsonl"
STATUSES = ("succeeded", "failed", "timed_out", "interrupted")
_ID_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6,}$")
_PREFIX_RE = re.compile(r"^\d{8}-[0-9a-f-]*$")
# What the index keeps of each manifest: enough to list and filter without opening it.
_SUMMARY_KEYS = (
    "id",
    "notebook",
    "status",
    "started",
    "ended",
    "parameters",
    "effective_parameters",
    "metrics",
    "sweep",
)


def summarize(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The index line for a manifest."""
    summary = {key: manifest.get(key) for key in _SUMMARY_KEYS}
    git = manifest.get("git") or {}
    summary["commit"] = git.get("commit")
    summary["dirty"] = git.get("dirty")
    return summary


class Run:
    """A recorded run. ``manifest`` is the full manifest, read from disk on first use when the
    run came from the index (``Ledger.list``); the summary fields need no read."""

    def __init__(
        self,
        id: str,
        dir: Path | None,
        manifest: dict[str, Any] | None = None,
        *,
        summary: dict[str, Any] | None = None,
        ledger_dir: Path | None = None,
    ):
        self.id = id
        if dir is not None:
            self.__dict__["dir"] = dir
        self._ledger_dir = ledger_dir  # ``dir`` is built on first use: list() makes 10,000
        if manifest is not None:
            self.__dict__["manifest"] = manifest
        self._summary = summary if summary is not None else summarize(manifest or {})

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r})"

    @cached_property
    def dir(self) -> Path:
        """The run's folder."""
        assert self._ledger_dir is not None
        return self._ledger_dir / self.id

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.dir / MANIFEST)

    @property
    def summary(self) -> dict[str, Any]:
        """id, notebook, status, started, ended, parameters, metrics, commit, dirty."""
        return self._summary

    @property
    def status(self) -> str:
        return str(self._summary.get("status"))

    @property
    def metrics(self) -> dict[str, Any]:
        """Values the notebook recorded with ``nbkit.record(name, value)``."""
        return dict(self._summary.get("metrics") or {})

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._summary.get("parameters") or {})

    @property
    def effective_parameters(self) -> dict[str, Any]:
        """Every parameter's value, defaults included (passed ones for older runs)."""
        found = self._summary.get("effective_parameters") or self._summary.get("parameters")
        return dict(found or {})

    @property
    def notebook(self) -> str:
        """The notebook's path relative to the project root (posix)."""
        return str(self._summary.get("notebook"))

    @property
    def executed_notebook(self) -> Path:
        """The executed notebook kept in the run folder (partial for failed runs)."""
        return run_file(self.dir, self.manifest, "executed", "executed.ipynb")


def run_file(run_dir: Path, manifest: dict[str, Any] | Any, key: str, default: str) -> Path:
    """A file the manifest names in ``files[key]``, inside the run folder.

    A manifest is data from the repository: only a plain file name is honoured (anything
    else falls back to ``default``), so an edited manifest cannot point nbkit outside it.
    A file kept in the artifact store and missing here is restored first (``BadInput``
    saying what is missing when it cannot be)."""
    name = str((manifest.get("files") or {}).get(key) or default)
    path = run_dir / (name if Path(name).name == name else default)
    if not path.exists():
        from nbkit.runs import artifacts  # a teammate's run: restore it from the store

        artifacts.restore_file(run_dir, manifest, path.name, path)
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    """A manifest, checked for the fields every reader relies on."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BadInput("run has no manifest (still running, or copied without it)", path) from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"corrupt manifest: {str(exc)[:120]}", path) from None
    if not isinstance(data, dict) or not all(k in data for k in ("id", "status", "notebook")):
        raise BadInput("corrupt manifest: missing id, status or notebook", path)
    return data


class Ledger:
    """The runs recorded under ``root/folder``."""

    def __init__(self, root: Path, folder: str = DEFAULT_FOLDER):
        self.root = Path(root)
        self.dir = self.root / folder
        self.problems: list[str] = []  # corrupt manifests met by the last ``list``

    @cached_property
    def store(self) -> ContentStore | None:
        """The configured content store for run artifacts; None: git refs (the default)."""
        from nbkit.runs import artifacts

        return artifacts.store_for(self.root)

    def _ensure(self) -> None:
        make_folder(self.dir, self.root)  # the folder comes from config: repository data
        ignore = self.dir / ".gitignore"
        # the index is a local cache, executed notebooks live in the artifact store (their
        # copies here are local); manifests are shared. An older nbkit's file is updated.
        if not ignore.exists() or ignore.read_bytes() == _OLD_IGNORE:
            with contextlib.suppress(NbkitError):
                atomic_write_bytes(ignore, _IGNORE, root=self.root)

    def new_run_dir(self) -> tuple[str, Path]:
        """A fresh run id and its folder, created exclusively: unique across processes."""
        self._ensure()
        while True:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
            path = self.dir / run_id
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return run_id, path

    def _path(self, run_id: str) -> Path:
        if not _ID_RE.match(run_id):
            raise BadInput(
                f"unknown run id {run_id!r}", self.dir, hint="nbkit runs lists the recorded runs"
            )
        return self.dir / run_id

    def write(self, run_id: str, manifest: dict[str, Any], executed_nb_path: Path | None) -> Run:
        """Record a finished run: copy its files in, then write the manifest once, atomically.

        ``executed_nb_path`` may be inside the run folder (a local run) or elsewhere (a sweep
        task that ran in a temp folder); the files named in ``manifest["files"]`` are taken
        from its folder. A second write for the same id is refused.
        """
        run_dir = self._path(run_id)
        make_folder(run_dir, self.root)
        manifest = {**manifest, "id": run_id}
        if executed_nb_path is not None:
            source_dir = Path(executed_nb_path).parent
            if source_dir.resolve() != run_dir.resolve():
                for name in (manifest.get("files") or {}).values():
                    if name and (source_dir / name).is_file():
                        shutil.copyfile(source_dir / name, confined(run_dir / name, self.root))
        from nbkit.recording import finite
        from nbkit.runs import artifacts

        executed = (manifest.get("files") or {}).get("executed")
        if isinstance(executed, str) and Path(executed).name == executed:
            manifest["artifacts"] = artifacts.keep(
                self.root, run_id, {executed: run_dir / executed}, self.store
            )
        manifest = finite(manifest)  # strict JSON: a NaN would break other readers
        data = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        final = run_dir / MANIFEST
        pending = run_dir / f".{MANIFEST}.pending"
        atomic_write_bytes(pending, data.encode("utf-8"), root=self.root)
        try:
            os.link(pending, final)  # fails if a manifest exists: write once
        except FileExistsError:
            raise NbkitError(
                "run already has a manifest; manifests are write-once", final
            ) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(pending)
        self._append_index([summarize(manifest)])
        return Run(run_id, run_dir, manifest)

    def get(self, run_id: str) -> Run:
        """The run with this id, or with the one id starting with it (``20250301-1015``);
        BadInput for an unknown, ambiguous, malformed or corrupt one."""
        run_id = self._complete(run_id)
        path = self._path(run_id)
        if not path.is_dir():
            raise BadInput(
                f"unknown run id {run_id!r}", self.dir, hint="nbkit runs lists the recorded runs"
            )
        return Run(run_id, path, read_manifest(path / MANIFEST))

    def _complete(self, prefix: str) -> str:
        """A unique id starting with ``prefix``; ``prefix`` itself when it is a full id, or
        not a safe prefix (digits, hex, ``-``: never a path)."""
        if _ID_RE.match(prefix) or not _PREFIX_RE.match(prefix) or not self.dir.is_dir():
            return prefix
        found = [e.name for e in os.scandir(self.dir) if e.name.startswith(prefix)]
        found = [name for name in found if _ID_RE.match(name)]
        if len(found) > 1:
            raise BadInput(
                f"run id {prefix!r} is ambiguous ({len(found)} runs start with it)",
                self.dir,
                hint="give more of the id",
            )
        return found[0] if found else prefix

    def _append_index(self, summaries: list[dict[str, Any]]) -> None:
        """One O_APPEND write: concurrent writers interleave whole lines, never halves.

        The index is only a cache: when it cannot be written (a symlink committed in its
        place, a ledger folder leading out of the tree) runs are listed from the manifests."""
        if not summaries:
            return
        data = "".join(json.dumps(s, sort_keys=True) + "\n" for s in summaries).encode()
        with contextlib.suppress(OSError, NbkitError):
            append_bytes(self.dir / INDEX, data, root=self.root)

    def _read_index(self) -> dict[str, dict[str, Any]]:
        from orjson import loads  # a core dependency; parses 10,000 lines several times faster

        try:  # never through a symlink: a committed link could name any file
            fd = os.open(self.dir / INDEX, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                data = fh.read()
        except OSError:
            return {}
        result: dict[str, dict[str, Any]] = {}
        for entry in _entries(data, loads):
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                result[entry["id"]] = entry
        return result

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Summaries of every recorded run, from the index, refreshed from new manifests."""
        self.problems = []
        if not self.dir.is_dir():
            return {}
        index = self._read_index()
        folders = {e.name for e in os.scandir(self.dir) if _ID_RE.match(e.name) and e.is_dir()}
        fresh: list[dict[str, Any]] = []
        for run_id in sorted(folders - index.keys()):
            path = self.dir / run_id / MANIFEST
            if not path.exists():
                continue  # still running
            try:
                fresh.append(summarize(read_manifest(path)))
            except BadInput as exc:
                self.problems.append(str(exc))
        self._append_index(fresh)
        for entry in fresh:
            index[entry["id"]] = entry
        return {k: v for k, v in index.items() if k in folders}

    def list(
        self,
        *,
        notebook: str | None = None,
        status: str | None = None,
        params: Mapping[str, Any] | None = None,
        sweep: str | None = None,
    ) -> list[Run]:
        """Runs oldest first (by start time), filtered by notebook (path relative to root),
        status, parameter values (compared as parsed data: ``{"lr": 0.1}``) and sweep."""
        runs = []
        entries = sorted(self.summaries().items(), key=lambda i: (str(i[1].get("started")), i[0]))
        for run_id, entry in entries:
            if notebook is not None and entry.get("notebook") != notebook:
                continue
            if status is not None and entry.get("status") != status:
                continue
            if sweep is not None and entry.get("sweep") != sweep:
                continue
            recorded = entry.get("effective_parameters") or entry.get("parameters") or {}
            if params and any(recorded.get(k, _MISSING) != v for k, v in params.items()):
                continue
            runs.append(Run(run_id, None, summary=entry, ledger_dir=self.dir))
        return runs


def _entries(data: bytes, loads: Callable[[bytes], Any]) -> list[Any]:
    """The index's lines parsed: all at once as one JSON array (a single parse of 10,000
    lines), else line by line, skipping torn lines (a crash mid-write). A line never holds a
    raw CR or LF (``json.dumps`` escapes them), so both ways agree on an intact index."""
    body = data.strip(b"\n")
    if b"\r" not in body and b"\n\n" not in body:
        with contextlib.suppress(ValueError):
            whole = loads(b"[" + body.replace(b"\n", b",") + b"]")
            if isinstance(whole, list):
                return whole
    found = []
    for line in data.splitlines():
        try:
            found.append(loads(line))
        except ValueError:
            continue  # a torn line: its manifest will be re-read
    return found


_MISSING = object()
_OLD_IGNORE = b"index.jsonl\n.*.pending\n"
_IGNORE = _OLD_IGNORE + b"*/executed.ipynb\n"
