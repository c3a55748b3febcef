"""The one code version a sweep runs: commit + dirty patch + declared inputs, as plain bytes.

Resolved once, at submit, on the submitting machine:

- the tree is the recorded commit with the dirty patch applied in a private index
  (``git read-tree`` + ``git apply --cached`` + ``git write-tree``: the checkout and the real
  index are never touched), archived with ``git archive`` (the ledger folder left out);
- the declared inputs (``--inputs``; often untracked data) go into a second tar, with the
  sha256 each had at submit.

A worker needs neither git nor the project's folder: ``unpack`` writes both tars into a
private folder and ``relocate`` points a ``Prepared`` run at it. Whatever happens in the
checkout after submit (a commit, an edit) cannot reach a point.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbkit import git, selection
from nbkit.errors import BadInput, GitError

if TYPE_CHECKING:
    from nbkit.runs.execute import Prepared

SWEEP_REFS = "refs/nbkit/sweeps/"  # pins each sweep's tree so --resume can archive it again


@dataclass(frozen=True)
class Snapshot:
    """What every point of a sweep runs. Plain bytes: pickles to any worker."""

    key: str  # sha256 of the tree id and the inputs: names the snapshot in worker caches
    commit: str | None
    tree: str  # the git tree id (commit + patch)
    archive: bytes  # tar of the tree
    inputs: bytes  # tar of the declared inputs (paths relative to the project root)
    input_hashes: tuple[tuple[str, str], ...]  # (relative path, sha256) at submit

    @property
    def size(self) -> int:
        return len(self.archive) + len(self.inputs)


def _tree(root: Path, commit: str, patch: bytes) -> str:
    """The tree of ``commit`` with ``patch`` applied, built in a throwaway index."""
    if not patch:
        return git.run(root, "rev-parse", f"{commit}^{{tree}}").decode().strip()
    with tempfile.TemporaryDirectory(prefix="nbkit-snap-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git_env(root, env, "read-tree", commit)
        _git_env(root, env, "apply", "--cached", "--binary", "--whitespace=nowarn", input=patch)
        return _git_env(root, env, "write-tree").decode().strip()


def _git_env(root: Path, env: dict[str, str], *args: str, input: bytes | None = None) -> bytes:
    import subprocess

    proc = subprocess.run(
        ["git", *args], cwd=root, env=env, input=input, capture_output=True, check=False
    )
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}", root)
    return proc.stdout


def _archive(root: Path, tree: str, ledger_rel: str) -> bytes:
    spec = ["."] if ledger_rel.startswith("..") else [".", f":(exclude){ledger_rel}"]
    return git.run(root, "archive", "--format=tar", tree, "--", *spec)


def _inputs_tar(root: Path, inputs: tuple[Path, ...]) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """A tar of the declared inputs and their sha256, read once (what the tar holds is what
    was hashed)."""
    buffer = io.BytesIO()
    hashes: list[tuple[str, str]] = []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(set(inputs)):
            rel = _inside(root, path)
            data = path.read_bytes()
            hashes.append((rel, hashlib.sha256(data).hexdigest()))
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), tuple(hashes)


def _inside(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise BadInput(
            "a sweep ships its inputs to the workers: this one is outside the project",
            path,
            hint="move the file into the project, or declare a path inside it",
        ) from None


def take(root: Path, prepared: Prepared, ledger_dir: Path) -> Snapshot:
    """The snapshot of a prepared run: its recorded commit and patch, and its inputs."""
    commit = prepared.git.get("commit")
    if not commit:
        raise BadInput(
            f"a sweep runs a commit: {prepared.git.get('why') or 'no commit'}",
            root,
            hint="commit first (git add -A && git commit)",
        )
    tree = _tree(root, str(commit), bytes(prepared.git.get("patch") or b""))
    archive = _archive(root, tree, git.relpath(root, ledger_dir))
    inputs, hashes = _inputs_tar(root, prepared.inputs)
    key = hashlib.sha256(f"{tree}\0{hashes!r}".encode()).hexdigest()[:16]
    return Snapshot(key, str(commit), tree, archive, inputs, hashes)


def pin(root: Path, sweep_id: str, snapshot: Snapshot) -> None:
    """Keep the snapshot's tree reachable (``git gc`` must not drop it before --resume)."""
    git.run(root, "update-ref", f"{SWEEP_REFS}{sweep_id}", snapshot.tree)


def retake(root: Path, tree: str, ledger_dir: Path, commit: str | None) -> Snapshot:
    """A snapshot of a recorded tree (``--resume``); the inputs are added by the caller."""
    try:
        git.run(root, "cat-file", "-e", f"{tree}^{{tree}}")
    except GitError:
        raise BadInput(
            f"the sweep's snapshot {tree[:12]} is not in this repository",
            root,
            hint="resume where the sweep was submitted, or fetch its refs (refs/nbkit/sweeps)",
        ) from None
    archive = _archive(root, tree, git.relpath(root, ledger_dir))
    return Snapshot("", commit, tree, archive, b"", ())


def with_inputs(root: Path, snapshot: Snapshot, inputs: tuple[Path, ...]) -> Snapshot:
    tar, hashes = _inputs_tar(root, inputs)
    key = hashlib.sha256(f"{snapshot.tree}\0{hashes!r}".encode()).hexdigest()[:16]
    return replace(snapshot, key=key, inputs=tar, input_hashes=hashes)


# ---- on the worker --------------------------------------------------------------------------


