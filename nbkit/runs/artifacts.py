"""The artifact store: executed notebooks (with their figures) outside the branch, in git.

Each run's files are git blobs (content-addressed) in a tree, held by a commit at
``refs/nbkit/runs/<id>``: a ref no branch contains, so the branch and its history grow by
manifests only, while ``git push``/``fetch`` of those refs (``nbkit runs push/fetch``) share
the files with a team, as DVC does for its experiments. The manifest names each stored
file's blob (``artifacts``), so a copy can be checked against it.

The run folder keeps a local copy of the executed notebook, ignored by git; a teammate's
copy is restored from the ref on first use, fetched from the remote if need be.

``[tool.nbkit.runs] artifacts`` may name a folder or an fsspec URL instead: a
content-addressed store (``nbkit.runs.contentstore``) that every function here dispatches to
when it is configured (``store_for``); the manifest then names each file's ``sha256``.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbkit import git
from nbkit.errors import BadInput, GitError
from nbkit.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from nbkit.runs.contentstore import ContentStore

REFS = "refs/nbkit/runs/"
SPEC = "+refs/nbkit/*:refs/nbkit/*"  # run artifacts and sweep snapshots
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_IDENTITY = {  # the store's commits are data, not anyone's work: a fixed author
    "GIT_AUTHOR_NAME": "nbkit",
    "GIT_AUTHOR_EMAIL": "nbkit@localhost",
    "GIT_COMMITTER_NAME": "nbkit",
    "GIT_COMMITTER_EMAIL": "nbkit@localhost",
}


class StoreError(BadInput):
    """The artifact store cannot be used (not writable, remote missing)."""


def store_for(root: Path) -> ContentStore | None:
    """The content store for the project containing ``root``: the user's ``NBKIT_ARTIFACTS``,
    else ``[tool.nbkit.runs] artifacts`` when the repository may choose it by itself (a
    folder inside it; anything else is refused, naming the config file); None for the
    git-ref store (the default)."""
    from nbkit import config
    from nbkit.runs import settings

    cfg = config.load(root)
    setting = settings(cfg).artifacts
    if setting == "git" and not os.environ.get("NBKIT_ARTIFACTS", "").strip():
        return None  # the common case: no import of the content store
    from nbkit.runs.contentstore import chosen_store

    return chosen_store(cfg.root, setting, cfg.source, os.environ)


def _git(root: Path, *args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        input=input,
        capture_output=True,
        env={**os.environ, **_IDENTITY},
        check=False,
    )
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}", root)
    return proc.stdout


@functools.lru_cache(maxsize=64)
def _toplevel(root: str) -> bool:
    return git.toplevel(root) is not None


def in_git(root: Path) -> bool:
    """Whether ``root`` is in a git work tree (asked once per folder and process: a sweep
    stores hundreds of runs)."""
    return _toplevel(str(root))


def check_writable(root: Path, store: ContentStore | None = None) -> None:
    """Fail before any kernel starts when runs could not be stored: writes the empty tree
    (objects writable) and prepares, then aborts, a ref transaction (refs writable); a
    content store writes and removes a probe."""
    if store is not None:
        store.check_writable()
        return
    if not in_git(root):
        return
    probe = f"start\ncreate refs/nbkit/probe-{os.getpid()} {_EMPTY_TREE}\nprepare\nabort\n"
    try:
        _git(root, "hash-object", "-w", "-t", "tree", "--stdin", input=b"")
        _git(root, "update-ref", "--stdin", input=probe.encode())
    except GitError as exc:
        raise StoreError(
            f"the run artifact store (git refs under {REFS}) is not writable: {exc.message}",
            git.git_dir(root) if in_git(root) else root,
            hint="check the permissions of .git/objects and .git/refs/nbkit",
        ) from None


def blobs(root: Path, files: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Write the files as blobs; name -> {blob, size}. Empty outside git or on failure
    (the local copy stays; ``nbkit runs push`` stores it later)."""
    names = sorted(n for n, p in files.items() if p.is_file())
    if not names or not in_git(root):
        return {}
    try:
        out = _git(root, "hash-object", "-w", "--", *(str(files[n]) for n in names))
    except GitError:
        return {}
    shas = out.decode().split()
    return {
        n: {"blob": s, "size": files[n].stat().st_size} for n, s in zip(names, shas, strict=True)
    }


def pin(root: Path, run_id: str, stored: Mapping[str, Mapping[str, Any]]) -> None:
    """Point ``refs/nbkit/runs/<id>`` at a commit of a tree of the stored blobs."""
    if not stored:
        return
    entries = "".join(f"100644 blob {v['blob']}\t{n}\0" for n, v in sorted(stored.items()))
    tree = _git(root, "mktree", "-z", input=entries.encode()).decode().strip()
    commit = _git(root, "commit-tree", tree, "-m", f"nbkit run {run_id}").decode().strip()
    _git(root, "update-ref", f"{REFS}{run_id}", commit)


def keep(
    root: Path, run_id: str, files: Mapping[str, Path], store: ContentStore | None = None
) -> dict[str, dict[str, Any]]:
    """Store a run's files; what the manifest records under ``artifacts``."""
    if store is not None:
        return store.keep(run_id, files)
    stored = blobs(root, files)
    try:
        pin(root, run_id, stored)
    except GitError:
        return {}
    return stored


