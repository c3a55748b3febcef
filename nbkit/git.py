"""Small typed git queries, batched, safe for odd file names (NUL-separated everywhere).

Every caller uses git's plumbing through one subprocess per question (never one per file);
GitPython was measured and dropped: its import and per-call cost would land on every commit.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from nbkit.errors import GitError


def run(root: str | Path, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """Run ``git args`` in ``root`` and return stdout; failures become ``GitError``."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {message[-1] if message else proc.returncode}", root)
    return proc.stdout


def toplevel(path: str | Path) -> Path | None:
    """The work tree root containing ``path``, or None outside a git repository."""
    folder = Path(path)
    if not folder.is_dir():
        folder = folder.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=folder if folder.exists() else None,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if out.returncode != 0:
        return None
    return Path(out.stdout.decode("utf-8").strip())


def git_dir(root: str | Path, *, common: bool = True) -> Path:
    """The repository's git directory (the common one for linked worktrees)."""
    flag = "--git-common-dir" if common else "--git-dir"
    out = run(root, "rev-parse", flag).decode("utf-8").strip()
    path = Path(out)
    return path if path.is_absolute() else (Path(root) / path).resolve()


def _split_z(out: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def tracked_files(root: str | Path, pathspecs: Sequence[str] = ()) -> list[str]:
    """Tracked files (relative posix paths) matching the pathspecs."""
    return _split_z(run(root, "ls-files", "-z", "--", *pathspecs))


def staged_files(root: str | Path) -> list[str]:
    """Files added, copied, modified or renamed in the index relative to HEAD."""
    if not has_commits(root):
        return tracked_files(root)
    return _split_z(run(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR"))


def has_commits(root: str | Path) -> bool:
    return run(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip() != b""


def index_blobs(root: str | Path, paths: Iterable[str]) -> dict[str, str]:
    """Blob ids of ``paths`` in the index (stage 0 only); absent paths are left out."""
    paths = list(paths)
    if not paths:
        return {}
    out = run(root, "ls-files", "-s", "-z", "--", *[f":(literal){p}" for p in paths])
    result: dict[str, str] = {}
    for entry in _split_z(out):
        meta, _, path = entry.partition("\t")
        _mode, sha, stage = meta.split(" ")
        if stage == "0":
            result[path] = sha
    return result


def unmerged_blobs(root: str | Path, path: str) -> dict[int, str]:
    """The conflict stages git holds for ``path`` during a merge: {1: base, 2: ours, 3: theirs}."""
    out = run(root, "ls-files", "-u", "-z", "--", f":(literal){path}")
    stages: dict[int, str] = {}
    for entry in _split_z(out):
        meta, _, _p = entry.partition("\t")
        _mode, sha, stage = meta.split(" ")
        stages[int(stage)] = sha
    return stages


def tree_blobs(root: str | Path, rev: str, paths: Iterable[str]) -> dict[str, str]:
    """Blob ids of ``paths`` at revision ``rev``; absent paths are left out."""
    paths = list(paths)
    if not paths:
        return {}
    out = run(root, "ls-tree", "-r", "-z", rev, "--", *paths, check=False)
    result: dict[str, str] = {}
    for entry in _split_z(out):
        meta, _, path = entry.partition("\t")
        parts = meta.split(" ")
        if len(parts) == 3 and parts[1] == "blob":
            result[path] = parts[2]
    return result


def read_blobs(root: str | Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Contents of many blobs through one ``git cat-file --batch``."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    out = run(root, "cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
    result: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split(b" ")
        pos = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        result[sha] = out[pos : pos + size]
        pos += size + 1  # the newline after each object
    return result


def config_get(root: str | Path, key: str) -> str | None:
    out = run(root, "config", "--get", key, check=False).decode("utf-8").strip()
    return out or None


def relpath(root: str | Path, path: str | Path) -> str:
    """``path`` relative to the work tree root, with forward slashes, as git names it."""
    return Path(os.path.relpath(Path(path).absolute(), Path(root).absolute())).as_posix()
