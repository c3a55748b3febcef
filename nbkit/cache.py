"""A small cache under ``.git/`` of content hashes known clean, valid or in sync.

It only ever saves work: a missing, stale or corrupt cache means "check again", never a
wrong answer, because every entry is keyed by the exact content hash of what was checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from nbkit.fsutil import atomic_write_bytes

_MAX_ENTRIES = 20000
_VALUES = "=values"  # top-level key of the key -> value namespaces (see ``get``/``put``)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def git_dir(folder: Path) -> Path | None:
    """The git directory of the repository containing ``folder`` (a linked worktree's own
    one), found without running git; None outside a repository."""
    folder = folder.absolute()
    top = next((p for p in (folder, *folder.parents) if (p / ".git").exists()), None)
    if top is None:
        return None
    git = top / ".git"
    if git.is_file():  # a linked worktree: .git is a file pointing at the real dir
        with contextlib.suppress(OSError):
            text = git.read_text().strip()
            if text.startswith("gitdir:"):
                git = (top / text.split(":", 1)[1].strip()).resolve()
    return git if git.is_dir() else None


class Cache:
    """Sets of keys per namespace, loaded once and saved once per command."""

    def __init__(self, path: Path | None):
        self.path = path
        self._data: dict[str, dict[str, int]] = {}
        self._values: dict[str, dict[str, str]] = {}
        self._dirty = False
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(path.read_bytes())
                if isinstance(loaded, dict):
                    values = loaded.pop(_VALUES, {})
                    self._data = {k: v for k, v in loaded.items() if isinstance(v, dict)}
                    self._values = {
                        ns: {k: v for k, v in bucket.items() if isinstance(v, str)}
                        for ns, bucket in (values if isinstance(values, dict) else {}).items()
                        if isinstance(bucket, dict)
                    }

    @classmethod
    def for_root(cls, root: Path | None, enabled: bool = True) -> Cache:
        """The cache of the repository containing ``root`` (none outside git or disabled).

        ``root`` may be a project folder below the work tree's top (a subproject's config)."""
        if root is None or not enabled:
            return cls(None)
        git = git_dir(Path(root))
        return cls(None if git is None else git / "nbkit-cache.json")

    def has(self, namespace: str, key: str) -> bool:
        return key in self._data.get(namespace, {})

    def empty(self, namespace: str) -> bool:
        """Nothing recorded in ``namespace`` (a cold cache: no lookup can hit)."""
        return not self._data.get(namespace)

    def add(self, namespace: str, key: str) -> None:
        bucket = self._data.setdefault(namespace, {})
        if key not in bucket:
            bucket[key] = len(bucket)
            self._dirty = True

    def keys(self, namespace: str) -> list[str]:
        """Every key of ``namespace``, oldest first (lets a key carry a small value)."""
        bucket = self._data.get(namespace, {})
        return sorted(bucket, key=bucket.__getitem__)

    def get(self, namespace: str, key: str) -> str | None:
        """The value last ``put`` under ``key`` (None: unknown)."""
        return self._values.get(namespace, {}).get(key)

    def put(self, namespace: str, key: str, value: str) -> None:
        """Remember ``value`` for ``key``; the newest values survive trimming."""
        bucket = self._values.setdefault(namespace, {})
        if bucket.get(key) != value:
            bucket.pop(key, None)  # re-inserted last: dicts (and the JSON file) keep order
            bucket[key] = value
            self._dirty = True

    def save(self) -> None:
        """Persist if anything was added; failures are ignored (the cache is optional)."""
        if self.path is None or not self._dirty:
            return
        for namespace, bucket in self._data.items():
            if len(bucket) > _MAX_ENTRIES:  # keep the newest half
                keep = sorted(bucket, key=bucket.__getitem__)[-_MAX_ENTRIES // 2 :]
                self._data[namespace] = {k: i for i, k in enumerate(keep)}
        for namespace, values in self._values.items():
            if len(values) > _MAX_ENTRIES:
                self._values[namespace] = dict(list(values.items())[-_MAX_ENTRIES // 2 :])
        with contextlib.suppress(Exception):
            data = json.dumps({**self._data, _VALUES: self._values}).encode()
            atomic_write_bytes(self.path, data, private=True, durable=False)  # rebuildable
        self._dirty = False


class Caches:
    """The cache of each repository a command's files live in, loaded on first use: a file
    is checked against, and recorded in, its own repository's cache, wherever the command
    runs from (never the current folder's repository)."""

    def __init__(self) -> None:
        self._by_folder: dict[Path, Cache] = {}
        self._by_git: dict[Path | None, Cache] = {}

    def for_file(self, path: str | Path) -> Cache:
        folder = Path(path).absolute().parent
        cache = self._by_folder.get(folder)
        if cache is None:
            git = git_dir(folder)
            cache = self._by_git.get(git)
            if cache is None:
                cache = Cache(None if git is None else git / "nbkit-cache.json")
                self._by_git[git] = cache
            self._by_folder[folder] = cache
        return cache

    def common(self, paths: list[Path]) -> Cache:
        """The one cache all ``paths`` share; none when they span repositories."""
        found = {id(c): c for c in (self.for_file(p) for p in paths)}
        return next(iter(found.values())) if len(found) == 1 else Cache(None)

    def save(self) -> None:
        for cache in self._by_git.values():
            cache.save()
