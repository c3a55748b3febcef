"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from nbkit.errors import NbkitError


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync and replace.

    The file's permission bits are kept when it exists. A full disk raises ``NbkitError``
    and leaves the original untouched.
    """
    path = Path(path)
    if path.is_symlink():  # write through the link: replacing it would turn it into a copy
        path = Path(os.path.realpath(path))
    folder = path.parent
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".nbkit-tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
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


def atomic_write_text(path: str | Path, text: str, *, newline: str = "\n") -> None:
    """Write text atomically; ``newline`` ("\\n" or "\\r\\n") is used for every line end."""
    if newline != "\n":
        text = text.replace("\r\n", "\n").replace("\n", newline)
    atomic_write_bytes(path, text.encode("utf-8"))


def detect_newline(data: bytes) -> str:
    """The line ending a file uses, so a rewrite keeps it (CRLF stays CRLF)."""
    return "\r\n" if b"\r\n" in data[:65536] else "\n"
