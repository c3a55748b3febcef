"""Parameter sweeps: a grid of runs over an executor (local processes, or a Dask cluster).

A sweep runs one snapshot (``nbkit.runs.snapshot``): the commit, dirty patch and declared
inputs resolved once at submit. Each point is prepared on the submitter; every backend runs
the same task, ``run_task``: unpack the snapshot into a private folder, execute the point
there and hand back its manifest and the executed notebook's bytes. Only the submitting process
writes the ledger, so a cluster worker needs no write access to the repository and two
workers can never race on it. A failed run never stops the sweep.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nbkit.errors import BadInput, NbkitError
from nbkit.runs.params import parse_value

if TYPE_CHECKING:
    from nbkit.runs.execute import Prepared
    from nbkit.runs.ledger import Ledger
    from nbkit.runs.snapshot import Snapshot

TASK_PREFIX = "nbkit-run-"  # task keys: nbkit-run-<sweep id>-<grid index>
MAX_GRID = 10_000  # a typo must not queue a million kernels
DASK_CONNECT_TIMEOUT = 10.0  # seconds before an address that does not answer is an error


@dataclass(frozen=True)
class TaskResult:
    """What a worker sends back: plain data, so it pickles across processes and machines."""

    index: int
    parameters: dict[str, Any]
    manifest: dict[str, Any] | None
    files: dict[str, bytes]  # the run's files (executed notebook, dirty patch) by name
    error: str | None = None  # set when no manifest could be produced at all


@dataclass(frozen=True)
class Outcome:
    """One grid point after the ledger was written."""

    index: int
    parameters: dict[str, Any]
    status: str  # succeeded | failed | interrupted | error
    run_id: str | None
    message: str  # the error, or the metrics in short


@dataclass(frozen=True)
class SweepSettings:
    """One sweep: the prepared base run (notebook, root, kernel...) and the grid over it.
    ``sweep_id``, ``snapshot`` and ``indexes`` are set to resume a recorded sweep."""

    prepared: Prepared
    grid: tuple[dict[str, Any], ...]
    backend: str = "local"  # a key of EXECUTORS
    workers: int = 2
    address: str | None = None  # the Dask scheduler or scheduler file, for backend "dask"
    connect_timeout: float = DASK_CONNECT_TIMEOUT
    retries: int = 1  # Dask: reruns of a point whose task raised
    sweep_id: str | None = None
    snapshot: Snapshot | None = None
    indexes: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SweepSummary:
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)
    sweep_id: str = ""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != "succeeded"]


# ---- the grid -------------------------------------------------------------------------------


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes, so ``[1,2],[3,4]`` is two values."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"" and not "".join(current).strip():  # a quoted value, not "it's"
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_grid(specs: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """``["lr=0.1,0.01", "depth=3,5"]`` -> the cartesian product as parameter dicts."""
    axes: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise BadInput("expected NAME=VALUE[,VALUE...]", f"-p {spec}", hint="-p lr=0.1,0.01")
        if name in axes:
            raise BadInput(f"parameter {name!r} given twice", f"-p {spec}")
        pieces = _split_values(raw)
        if not any(pieces):
            raise BadInput(f"no values for {name!r}", f"-p {spec}", hint="-p lr=0.1,0.01")
        axes[name] = [parse_value(v, f"-p {name}") for v in pieces]
    if not axes:
        return ()  # no -p: no grid (itertools.product would give one empty point)
    size = math.prod(len(values) for values in axes.values())
    if size > MAX_GRID:
        raise BadInput(f"the grid has {size:,} points, more than {MAX_GRID:,}", "-p")
    names = list(axes)
    return tuple(
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())
    )


def prepare_sweep(
    notebook: Path,
    root: Path,
    grid: Sequence[dict[str, Any]],
    *,
    kernel: str | None = None,
    timeout: float | None = None,
    inputs: Sequence[str] = (),
    allow_dirty: bool = False,
    allow_unknown: bool = False,
    ledger: str | None = None,
) -> Prepared:
    """The prepared run every grid point shares, checked here for every point (notebook,
    parameters, kernel, git state, inputs) so bad input fails once, before any kernel
    starts, instead of N times in the workers."""
    from nbkit.runs import params
    from nbkit.runs.execute import RunRequest, prepare

    if not grid:
        raise BadInput("no parameter grid given", "-p", hint="-p lr=0.1,0.01 -p depth=3,5")
    request = RunRequest(
        notebook=notebook.resolve(),
        root=root,
        kernel=kernel,
        timeout=timeout,
        allow_dirty=allow_dirty,
        allow_unknown=allow_unknown,
        inputs=tuple(inputs),
        ledger_dir=Path(ledger) if ledger else None,
    )
    prepared = prepare(replace(request, parameters=dict(grid[0])))
    for point in grid[1:]:  # the rest differ only in parameters: no need to re-check git
        params.check(prepared.nb, prepared.notebook, point, allow_unknown=allow_unknown)
    return replace(prepared, request=request)


def point(prepared: Prepared, parameters: dict[str, Any]) -> Prepared:
    """One grid point: the shared prepared run with its parameters (no re-check, no git)."""
    request = replace(prepared.request, parameters={**prepared.request.parameters, **parameters})
    return replace(prepared, request=request)


# ---- the task every backend runs ------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _load(path: str) -> Snapshot:
    """A snapshot a local sweep left in a file (read once per worker process)."""
    with open(path, "rb") as fh:
        value: Snapshot = pickle.load(fh)
    return value


def run_task(index: int, prepared: Prepared, snapshot: Snapshot | str) -> TaskResult:
    """Check the snapshot out into a private folder (``snapshot.checkout``: unpacked once
    per worker thread), execute one grid point there, hand back the manifest and files;
    never raises (a failure is data). ``snapshot`` is the value
    (Dask ships it) or the file a local sweep wrote it to."""
    from nbkit.runs import snapshot as snap
    from nbkit.runs.execute import execute_prepared

    params = dict(prepared.request.parameters)
    try:
        value = _load(snapshot) if isinstance(snapshot, str) else snapshot
        with (
            tempfile.TemporaryDirectory(prefix="nbkit-sweep-") as tmp,
            snap.checkout(value, Path(tmp) / "project") as root,
        ):
            out = Path(tmp) / "out"
            manifest = execute_prepared(snap.relocate(prepared, value, root), out)
            files = {
                name: (out / name).read_bytes()
                for name in (manifest.get("files") or {}).values()
                if isinstance(name, str) and (out / name).is_file()
            }
        return TaskResult(index, params, manifest, files)
    except NbkitError as exc:  # one line, with its hint: the worker's user can act on it
        return TaskResult(index, params, None, {}, exc.one_line())
    except Exception as exc:  # a worker must report, not die: the sweep goes on
        return TaskResult(index, params, None, {}, f"{type(exc).__name__}: {exc}")


def _warm_up() -> None:
    """Import the execution stack once per worker process, not once per run."""
    import nbkit.runs.execute  # noqa: F401


# ---- executors ------------------------------------------------------------------------------

Points = dict[int, "Prepared"]  # grid index -> the prepared point


class Executor(Protocol):
    """Runs ``run_task`` for every point and yields results as they finish. ``start`` checks
    the backend can be used (a cluster answers) before anything is recorded."""

    def start(self, settings: SweepSettings) -> None: ...

    def results(
        self, points: Points, snapshot: Snapshot, settings: SweepSettings
    ) -> Iterator[TaskResult]: ...


def _run_marked(index: int, prepared: Prepared, snapshot: str, marks: str) -> TaskResult:
    """``run_task``, leaving a mark first: if the worker dies, the parent knows which runs
    were on a worker at the time (suspects) and which never started (innocent)."""
    (Path(marks) / str(index)).touch()
    return run_task(index, prepared, snapshot)


def _lost(index: int, prepared: Prepared, why: str) -> TaskResult:
    return TaskResult(index, dict(prepared.request.parameters), None, {}, why)


class LocalExecutor:
    """A pool of worker processes, reused across runs (each imports papermill once).

    The snapshot is written once to a private file the workers read (same machine): the
    pool's pipes carry only the small per-point values.

    A worker that dies (a notebook killing its parent, the out-of-memory killer) breaks the
    whole pool. The sweep goes on: runs that never started go to a fresh pool, and runs that
    were on a worker when it died are retried one at a time, each in its own process, so
    only the run that kills its worker fails.
    """

    def start(self, settings: SweepSettings) -> None:
        pass

    def results(
        self, points: Points, snapshot: Snapshot, settings: SweepSettings
    ) -> Iterator[TaskResult]:
        queue = sorted(points)
        with tempfile.TemporaryDirectory(prefix="nbkit-sweep-marks-") as marks:
            shipped = str(Path(marks) / "snapshot.pickle")
            with open(shipped, "wb") as fh:  # private temp file, read by our own workers
                pickle.dump(snapshot, fh, protocol=pickle.HIGHEST_PROTOCOL)
            while queue:
                workers = max(1, min(settings.workers, len(queue)))
                lost = yield from self._round(points, queue, workers, shipped, marks)
                started = {i for i in lost if (Path(marks) / str(i)).exists()}
                for index in sorted(started):  # suspects: alone, one after the other
                    alone = yield from self._round(points, [index], 1, shipped, marks)
                    if alone:
                        yield _lost(index, points[index], "its worker process died")
                queue = [i for i in lost if i not in started]

    def _round(
        self, points: Points, indexes: list[int], workers: int, shipped: str, marks: str
    ) -> Generator[TaskResult, None, list[int]]:
        """Run ``indexes`` on a fresh pool; returns the indexes lost to a broken pool."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        # spawn: a forked child would inherit the parent's threads and open kernels' sockets
        context = multiprocessing.get_context("spawn")
        lost: list[int] = []
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_warm_up) as pool:
            futures = {pool.submit(_run_marked, i, points[i], shipped, marks): i for i in indexes}
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        lost.append(index)
                    except Exception as exc:  # e.g. a result that cannot be pickled
                        yield _lost(index, points[index], f"worker failed: {exc}")
            except BaseException:  # Ctrl-C: start no new run; running ones end as interrupted
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return lost


