"""Make the working tree show what is being committed while a git pre-commit hook runs.

The plain-git pre-commit hook (no pre-commit framework) must check and fix the staged
versions, never unstaged work: after ``git add -p`` an unstaged hunk must not reach the
commit through the paired notebook, and outputs or conflict markers that were staged must be
seen even when the working copy no longer has them. Like the pre-commit framework, each
notebook or script with unstaged changes is set aside (kept in memory and in a backup folder
under ``.git``), replaced by its staged version for the hook, and put back afterwards:

- the hook did not touch it: the user's file comes back as it was;
- the hook's fix equals the user's file: nothing to put back, the file is reported to re-add;
- the hook changed it otherwise: the user's file comes back, the fix is dropped, and the
  commit is refused with a message (fixing the staged version would need the unstaged work).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from nbkit import git
from nbkit.errors import NbkitError
from nbkit.fsutil import atomic_write_bytes

BACKUP_PREFIX = "nbkit-unstaged-"


class SetAside(NamedTuple):
    path: Path  # absolute
    shown: str  # as the report names it
    mine: bytes  # the working file before the hook: the user's unstaged work
    staged: bytes  # what the hook saw


class Guard:
    """The files set aside for one hook run, and how to settle the report afterwards."""

    def __init__(self, files: Sequence[SetAside], backup: Path | None) -> None:
        self.files = list(files)
        self.backup = backup
        self.kept_fix: list[str] = []  # fixed by the hook, equal to the user's file
        self.refused: list[str] = []  # fixed by the hook, but the file had other work

    def restore(self) -> None:
        """Put the user's files back (see the module docstring); then drop the backup."""
        for item in self.files:
            current = item.path.read_bytes() if item.path.is_file() else None
            if current == item.mine:
                self.kept_fix.append(item.shown)
                continue
            if current != item.staged:
                self.refused.append(item.shown)
            atomic_write_bytes(item.path, item.mine)
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)


def unstaged(top: Path, suffixes: set[str]) -> list[str]:
    """Tracked notebooks and scripts whose working copy differs from the index (as git sees
    it: through the clean filter, so outputs the filter strips are not a difference)."""
    out = git.run(top, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff")
    names = [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
    return [n for n in names if Path(n).suffix in suffixes]


@contextlib.contextmanager
def staged_view(top: Path, names: Sequence[str], show: dict[str, str]) -> Iterator[Guard]:
    """While the block runs, the files ``names`` (relative to ``top``) hold their staged
    versions; afterwards the user's versions come back (also after an error or ^C)."""
    blobs = git.index_blobs(top, names)
    contents = git.read_blobs(top, blobs.values())
    items = []
    for name, sha in blobs.items():
        path = top / name
        if path.is_symlink() or not path.is_file() or sha not in contents:
            continue  # a link is never written through; a deleted file has nothing to keep
        items.append(SetAside(path, show.get(name, name), path.read_bytes(), contents[sha]))
    backup = _backup(top, items) if items else None
    guard = Guard(items, backup)
    try:
        for item in items:
            atomic_write_bytes(item.path, item.staged)
        yield guard
    finally:
        guard.restore()


def _backup(top: Path, items: Sequence[SetAside]) -> Path:
    """A copy of the unstaged work that survives a crash between set-aside and restore."""
    folder = git.git_dir(top) / f"{BACKUP_PREFIX}{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for index, item in enumerate(items):
            atomic_write_bytes(folder / f"{index}.orig", item.mine, private=True)
            atomic_write_bytes(folder / f"{index}.path", os.fsencode(item.path), private=True)
    except OSError as exc:
        raise NbkitError(f"cannot back up unstaged changes: {exc}", folder) from exc
    return folder
