"""Files on the two sides of a diff: a revision, the index or the working tree.

Plumbing through ``nbkit.git`` (one ``git diff --name-status`` for the list, one
``git cat-file --batch`` per side for the contents), NUL-separated so odd names are safe.
GitPython is not needed here and would cost more to import than the whole diff.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from nbkit import git
from nbkit.errors import BadInput


class Side(NamedTuple):
    kind: str  # "rev" | "index" | "worktree"
    rev: str  # commit id for "rev", "" otherwise
    label: str  # what the user typed, or "index" / "working tree"


WORKTREE = Side("worktree", "", "working tree")
INDEX = Side("index", "", "index")


class FileChange(NamedTuple):
    status: str  # git's letter: A, D, M, R (rename), T (type change)
    old_path: str | None
    new_path: str | None


def resolve(root: str | Path, rev: str) -> Side:
    """A commit-ish as a side, or ``BadInput`` naming the revision."""
    if not rev or rev.startswith("-"):
        raise BadInput("not a revision", rev or "''")
    out = git.run(
        root, "rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}", check=False
    )
    sha = out.decode().strip()
    if not sha:
        raise BadInput(
            "unknown revision (not a commit in this repository)",
            rev,
            hint="check the name with: git log --oneline --all",
        )
    return Side("rev", sha, rev)


def merge_base(root: str | Path, a: Side, b: Side) -> Side:
    out = git.run(root, "merge-base", a.rev, b.rev, check=False).decode().strip()
    if not out:
        raise BadInput(
            "no common ancestor (unrelated histories, or a shallow clone)",
            f"{a.label}...{b.label}",
            hint="fetch the whole history (actions/checkout: fetch-depth: 0), or use A..B",
        )
    return Side("rev", out, f"{a.label} (merge base {out[:10]})")


def parse_range(root: str | Path, spec: str) -> tuple[Side, Side]:
    """``A...B`` (from their merge base, as GitHub shows a PR), ``A..B``, or ``A`` (A..HEAD)."""
    if "..." in spec:
        a, _, b = spec.partition("...")
        left, right = resolve(root, a or "HEAD"), resolve(root, b or "HEAD")
        return merge_base(root, left, right), right
    if ".." in spec:
        a, _, b = spec.partition("..")
        return resolve(root, a or "HEAD"), resolve(root, b or "HEAD")
    return resolve(root, spec), resolve(root, "HEAD")


def _diff_args(old: Side, new: Side) -> list[str]:
    if new.kind == "worktree":
        return [] if old.kind == "index" else [old.rev]
    if new.kind == "index":
        return ["--cached", old.rev]
    return [old.rev, new.rev]


def changed_files(
    root: str | Path, old: Side, new: Side, pathspecs: Sequence[str] = ()
) -> list[FileChange]:
    """Files that differ between the sides, in git's order. Renames need 90% similarity:
    small notebooks share so much JSON boilerplate that git's default 50% pairs unrelated
    ones."""
    args = ["diff", "--name-status", "-z", "--no-ext-diff", "--no-textconv", "-M90%"]
    out = git.run(root, *args, *_diff_args(old, new), "--", *pathspecs)
    fields = [f.decode("utf-8", "surrogateescape") for f in out.split(b"\0")]
    changes: list[FileChange] = []
    pos = 0
    while pos < len(fields) and fields[pos]:
        letter = fields[pos][0]
        if letter in "RC":
            changes.append(FileChange(letter, fields[pos + 1], fields[pos + 2]))
            pos += 3
            continue
        path = fields[pos + 1]
        changes.append(
            FileChange(letter, None if letter == "A" else path, None if letter == "D" else path)
        )
        pos += 2
    return changes


def read_files(root: str | Path, side: Side, paths: Iterable[str]) -> dict[str, bytes]:
    """Contents of ``paths`` on one side; paths absent there are left out."""
    paths = list(paths)
    if side.kind == "worktree":
        result = {}
        for p in paths:
            full = Path(root) / p
            if full.is_file():
                result[p] = full.read_bytes()
        return result
    if side.kind == "index":
        blobs = git.index_blobs(root, paths)
    else:
        wanted = set(paths)
        blobs = {p: s for p, s in git.tree_blobs(root, side.rev, paths).items() if p in wanted}
    contents = git.read_blobs(root, blobs.values())
    return {p: contents[sha] for p, sha in blobs.items() if sha in contents}


def existing(root: str | Path, side: Side, paths: Iterable[str]) -> set[str]:
    """Which of ``paths`` exist on the side (one git call for all of them)."""
    paths = list(paths)
    if not paths:
        return set()
    if side.kind == "worktree":
        return {p for p in paths if (Path(root) / p).is_file()}
    found = (
        git.index_blobs(root, paths)
        if side.kind == "index"
        else git.tree_blobs(root, side.rev, paths)
    )
    return set(found) & set(paths)


def clean_filtered(root: str | Path, paths: Iterable[str]) -> set[str]:
    """Paths git passes through nbkit's clean filter (``filter=nbkit`` in .gitattributes):
    their index form is the cleaned notebook, so the working tree must be compared cleaned."""
    paths = list(paths)
    if not paths:
        return set()
    fields = git.run(root, "check-attr", "-z", "filter", "--", *paths).split(b"\0")
    return {
        fields[k].decode("utf-8", "surrogateescape")
        for k in range(0, len(fields) - 2, 3)
        if fields[k + 2] == b"nbkit"
    }