class DaskExecutor:
    """Submit the points to an existing Dask cluster; results stream back as they finish.

    The snapshot is uploaded once per sweep and every task unpacks it into a
    private folder on its worker: workers need no shared filesystem and no checkout, only
    nbkit (with the ``run`` extra) and a kernel. Tasks carry ``retries``, and the scheduler
    reruns the task of a worker that was lost.
    """

    def __init__(self) -> None:
        self.client: Any = None

    def start(self, settings: SweepSettings) -> None:
        self.client = connect(settings.address or "", settings.connect_timeout)

    def submit(self, points: Points, snapshot: Snapshot, settings: SweepSettings) -> dict[Any, int]:
        """Submit every point; future -> grid index."""
        client = self.client
        # uploaded once, as a task's argument: the scheduler keeps it, so a worker that
        # dies with the unpacked value is recomputed from it (scatter would lose it)
        shipped = client.submit(
            _same, snapshot, pure=False, key=f"nbkit-snapshot-{settings.sweep_id}"
        )
        return {
            client.submit(
                run_task,
                i,
                prepared,
                shipped,
                pure=False,
                retries=settings.retries,
                key=f"{TASK_PREFIX}{settings.sweep_id}-{i}",  # unique across sweeps
            ): i
            for i, prepared in points.items()
        }

    def results(
        self, points: Points, snapshot: Snapshot, settings: SweepSettings
    ) -> Iterator[TaskResult]:
        client = self.client
        try:
            from distributed import as_completed

            futures = self.submit(points, snapshot, settings)
            for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                index = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # lost worker too often, unpicklable result
                    yield _lost(index, points[index], f"dask task failed: {exc}")
        finally:
            client.close()