def unpack(snapshot: Snapshot, folder: Path) -> Path:
    """Write the snapshot into ``folder`` (created) and return it. Members are checked:
    nothing may land outside the folder (the tar is data from the submitter)."""
    folder.mkdir(parents=True, exist_ok=True)
    for data in (snapshot.archive, snapshot.inputs):
        if not data:
            continue
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            tar.extractall(folder, filter="data")
    return folder


# The unpacked snapshots this process keeps: (snapshot key, thread) -> tree and the
# (mtime, size, mode) of each of its files. One per thread: the points sharing a tree run
# one after the other, so a point that changed it is caught before the next one starts.
_TREES: collections.OrderedDict[tuple[str, int], tuple[Path, dict[str, tuple[int, ...]]]] = (
    collections.OrderedDict()
)
_KEEP = 2  # trees kept per thread (the sweep running now, and the one before)
_CACHE_ROOT: list[Path] = []


def _cache_root() -> Path:
    if not _CACHE_ROOT:
        import atexit
        import shutil

        _CACHE_ROOT.append(Path(tempfile.mkdtemp(prefix="nbkit-snapshots-")))
        atexit.register(shutil.rmtree, _CACHE_ROOT[0], True)
    return _CACHE_ROOT[0]


def _fingerprints(tree: Path) -> dict[str, tuple[int, ...]]:
    found: dict[str, tuple[int, ...]] = {}
    for folder, _, names in selection.walk_all(tree):
        for name in names:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            found[path] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return found


def _cached(snapshot: Snapshot) -> Path:
    """The snapshot unpacked once for this thread (read-only use: points get link farms)."""
    import shutil
    import threading

    key = (snapshot.key, threading.get_ident())
    if key in _TREES:
        _TREES.move_to_end(key)
        return _TREES[key][0]
    tree = unpack(snapshot, _cache_root() / f"{snapshot.key}-{key[1]}")
    _TREES[key] = (tree, _fingerprints(tree))
    mine = [k for k in _TREES if k[1] == key[1]]
    for old in mine[:-_KEEP]:
        shutil.rmtree(_TREES.pop(old)[0], ignore_errors=True)
    return tree


def _link_farm(source: Path, dest: Path) -> None:
    """``dest`` as a copy of ``source`` whose folders are new and whose files are hard links
    (a copy where linking is refused): new files a point writes land in its own folders."""
    import shutil

    for folder, dirs, names in selection.walk_all(source):
        rel = os.path.relpath(folder, source)
        target = dest / rel if rel != "." else dest
        target.mkdir(parents=True, exist_ok=True)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            src = os.path.join(folder, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), target / name)
                continue
            try:
                os.link(src, target / name)
            except OSError:
                shutil.copy2(src, target / name)


@contextlib.contextmanager
def checkout(snapshot: Snapshot, folder: Path) -> Iterator[Path]:
    """A private working copy of the snapshot at ``folder`` for one point.

    The snapshot is unpacked once per worker thread and kept (``_cached``); each point gets
    a link farm of it: its own folders (what it creates stays its own) over hard links to
    the kept files, which costs a few milliseconds instead of unpacking the archive again.
    A notebook that writes *into* a file it was given (append, in-place edit, chmod) writes
    the kept copy too: after the point, the kept files are compared with what was unpacked,
    and a tree that changed is thrown away, so the next point starts from a fresh unpack and
    never sees another point's writes."""
    import shutil
    import threading

    if not snapshot.key:  # no identity to cache under: unpack for this point alone
        yield unpack(snapshot, folder)
        return
    tree = _cached(snapshot)
    _link_farm(tree, folder)
    try:
        yield folder
    finally:
        key = (snapshot.key, threading.get_ident())
        if key in _TREES and _fingerprints(tree) != _TREES[key][1]:
            shutil.rmtree(_TREES.pop(key)[0], ignore_errors=True)


def relocate(prepared: Prepared, snapshot: Snapshot, root: Path) -> Prepared:
    """The same run, pointed at the unpacked snapshot in ``root``: no submitter path left.
    The kernel: the one chosen at submit when it is installed here, else the locked
    environment built on this worker (``workerenv``) when the submitter ran in it, else this
    worker's interpreter (the manifest records which and why)."""
    request = replace(
        prepared.request, root=root, notebook=root / prepared.notebook_rel, ledger_dir=None
    )
    inputs = tuple(root / rel for rel, _ in snapshot.input_hashes)
    return replace(
        prepared,
        request=request,
        notebook=root / prepared.notebook_rel,
        inputs=inputs,
        kernel=_worker_kernel(prepared, root),
    )


def _worker_kernel(prepared: Prepared, root: Path) -> Any:
    """The submitter's kernel when this worker has it; the project's locked environment
    built here from the snapshot's lock when that is what the submitter ran; else this
    worker's interpreter."""
    from nbkit.runs import kernels

    choice = prepared.kernel
    if choice.argv:  # an interpreter: this worker's own, never the submitter's path
        return choice._replace(argv=kernels.interpreter_argv())
    if choice.name in kernels.installed():
        return choice
    if choice.source == "project" and prepared.lock_hash:
        from nbkit.runs import workerenv

        return workerenv.locked_kernel(root, prepared.lock_hash)
    return kernels.KernelChoice(
        kernels.CURRENT,
        "interpreter",
        f"kernel {choice.name!r} is not installed on this worker; using its interpreter",
        kernels.interpreter_argv(),
    )
