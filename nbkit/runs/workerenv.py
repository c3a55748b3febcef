"""The locked environment on a sweep worker: built with uv from the lock the snapshot
carries, keyed by the lock's hash, in a cache private to the worker.

When the submitter ran the point in the project's locked environment (``nbkit env``; the
kernel source ``project``), a worker without that kernel builds the same environment from
the lock shipped in the snapshot (or reuses the one it built for an earlier point or sweep
with the same lock) and runs the kernel from it. Two worker processes on one machine build
one environment: a file lock serialises them. A worker that cannot build it (no uv, no
Python of the locked version, an index it cannot reach) fails that point with one line and
a hint, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from nbkit.errors import BadInput, NbkitError

if TYPE_CHECKING:
    from nbkit.runs.kernels import KernelChoice


def cache_dir() -> Path:
    """Where this worker keeps environments: ``NBKIT_WORKER_CACHE``, else the user's cache
    folder (never the unpacked snapshot, which is gone after the point)."""
    configured = os.environ.get("NBKIT_WORKER_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nbkit" / "worker-envs"


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def locked_kernel(root: Path, lock_hash: str) -> KernelChoice:
    """The kernel of the environment locked in the snapshot unpacked at ``root``, built or
    reused in this worker's cache."""
    from nbkit import config
    from nbkit.env import venv as envlib
    from nbkit.env.settings import settings
    from nbkit.runs.kernels import KernelChoice

    folder = cache_dir()
    key = lock_hash[:16]
    try:
        s = settings(config.load(root))
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder / f"{key}.lock"):
            result = envlib.ensure(s, folder / key)
    except NbkitError as exc:
        python = _locked_python(root)
        raise BadInput(
            f"this worker cannot build the sweep's locked environment: {exc.message}",
            hint=f"give the worker uv (pip install 'nbkit-git[env]') and Python {python}, "
            "or sweep with --kernel NAME of a kernel installed on the workers",
        ) from None
    except OSError as exc:  # no uv binary, a cache folder it may not write
        raise BadInput(
            f"this worker cannot build the sweep's locked environment: {exc.strerror or exc}",
            folder,
            hint="give the worker uv (pip install 'nbkit-git[env]') and a writable cache "
            "(NBKIT_WORKER_CACHE)",
        ) from None
    how = "built" if result.changed else "reused"
    return KernelChoice(
        result.kernel, "project", f"the project's locked environment, {how} on this worker"
    )


def _locked_python(root: Path) -> str:
    from nbkit import config
    from nbkit.env import lockfile
    from nbkit.env.settings import settings

    try:
        s = settings(config.load(root))
        lock = lockfile.read(s.lock_path)
    except (NbkitError, OSError):
        return "of the lock"
    return (lock.header.get("python") if lock else None) or s.python_target