def _same(value: Snapshot) -> Snapshot:
    return value


def connect(address: str, timeout: float) -> Any:
    """A Dask client, or ``BadInput`` within ``timeout`` seconds when nobody answers.
    ``address`` is ``tcp://HOST:PORT`` (or another Dask protocol) or a scheduler file (the
    JSON ``dask scheduler --scheduler-file`` writes)."""
    from nbkit.errors import require

    require("distributed", "run", "nbkit sweep --dask")
    from distributed import Client

    if not address or any(c.isspace() for c in address):
        raise BadInput("expected a scheduler address such as tcp://HOST:8786", "--dask")
    where = {"address": address}
    if "://" not in address and (address.endswith(".json") or os.path.isfile(address)):
        where = {"scheduler_file": _scheduler_file(address)}
    try:
        return Client(**where, timeout=f"{timeout}s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadInput(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({type(exc).__name__})",
            "--dask",
            hint="start one with: dask scheduler (and dask worker ADDRESS), or check the address",
        ) from None
    except Exception as exc:  # a version mismatch, a protocol error: still the user's setup
        raise BadInput(
            f"cannot use the Dask cluster at {address}: {type(exc).__name__}: "
            + str(exc).splitlines()[0][:200],
            "--dask",
            hint="the scheduler, its workers and this machine need compatible dask/distributed",
        ) from None


