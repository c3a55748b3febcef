"""Files a run opened below Python's ``open``: an inotify watch of the project's folders.

The kernel's audit hook sees every ``open()`` made by Python code, but not the files a C
library opens itself: pyarrow's parquet reader, h5py, netCDF, any extension. While the
kernel runs, nbkit (not the kernel) watches the project's folders with inotify (Linux,
through ``ctypes``; no dependency) and records which files were opened, and whether they
were read (``IN_ACCESS``) or written (``IN_MODIFY``/``IN_CREATE``) first.

Limits, on purpose: only folders that exist when the run starts, at most ``MAX_FOLDERS``
of them, hidden folders and tool folders (``.git``, ``.venv``, ``__pycache__``...) and the
ledger skipped; any process's opens count, not only the kernel's; a file read through
``mmap`` alone is seen at its open; elsewhere than Linux nothing is watched. ``note`` says
when the watch was partial.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import struct
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_FOLDERS = 2000
SKIP_NAMES = frozenset(
    {"__pycache__", "node_modules", "venv", "env", "site-packages", "build", "dist"}
)
_IN_ACCESS, _IN_MODIFY, _IN_CLOSE_WRITE, _IN_OPEN = 0x1, 0x2, 0x8, 0x20
_IN_MOVED_TO, _IN_CREATE, _IN_Q_OVERFLOW, _IN_ISDIR = 0x80, 0x100, 0x4000, 0x40000000
_WRITES = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
_MASK = _IN_ACCESS | _IN_OPEN | _WRITES
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then the name, NUL-padded


@dataclass
class Watched:
    """What the watch saw: files opened, with how they were first used."""

    read: dict[Path, tuple[int, int] | None] = field(default_factory=dict)  # size, mtime
    written: set[Path] = field(default_factory=set)  # written (or created) before any read
    note: str = ""  # why the watch was partial, or "" when it covered every folder


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.inotify_init1  # noqa: B018 - probe: absent on non-Linux libcs
    except (OSError, AttributeError):
        return None
    return libc


def folders(roots: Iterable[Path], skip: Iterable[Path]) -> tuple[list[Path], bool]:
    """The folders under ``roots`` to watch, and whether the list is complete."""
    skipped = {str(p.resolve()) for p in skip}
    found: list[Path] = []
    stack = [Path(r).resolve() for r in roots]
    seen: set[str] = set()
    while stack:
        folder = stack.pop()
        if str(folder) in seen or str(folder) in skipped:
            continue
        seen.add(str(folder))
        if len(found) >= MAX_FOLDERS:
            return found, False
        found.append(folder)
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name in SKIP_NAMES:
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
    return found, True


class _Watcher:
    def __init__(self, libc: ctypes.CDLL, watch: list[Path]):
        self.libc = libc
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs: dict[int, Path] = {}
        self.result = Watched()
        self.first: dict[Path, int] = {}
        for folder in watch:
            wd = libc.inotify_add_watch(self.fd, os.fsencode(folder), _MASK)
            if wd < 0:  # the per-user limit of watches: a partial watch, said so
                self.result.note = f"inotify watch limit reached at {folder}"
                break
            self.dirs[wd] = folder
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._loop, name="nbkit-watch", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd, self.stop_r], [], [])
            self._drain()
            if self.stop_r in ready:
                return

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = _EVENT.unpack_from(data, offset)
                raw = data[offset + _EVENT.size : offset + _EVENT.size + size]
                offset += _EVENT.size + size
                self._event(wd, mask, raw.rstrip(b"\0"))

    def _event(self, wd: int, mask: int, name: bytes) -> None:
        if mask & _IN_Q_OVERFLOW:
            self.result.note = "too many file events: some opens were missed"
            return
        folder = self.dirs.get(wd)
        if folder is None or not name or mask & _IN_ISDIR:
            return
        path = folder / os.fsdecode(name)
        if path.suffix in (".py", ".pyc"):  # imports: the audit hook's business
            return
        if path not in self.first and mask & _IN_OPEN:
            try:
                stat = path.stat()
                self.result.read.setdefault(path, (stat.st_size, stat.st_mtime_ns))
            except OSError:
                self.result.read.setdefault(path, None)
        kind = mask & (_IN_ACCESS | _WRITES)
        if kind and path not in self.first:
            self.first[path] = kind
            if kind & _WRITES:  # written before it was read: an output
                self.result.written.add(path)
                self.result.read.pop(path, None)

    def stop(self) -> Watched:
        os.write(self.stop_w, b"x")
        self.thread.join()
        for fd in (self.fd, self.stop_r, self.stop_w):
            os.close(fd)
        return self.result


@contextlib.contextmanager
def watch_opens(roots: Iterable[Path], skip: Iterable[Path]) -> Iterator[Watched]:
    """Watch ``roots`` (recursively) while the block runs; the yielded ``Watched`` is
    filled in when the block ends."""
    result = Watched()
    libc = _libc()
    if libc is None:
        result.note = "native reads are watched on Linux only"
        yield result
        return
    watch, complete = folders(roots, skip)
    try:
        watcher = _Watcher(libc, watch)
    except OSError as exc:
        result.note = f"inotify unavailable: {exc.strerror or exc}"
        yield result
        return
    try:
        yield result
    finally:
        seen = watcher.stop()
        result.read.update(seen.read)
        result.written |= seen.written
        result.note = seen.note or ("" if complete else f"more than {MAX_FOLDERS} folders")
