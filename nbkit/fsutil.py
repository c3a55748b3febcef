"""Every file nbkit writes goes through here: atomic, and confined to the repository.

Atomic: a reader (or a crash) sees the old file or the new one, never half.

Confined: a repository is untrusted input, and it can commit symlinks (``index.jsonl ->
~/.bashrc``, ``analysis.py -> /etc/...``) or name paths (``../x``, ``.git/hooks``) that would
make a write land elsewhere. A target inside a git work tree must resolve, after following
every symlink, inside that work tree and outside its ``.git``; anything else raises
``OutsideRepository`` and nothing is written. The work tree is the one given, or else the
one the path lies in as written (found without following the repository's own symlinks).
Files nbkit keeps in git's own folder (cache, install record, hook shims) are written with
``private=True``: git, not the repository's content, names those paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from nbkit.errors import NbkitError, OutsideRepository


def work_tree_of(path: str | Path) -> Path | None:
    """The git work tree ``path`` lies in, judged from the path as written.

    The nearest folder holding ``.git`` wins, unless the path reaches it through a symlinked
    folder: then a work tree above that symlink wins (the link is its content, and may point
    into another repository, such as a home folder kept in git)."""
    fallback: Path | None = None
    through_link = False
    for folder in Path(path).absolute().parents:  # ".." kept: it is resolved by the OS
        through_link = through_link or folder.is_symlink()
        if os.path.lexists(folder / ".git"):
            if not through_link:
                return folder
            fallback = fallback or folder
    return fallback


def _inside(target: str, folder: str) -> bool:
    return target == folder or target.startswith(folder.rstrip(os.sep) + os.sep)


def confined(path: str | Path, root: str | Path | None = None) -> Path:
    """Where a write to ``path`` really lands, after checking it stays in the work tree.

    ``root`` is the work tree (or a project folder in it); without one, the work tree the path
    lies in. Outside any work tree (a user's own folder) nothing is checked."""
    path = Path(path)
    target = os.path.realpath(path)
    top = Path(root) if root is not None else work_tree_of(path)
    if top is None:
        return Path(target)
    top_real = os.path.realpath(top)
    git = os.path.realpath(Path(top) / ".git")
    if not _inside(target, top_real):
        where = f"outside the repository {top_real}"
    elif _inside(target, git):
        where = f"inside {git}"
    else:
        return Path(target)
    leads = f"it leads to {target}, " if os.path.abspath(path) != target else "it is "
    raise OutsideRepository(
        f"refusing to write: {leads}{where}",
        path,
        hint="a symlink, a pairing or a setting in the repository points there; "
        "nbkit writes only inside the work tree",
    )


def make_folder(path: str | Path, root: str | Path | None = None) -> None:
    """``mkdir -p`` that never creates a folder through a link leading out of the tree."""
    path = Path(path)
    if not path.is_dir():
        confined(path, root)
        path.mkdir(parents=True, exist_ok=True)


def atomic_write_bytes(
    path: str | Path,
    data: bytes,
    *,
    mode: int | None = None,
    root: str | Path | None = None,
    private: bool = False,
    durable: bool = True,
) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync and replace.

    The fsync comes before the rename so that a power loss leaves the old file or the whole
    new one: without it, some filesystems (XFS; ext4 mounted ``noauto_da_alloc`` or
    ``data=writeback``) may commit the rename before the data and leave an empty file where
    the user's notebook was. The folder is not fsynced: a rename lost in a crash leaves the old
    file, which is still the user's data. ``durable=False`` skips the fsync, for files nbkit
    can rebuild (its cache): there a torn file is read as "no cache".
    The target is confined to the work tree (see the module docstring) unless ``private``.
    A symlink that stays inside is written through (it stays a link). The file's permission
    bits are kept when it exists. A full disk raises ``NbkitError`` and leaves the original
    untouched.
    """
    path = Path(path)
    if not private:
        path = confined(path, root)
    elif path.is_symlink():  # write through the link: replacing it would turn it into a copy
        path = Path(os.path.realpath(path))
    folder = path.parent
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".nbkit-tmp", dir=folder)
    except OSError as exc:  # no such folder, no permission: nothing was written
        raise NbkitError(f"cannot write: {exc.strerror or exc}", path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise NbkitError("no space left on the device; the file was not changed", path) from exc
        raise NbkitError(f"cannot write: {exc.strerror or exc}", path) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class WriteBehind:
    """Atomic writes handed to a few threads, for a batch of files: each file is still
    written, fsynced and renamed as ``atomic_write_bytes`` does, but the fsyncs of several
    files wait on the disk together (the journal commits them as one) while the caller goes on
    computing the next file. ``close`` waits for every write; errors are kept per path."""

    def __init__(self, threads: int = 4) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nbkit-write")
        self._pending: list[tuple[Path, Any]] = []

    def __call__(self, path: Path, data: bytes) -> None:
        self._pending.append((path, self._pool.submit(atomic_write_bytes, path, data)))

    def close(self) -> dict[Path, NbkitError]:
        """Wait for every write; the ones that failed, with why (nothing else raises)."""
        failed: dict[Path, NbkitError] = {}
        try:
            for path, future in self._pending:
                exc = future.exception()
                if isinstance(exc, NbkitError):
                    failed[path] = exc
                elif exc is not None:
                    raise exc
        finally:
            self._pool.shutdown(wait=True)
            self._pending = []
        return failed


def atomic_write_text(
    path: str | Path, text: str, *, newline: str = "\n", root: str | Path | None = None
) -> None:
    """Write text atomically; ``newline`` ("\\n" or "\\r\\n") is used for every line end."""
    if newline != "\n":
        text = text.replace("\r\n", "\n").replace("\n", newline)
    atomic_write_bytes(path, text.encode("utf-8"), root=root)


def append_bytes(path: str | Path, data: bytes, *, root: str | Path | None = None) -> None:
    """Append ``data`` in one ``O_APPEND`` write (concurrent writers interleave whole
    writes). Confined like every write, and never through a symlink: the file itself must be
    a regular file (a link there raises ``OutsideRepository``)."""
    path = Path(path)
    confined(path.parent, root)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutsideRepository(
                "refusing to append through a symlink", path, hint="remove the link"
            ) from None
        raise NbkitError(f"cannot write: {exc.strerror or exc}", path) from exc
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def detect_newline(data: bytes) -> str:
    """The line ending a file uses, so a rewrite keeps it (CRLF stays CRLF)."""
    return "\r\n" if b"\r\n" in data[:65536] else "\n"