def restore(root: Path, run_id: str, name: str, blob: str, dest: Path) -> None:
    """Write a stored file to ``dest``: from the local objects, else fetched from the
    default remote; ``BadInput`` naming what is missing and how to get it."""
    try:
        data = _git(root, "cat-file", "blob", blob)
    except GitError:
        remote = default_remote(root)
        if remote:
            try:
                _git(root, "fetch", "-q", remote, f"+{REFS}{run_id}:{REFS}{run_id}")
                data = _git(root, "cat-file", "blob", blob)
            except GitError:
                data = b""
        else:
            data = b""
        if not data and not _empty_ok(root, blob):
            where = f" (not on {remote} either)" if remote else ""
            raise BadInput(
                f"run {run_id}'s {name} is not here{where}",
                dest,
                hint="nbkit runs fetch [REMOTE] brings run artifacts; "
                "whoever ran it can share them with: nbkit runs push",
            ) from None
    atomic_write_bytes(dest, data)


def restore_file(run_dir: Path, manifest: Mapping[str, Any], name: str, dest: Path) -> None:
    """Bring back a run's file missing from its folder, from the store that holds it: the
    git ref when the manifest names a blob, else the configured content store (by the
    manifest's sha256, or the store's index of the run when the manifest names none)."""
    entry = (manifest.get("artifacts") or {}).get(name)
    entry = entry if isinstance(entry, dict) else {}
    run_id = str(manifest.get("id"))
    store = None
    if isinstance(entry.get("blob"), str):
        try:
            restore(run_dir, run_id, name, entry["blob"], dest)
            return
        except BadInput:  # a run stored in git before a content store was configured
            store = store_for(run_dir)
            if store is None or name not in store.run_index(run_id):
                raise
    store = store or store_for(run_dir)
    sha = entry.get("sha256")
    if store is None:
        if isinstance(sha, str):
            raise BadInput(
                f"run {run_id}'s {name} is kept in a content store, and this project's "
                "artifact store is git",
                dest,
                hint="set [tool.nbkit.runs] artifacts to the folder or URL the run was stored in",
            )
        return  # never stored anywhere (an older run, or outside git): nothing to restore
    sha = sha if isinstance(sha, str) else store.run_index(run_id).get(name)
    if sha is None and name not in (manifest.get("files") or {}).values():
        return  # the run never made this file (a clean run has no dirty.patch)
    data = store.get(sha) if sha else None
    if data is None:
        raise BadInput(
            f"run {run_id}'s {name} is not here nor in the artifact store {store.location}",
            dest,
            hint="whoever ran it can share it with: nbkit runs push",
        )
    atomic_write_bytes(dest, data)


def _empty_ok(root: Path, blob: str) -> bool:
    return blob == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # the empty file


def default_remote(root: Path) -> str | None:
    try:
        names = _git(root, "remote").decode().split()
    except GitError:
        return None
    if not names:
        return None
    return "origin" if "origin" in names else names[0]


def _remote(root: Path, remote: str | None) -> str:
    if not in_git(root):
        raise StoreError("not in a git repository", root, hint="the artifact store is git refs")
    chosen = remote or default_remote(root)
    if not chosen:
        raise StoreError(
            "no git remote to share run artifacts with",
            root,
            hint="git remote add origin URL, or name a remote: nbkit runs push REMOTE",
        )
    return chosen


def push(root: Path, remote: str | None, missing: Mapping[str, Mapping[str, Path]]) -> str:
    """Store runs whose files are only local (``missing``: run id -> files), then push
    every ``refs/nbkit/*`` to the remote. Returns the remote's name."""
    chosen = _remote(root, remote)
    for run_id, files in missing.items():
        keep(root, run_id, files)
    _transfer(root, "push", chosen)
    return chosen


def fetch(root: Path, remote: str | None) -> str:
    chosen = _remote(root, remote)
    _transfer(root, "fetch", chosen)
    return chosen


def _transfer(root: Path, verb: str, remote: str) -> None:
    try:
        _git(root, verb, "-q", remote, SPEC)
    except GitError as exc:
        raise StoreError(
            f"git {verb} of run artifacts to/from {remote!r} failed: "
            + exc.message.removeprefix(f"git {verb} failed: "),
            root,
            hint="check the remote's name or URL and that you may write to it (git remote -v)",
        ) from None


def stored_runs(root: Path) -> set[str]:
    """Run ids with a ref in this repository."""
    try:
        out = _git(root, "for-each-ref", "--format=%(refname)", REFS)
    except GitError:
        return set()
    return {line.removeprefix(REFS) for line in out.decode().split()}


# ---- a content store (a folder or an fsspec URL) ---------------------------------------------


def no_remote(store: ContentStore, remote: str | None) -> None:
    """A content store is the configured place: a git remote name means a mix-up."""
    if remote:
        raise StoreError(
            f"the run artifact store is {store.location}, not a git remote",
            remote,
            hint="leave REMOTE out: [tool.nbkit.runs] artifacts names the store",
        )


def push_content(store: ContentStore, missing: Mapping[str, Mapping[str, Path]]) -> int:
    """Store the runs whose files are only local (recorded while the store could not be
    written, or before it was configured); how many were stored."""
    if missing:
        store.check_writable()
    done = 0
    for run_id, files in sorted(missing.items()):
        if store.keep(run_id, files):
            done += 1
    return done


def fetch_content(store: ContentStore, ledger_dir: Path, name: str) -> tuple[int, int]:
    """Restore every recorded run's ``name`` missing here; (restored, not in the store)."""
    from nbkit.runs.ledger import read_manifest

    restored = absent = 0
    for manifest_path in sorted(ledger_dir.glob("*/manifest.json")):
        dest = manifest_path.parent / name
        if dest.exists():
            continue
        try:
            manifest = read_manifest(manifest_path)
            if not (manifest.get("files") or {}).get("executed"):
                continue  # the run left no notebook (it never started)
            restore_file(manifest_path.parent, manifest, name, dest)
        except StoreError:
            raise
        except BadInput:
            absent += 1
            continue
        restored += dest.exists()
    return restored, absent