def _scheduler_file(path: str) -> str:
    """A scheduler file must exist and name an address (else Dask waits for it forever)."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(
            "no such scheduler file", path, hint="dask scheduler --scheduler-file PATH writes it"
        ) from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"not a Dask scheduler file: {str(exc)[:120]}", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("address"), str):
        raise BadInput("not a Dask scheduler file (no address)", path)
    return path


EXECUTORS: dict[str, Callable[[], Executor]] = {
    "local": LocalExecutor,
    "dask": DaskExecutor,
}


# ---- the sweep ------------------------------------------------------------------------------


def _record(ledger: Ledger, result: TaskResult, sweep_id: str, tree: str) -> Outcome:
    """Write one result into the ledger (the submitting process only), as soon as it is
    back: a killed submitter loses only the points still running."""
    if result.manifest is None:
        return Outcome(result.index, result.parameters, "error", None, result.error or "failed")
    from nbkit.fsutil import atomic_write_bytes

    run_id, run_dir = ledger.new_run_dir()
    for name, data in result.files.items():
        atomic_write_bytes(run_dir / Path(name).name, data)
    executed = (result.manifest.get("files") or {}).get("executed")
    nb_path = run_dir / str(executed) if executed in result.files else None
    tag = {"sweep": sweep_id, "sweep_index": result.index, "snapshot": tree}
    run = ledger.write(run_id, {**result.manifest, **tag}, nb_path)
    status = str(run.manifest.get("status", "failed"))
    error = run.manifest.get("error") or {}
    if status == "succeeded":
        metrics = run.manifest.get("metrics") or {}
        message = ", ".join(f"{k}={v}" for k, v in metrics.items())
    else:
        message = f"{error.get('ename', '')}: {error.get('evalue', '')}".strip(": ")
    return Outcome(result.index, result.parameters, status, run.id, message)


def new_sweep_id() -> str:
    import secrets
    import time

    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def _begin(
    settings: SweepSettings, ledger: Ledger
) -> tuple[Executor, SweepSettings, Snapshot, Points]:
    """Check the backend and the store, take (or reuse) the snapshot, record a new sweep."""
    from nbkit.runs import artifacts, resume
    from nbkit.runs import snapshot as snap

    if settings.backend not in EXECUTORS:
        known = ", ".join(sorted(EXECUTORS))
        raise BadInput(f"unknown executor {settings.backend!r} (known: {known})", "--backend")
    if settings.workers < 1:
        raise BadInput("must be at least 1", "--workers")
    executor = EXECUTORS[settings.backend]()
    executor.start(settings)
    root = Path(settings.prepared.request.root).resolve()
    artifacts.check_writable(root, ledger.store)  # before anything runs: results need a place
    sweep_id = settings.sweep_id or new_sweep_id()
    snapshot = settings.snapshot or snap.take(root, settings.prepared, ledger.dir)
    indexes = settings.indexes if settings.indexes is not None else range(len(settings.grid))
    points = {i: point(settings.prepared, settings.grid[i]) for i in indexes}
    if settings.sweep_id is None:  # a new sweep: recorded before any point runs
        snap.pin(root, sweep_id, snapshot)
        resume.write_record(
            ledger, sweep_id, settings.prepared, settings.grid, snapshot, settings.address
        )
    return executor, replace(settings, sweep_id=sweep_id), snapshot, points


def sweep(
    settings: SweepSettings,
    ledger: Ledger,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
    on_start: Callable[[str, Snapshot, int], None] | None = None,
) -> SweepSummary:
    """Run the grid points on one snapshot; ``on_start(sweep_id, snapshot, points)`` once it
    is taken and recorded, ``on_outcome(outcome, done, total)`` for progress."""
    executor, run, snapshot, points = _begin(settings, ledger)
    sweep_id = str(run.sweep_id)
    if on_start is not None:
        on_start(sweep_id, snapshot, len(points))
    outcomes: list[Outcome] = []
    for result in executor.results(points, snapshot, run):
        outcome = _record(ledger, result, sweep_id, snapshot.tree)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome, len(outcomes), len(points))
    return SweepSummary(tuple(sorted(outcomes, key=lambda o: o.index)), sweep_id)


# ---- detached sweeps on a cluster -----------------------------------------------------------


def _dataset(sweep_id: str) -> str:
    return f"nbkit-sweep-{sweep_id}"


def detach(settings: SweepSettings, ledger: Ledger) -> tuple[str, Snapshot, int]:
    """Submit the sweep to the Dask cluster and return without waiting: the futures are
    published on the scheduler (they outlive this process) for ``collect``."""
    executor, run, snapshot, points = _begin(settings, ledger)
    if not isinstance(executor, DaskExecutor):
        raise BadInput("a detached sweep needs a cluster", "--detach", hint="add --dask ADDRESS")
    try:
        futures = executor.submit(points, snapshot, run)
        executor.client.publish_dataset(list(futures), name=_dataset(str(run.sweep_id)))
    finally:
        executor.client.close()
    return str(run.sweep_id), snapshot, len(points)


@dataclass(frozen=True)
class Collected:
    summary: SweepSummary
    pending: int  # points still running on the cluster


def collect(
    ledger: Ledger,
    sweep_id: str,
    address: str | None = None,
    timeout: float = DASK_CONNECT_TIMEOUT,
    wait: bool = False,
) -> Collected:
    """Record the finished points of a detached sweep (each once); with ``wait``, wait for
    the rest. When none is left the sweep is unpublished from the scheduler."""
    from nbkit.runs import resume

    record = resume.read_record(ledger, sweep_id)
    where = address or record.get("dask")
    if not where:
        raise BadInput(
            f"sweep {sweep_id} was not submitted to a cluster", "--dask", hint="give --dask ADDRESS"
        )
    tree = str((record.get("snapshot") or {}).get("tree"))
    recorded = resume.recorded_points(ledger, sweep_id, str(record["notebook"]))
    client = connect(str(where), timeout)
    try:
        try:
            futures = client.get_dataset(_dataset(sweep_id))
        except KeyError:
            raise BadInput(
                f"sweep {sweep_id} is not on the cluster at {where} (collected already, or the"
                " scheduler restarted)",
                "--dask",
                hint=f"nbkit sweep --resume {sweep_id} runs the points without a successful run",
            ) from None
        outcomes, pending = [], 0
        for future in futures:
            index = int(str(future.key).rsplit("-", 1)[1])
            if index in recorded:
                continue
            if not wait and not future.done():
                pending += 1
                continue
            try:
                result = future.result()
            except Exception as exc:  # lost worker too often, unpicklable result
                result = TaskResult(
                    index, dict(record["grid"][index]), None, {}, f"dask task failed: {exc}"
                )
            outcomes.append(_record(ledger, result, sweep_id, tree))
        if not pending:
            client.unpublish_dataset(_dataset(sweep_id))
    finally:
        client.close()
    return Collected(
        SweepSummary(tuple(sorted(outcomes, key=lambda o: o.index)), sweep_id), pending
    )
