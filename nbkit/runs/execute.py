"""One papermill execution of a notebook, recorded as a run manifest.

The API other parts build on (rerun, sweep):

- ``RunRequest``: what to run (immutable, picklable).
- ``prepare(request) -> Prepared``: every check that can fail before a kernel starts
  (notebook, parameters, kernel, git state, inputs); raises ``BadInput``.
- ``execute_prepared(prepared, out_dir) -> dict``: run it, leave the executed notebook (and
  ``dirty.patch``) in ``out_dir``, return the manifest. Never touches the ledger, so a sweep
  can call it in another process or on a Dask worker and let the submitter write the ledger.
- ``execute_to_dir(request, out_dir)``: ``prepare`` + ``execute_prepared``.
- ``execute(request) -> Run``: the whole thing, recorded in the ledger.

A failing notebook never raises: the manifest's ``status`` says ``succeeded``, ``failed``
(with the cell and error), ``timed_out`` (naming the cell) or ``interrupted`` (SIGINT or
SIGTERM; the partial notebook is kept either way).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from nbkit import __version__
from nbkit import notebook as nbio
from nbkit.errors import BadInput
from nbkit.fsutil import atomic_write_bytes, make_folder
from nbkit.runs import kernels, manifest, params, watch
from nbkit.runs.ledger import DEFAULT_FOLDER, Ledger, Run

EXECUTED = "executed.ipynb"
PATCH = "dirty.patch"
PID_FILE = ".kernel.pid"
SCHEMA = 1
_POLL = 0.05  # seconds between checks of the execution thread
_GRACE_TICKS = 200  # x _POLL after the first signal before the kernel is killed
_RESEND_TICKS = 20  # x _POLL between interrupts of the kernel


@dataclass(frozen=True)
class RunRequest:
    """What to run. ``parameters`` are data (already parsed), never code."""

    notebook: Path
    root: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    timeout: float | None = None  # seconds per cell
    allow_dirty: bool = False
    allow_unknown: bool = False
    inputs: tuple[str, ...] = ()  # globs, relative to root
    ledger_dir: Path | None = None  # default root/.nbkit/runs
    commit: str | None = None  # rerun: the recorded commit (worktree already checked out)
    parent: str | None = None  # rerun: the original run id
    sweep: str | None = None  # the sweep this run belongs to (``nbkit runs --sweep ID``)


@dataclass(frozen=True)
class Prepared:
    """A request checked and resolved; picklable, so it can travel to a worker."""

    request: RunRequest
    notebook: Path  # absolute
    notebook_rel: str
    notebook_sha256: str
    nb: dict[str, Any]
    kernel: kernels.KernelChoice
    git: dict[str, Any]  # commit, branch, dirty, why, patch (bytes)
    inputs: tuple[Path, ...]
    language: str
    lock_hash: str | None
    env_names: tuple[str, ...] = ()  # environment variables the project declares
    defaults: dict[str, Any] = field(default_factory=dict)  # the parameters cell's defaults


def _read_notebook(path: Path, shown: Path, root: Path) -> tuple[str, bytes, dict[str, Any]]:
    if path.suffix != ".ipynb":
        raise BadInput("not a notebook (expected a .ipynb file)", shown)
    if not path.exists():  # name the path the user gave, not where a symlink pointed
        raise BadInput("no such file", shown)
    data = nbio.read_bytes(path)
    nb = nbio.loads(data, shown)
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise BadInput(f"notebook is outside the project root {root}", shown) from None
    return rel, data, nb


def prepare(request: RunRequest) -> Prepared:
    """Check everything that can be checked without a kernel; BadInput when it cannot run."""
    root = Path(request.root).resolve()
    path = Path(request.notebook)
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    rel, data, nb = _read_notebook(path, Path(request.notebook), root)
    params.check(nb, request.notebook, request.parameters, allow_unknown=request.allow_unknown)
    choice = kernels.choose(root, nb, request.kernel, request.notebook)
    kernels.transport()  # a bad NBKIT_KERNEL_TRANSPORT is refused before anything starts
    ledger_dir = Ledger(root, _folder(request)).dir
    state = manifest.git_state(root, path, ledger_dir)
    if state["dirty"] and not request.allow_dirty:
        raise BadInput(
            f"refusing a run that cannot be reproduced: {state['why']}",
            rel,
            hint="commit first, or pass --allow-dirty to store the diff with the run",
        )
    if request.commit:
        state["commit"] = request.commit
    inputs = tuple(manifest.declared_inputs(root, request.inputs))
    return Prepared(
        request=request,
        notebook=path,
        notebook_rel=rel,
        notebook_sha256=hashlib.sha256(data).hexdigest(),
        nb=nb,
        kernel=choice,
        git=state,
        inputs=inputs,
        language=params.language(nb, as_written=True),
        lock_hash=manifest.lock_hash(root),
        env_names=_declared_env(root),
        defaults=_defaults(nb, request.notebook),
    )


def _defaults(nb: dict[str, Any], path: Path) -> dict[str, Any]:
    """The parameters cell's defaults; none when it cannot be parsed (papermill will say)."""
    try:
        return params.defaults(nb, path)
    except BadInput:
        return {}


def _declared_env(root: Path) -> tuple[str, ...]:
    """``[tool.nbkit.runs] env``, read here so every caller (run, sweep, rerun) records it."""
    from nbkit import config
    from nbkit.runs import settings

    return settings(config.load(root)).env


def _folder(request: RunRequest) -> str:
    return str(request.ledger_dir) if request.ledger_dir else DEFAULT_FOLDER


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


_RECORDING: list[list[str]] = []  # the signal list of the run in progress (main thread)


@contextlib.contextmanager
def _signals_recorded() -> Iterator[list[str]]:
    """While a run is on, SIGINT and SIGTERM are recorded (their names, in order) instead of
    raising: an exception could land between any two lines and lose the manifest. Nested
    uses share one list. Only the main thread can install handlers; elsewhere the list stays
    empty."""
    if _RECORDING:
        yield _RECORDING[-1]
        return
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    _RECORDING.append(received)
    try:
        yield received
    finally:
        _RECORDING.pop()
        for sig, old in previous.items():
            signal.signal(sig, old)


def _signal_kernel(out_dir: Path, *, kill: bool) -> bool:
    """Interrupt or kill the kernel (the kernel manager wrote its pid); False while the
    kernel has not started yet."""
    try:
        pid = int((out_dir / PID_FILE).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return False
    kernels.signal_kernel(pid, kill=kill)
    return True


def _wait(done: threading.Event, out_dir: Path, received: list[str]) -> str | None:
    """Wait for the execution thread to finish. After a first signal interrupt the kernel
    every second (ipykernel ignores SIGINT while it starts, and papermill stops at the first
    interrupted cell), and kill it if it is still running after a grace period; after a
    second signal, kill it. Returns the first signal's name.

    It waits on an Event, not ``Thread.join``: on Python 3.11 an exception inside ``join``
    can mark a still-running thread as stopped (the bpo-45274 handling)."""
    since: int | None = None  # ticks since the first signal
    while not done.wait(_POLL):
        if not received:
            continue
        since = 0 if since is None else since + 1
        if len(received) > 1 or since > _GRACE_TICKS:
            _signal_kernel(out_dir, kill=True)
        elif since % _RESEND_TICKS == 0:
            _signal_kernel(out_dir, kill=False)
    return received[0] if received else None


def _papermill(prepared: Prepared, out_dir: Path, ipc_prefix: str) -> BaseException | None:
    """Run papermill in this thread; return the exception it ended with, if any."""
    import nbformat
    import papermill

    choice = prepared.kernel
    startup = [f"--IPKernelApp.exec_files={manifest.write_setup(out_dir)}"]
    try:
        papermill.execute_notebook(
            nbformat.from_dict(copy.deepcopy(prepared.nb)),  # type: ignore[no-untyped-call]
            str(out_dir / EXECUTED),
            parameters=dict(prepared.request.parameters) or None,
            kernel_name=choice.name,
            language=prepared.language,
            progress_bar=False,
            cwd=str(prepared.notebook.parent),
            execution_timeout=prepared.request.timeout,
            kernel_manager_class=kernels.manager_class(),
            config=kernels.engine_config(choice, ipc_prefix, out_dir / PID_FILE),
            extra_arguments=startup if choice.ipykernel else [],
        )
    except BaseException as exc:  # the caller turns it into a status
        return exc
    return None


def _run(
    prepared: Prepared, out_dir: Path, received: list[str]
) -> tuple[BaseException | None, str | None]:
    """Execute in a worker thread so this (main) thread keeps its signal handlers: nbclient
    replaces SIGINT/SIGTERM handling when it runs in the main thread."""
    box: dict[str, BaseException | None] = {}
    done = threading.Event()
    ipc_dir = tempfile.mkdtemp(prefix="nbk-", dir="/tmp" if os.path.isdir("/tmp") else None)

    def work() -> None:
        try:
            box["error"] = _papermill(prepared, out_dir, f"{ipc_dir}/k")
        finally:
            done.set()

    try:
        thread = threading.Thread(target=work, name="nbkit-run", daemon=True)
        thread.start()
        interrupted = _wait(done, out_dir, received)
        thread.join()
    finally:
        shutil.rmtree(ipc_dir, ignore_errors=True)
    return box.get("error"), interrupted


def execute_prepared(prepared: Prepared, out_dir: Path) -> dict[str, Any]:
    """Run the prepared notebook into ``out_dir`` and return its manifest (not recorded)."""
    from nbkit.cache import Cache
    from nbkit.runs import outcome

    out_dir = Path(out_dir)
    make_folder(out_dir)
    if prepared.git.get("patch"):
        atomic_write_bytes(out_dir / PATCH, prepared.git["patch"])
    root = Path(prepared.request.root).resolve()
    cache = Cache.for_root(root)
    hashes = manifest.FileHashes(cache)
    with _signals_recorded() as received:  # until the manifest is built: never half a run
        run: dict[str, Any] = {
            # fingerprinted before the run: what the notebook was given, even if it rewrites it
            "inputs": manifest.fingerprint(root, prepared.inputs, hashes),
            "started": _now(),
        }
        with watch.watch_opens(*_watched(prepared, out_dir)) as native:
            error, interrupted = _run(prepared, out_dir, received)
        run["ended"] = _now()
        executed = outcome.read_executed(out_dir / EXECUTED)
        run["status"], run["error"] = outcome.status_of(error, interrupted, executed)
        log = manifest.read_log(out_dir)
        manifest.add_native(log, native.read, native.written)
        run["native_reads"] = native.note or "watched"
        reads = manifest.data_reads(out_dir, log.read, [prepared.notebook])
        run["git"] = _with_untracked(prepared, out_dir, log.modules, reads)
        run["files_read"] = manifest.fingerprint_reads(root, log, reads, hashes)
        result = _manifest(prepared, out_dir, executed, run)
    cache.save()
    for name in (manifest.KERNEL_INFO, manifest.READS_LOG, manifest.SETUP_FILE, PID_FILE):
        with contextlib.suppress(OSError):
            (out_dir / name).unlink()
    return result


def _watched(prepared: Prepared, out_dir: Path) -> tuple[list[Path], list[Path]]:
    """Folders watched for native reads: the project, and those of declared inputs outside
    it; minus the ledger (the run's own files)."""
    root = Path(prepared.request.root).resolve()
    roots = [root]
    for path in prepared.inputs:
        folder = path.resolve().parent
        if not folder.is_relative_to(root):
            roots.append(folder)
    ledger = Ledger(root, _folder(prepared.request)).dir
    return list(dict.fromkeys(roots)), [ledger, out_dir]


def _with_untracked(
    prepared: Prepared, out_dir: Path, modules: set[Path], reads: list[Path]
) -> dict[str, Any]:
    """The run's git state, made dirty by untracked files the kernel imported or read: they
    are added to the stored patch so a rerun has them (``untracked`` names them)."""
    state = dict(prepared.git)
    if state.get("commit") is None:  # no git: nothing to be untracked from
        return state
    root = Path(prepared.request.root).resolve()
    names, patch = manifest.untracked_reads(root, modules - {prepared.notebook}, reads)
    if not names:
        return state
    state["patch"] = (state.get("patch") or b"") + patch
    atomic_write_bytes(out_dir / PATCH, state["patch"])
    why = f"untracked files read: {', '.join(names)}"
    state.update(dirty=True, untracked=names, why="; ".join(filter(None, [state["why"], why])))
    return state


def _manifest(
    prepared: Prepared, out_dir: Path, executed: dict[str, Any] | None, run: dict[str, Any]
) -> dict[str, Any]:
    """The manifest: ``run`` holds what the execution produced (inputs, started, ended,
    status, error, files_read); the rest comes from the prepared request and the kernel."""
    from nbkit.runs import outcome

    request = prepared.request
    facts = manifest.kernel_facts(out_dir)
    facts.pop("pid", None)
    return {
        "schema": SCHEMA,
        "id": None,  # set by Ledger.write
        "nbkit_version": __version__,
        "notebook": prepared.notebook_rel,
        "notebook_sha256": prepared.notebook_sha256,
        "parameters": dict(request.parameters),
        "effective_parameters": {**prepared.defaults, **request.parameters},
        "git": {k: v for k, v in run["git"].items() if k != "patch"},
        "kernel": {**prepared.kernel._asdict(), **facts, "argv": list(prepared.kernel.argv)},
        "lock_hash": prepared.lock_hash,
        "inputs": run["inputs"],
        "files_read": run["files_read"],
        "native_reads": run["native_reads"],
        "started": run["started"],
        "ended": run["ended"],
        "duration": outcome.seconds_between(run["started"], run["ended"]),
        "cells": outcome.cell_durations(executed),
        "status": run["status"],
        "error": run["error"],
        "metrics": manifest.recorded_values(executed or {}),
        "series": manifest.recorded_series(executed or {}),
        "experiment": manifest.experiment_header(prepared.nb),
        "platform": manifest.platform_facts(),
        "env": manifest.numeric_env(declared=prepared.env_names),
        "timeout": request.timeout,
        "parent": request.parent,
        "sweep": request.sweep,
        "files": {
            "executed": EXECUTED if (out_dir / EXECUTED).is_file() else None,
            "patch": PATCH if (out_dir / PATCH).is_file() else None,
        },
    }


def execute_to_dir(request: RunRequest, out_dir: Path) -> dict[str, Any]:
    """``prepare`` + ``execute_prepared``: a manifest for a run in ``out_dir``, no ledger."""
    return execute_prepared(prepare(request), out_dir)


def execute(request: RunRequest) -> Run:
    """Prepare, execute and record one run in the ledger; returns the recorded ``Run``."""
    prepared = prepare(request)
    ledger = Ledger(Path(request.root).resolve(), _folder(request))
    with _signals_recorded():  # a late Ctrl-C must not leave a folder without a manifest
        run_id, run_dir = ledger.new_run_dir()
        result = execute_prepared(prepared, run_dir)
        return ledger.write(run_id, result, run_dir / EXECUTED)


__all__ = [
    "Prepared",
    "RunRequest",
    "execute",
    "execute_prepared",
    "execute_to_dir",
    "prepare",
]
