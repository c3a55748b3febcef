"""Parameter sweeps: a grid of runs over an executor (local processes, or a Dask cluster).

Every backend runs the same task, ``run_task``: execute one notebook into a temporary folder
and hand back its manifest and the executed notebook's bytes. Only the submitting process
writes the ledger, so a cluster worker needs no write access to the repository and two
workers can never race on it. A failed run never stops the sweep.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nbkit.errors import BadInput, NbkitError
from nbkit.runs.params import parse_value

if TYPE_CHECKING:
    from nbkit.runs.execute import RunRequest
    from nbkit.runs.ledger import Ledger

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
    """One sweep: the base request (notebook, root, kernel...) and the grid over it."""

    request: RunRequest
    grid: tuple[dict[str, Any], ...]
    backend: str = "local"  # a key of EXECUTORS
    workers: int = 2
    address: str | None = None  # the Dask scheduler, for backend "dask"
    connect_timeout: float = DASK_CONNECT_TIMEOUT


@dataclass(frozen=True)
class SweepSummary:
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

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


def build_request(
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
) -> RunRequest:
    """The request every grid point shares, checked here for every point (notebook,
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
    return request


# ---- the task every backend runs ------------------------------------------------------------


def run_task(index: int, request: RunRequest) -> TaskResult:
    """Execute one grid point into a temporary folder; never raises (a failure is data)."""
    from nbkit.runs.execute import execute_to_dir

    try:
        with tempfile.TemporaryDirectory(prefix="nbkit-sweep-") as tmp:
            manifest = execute_to_dir(request, Path(tmp))
            files = {
                name: (Path(tmp) / name).read_bytes()
                for name in (manifest.get("files") or {}).values()
                if isinstance(name, str) and (Path(tmp) / name).is_file()
            }
        return TaskResult(index, request.parameters, manifest, files)
    except NbkitError as exc:
        return TaskResult(index, request.parameters, None, {}, str(exc))
    except Exception as exc:  # a worker must report, not die: the sweep goes on
        return TaskResult(index, request.parameters, None, {}, f"{type(exc).__name__}: {exc}")


def _warm_up() -> None:
    """Import the execution stack once per worker process, not once per run."""
    import nbkit.runs.execute  # noqa: F401


# ---- executors ------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs ``run_task`` for every request and yields results as they finish."""

    def results(
        self, requests: Sequence[RunRequest], settings: SweepSettings
    ) -> Iterator[TaskResult]: ...


def _run_marked(index: int, request: RunRequest, marks: str) -> TaskResult:
    """``run_task``, leaving a mark first: if the worker dies, the parent knows which runs
    were on a worker at the time (suspects) and which never started (innocent)."""
    (Path(marks) / str(index)).touch()
    return run_task(index, request)


class LocalExecutor:
    """A pool of worker processes, reused across runs (each imports papermill once).

    A worker that dies (a notebook killing its parent, the out-of-memory killer) breaks the
    whole pool. The sweep goes on: runs that never started go to a fresh pool, and runs that
    were on a worker when it died are retried one at a time, each in its own process, so
    only the run that kills its worker fails.
    """

    def results(
        self, requests: Sequence[RunRequest], settings: SweepSettings
    ) -> Iterator[TaskResult]:
        queue = list(range(len(requests)))
        with tempfile.TemporaryDirectory(prefix="nbkit-sweep-marks-") as marks:
            while queue:
                workers = max(1, min(settings.workers, len(queue)))
                lost = yield from self._round(requests, queue, workers, marks)
                started = {i for i in lost if (Path(marks) / str(i)).exists()}
                for index in sorted(started):  # suspects: alone, one after the other
                    alone = yield from self._round(requests, [index], 1, marks)
                    if alone:
                        params = requests[index].parameters
                        yield TaskResult(index, params, None, {}, "its worker process died")
                queue = [i for i in lost if i not in started]

    def _round(
        self, requests: Sequence[RunRequest], indexes: list[int], workers: int, marks: str
    ) -> Generator[TaskResult, None, list[int]]:
        """Run ``indexes`` on a fresh pool; returns the indexes lost to a broken pool."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        # spawn: a forked child would inherit the parent's threads and open kernels' sockets
        context = multiprocessing.get_context("spawn")
        lost: list[int] = []
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_warm_up) as pool:
            futures = {pool.submit(_run_marked, i, requests[i], marks): i for i in indexes}
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        lost.append(index)
                    except Exception as exc:  # e.g. a result that cannot be pickled
                        params = requests[index].parameters
                        yield TaskResult(index, params, None, {}, f"worker failed: {exc}")
            except BaseException:  # Ctrl-C: start no new run; running ones end as interrupted
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return lost


class DaskExecutor:
    """Submit the same tasks to an existing Dask cluster; results stream back as they finish.

    Workers must see the project folder at the same path (same machine or a shared
    filesystem): the task reads the notebook and its inputs there.
    """

    def results(
        self, requests: Sequence[RunRequest], settings: SweepSettings
    ) -> Iterator[TaskResult]:
        client = connect(settings.address or "", settings.connect_timeout)
        try:
            import uuid

            from distributed import as_completed

            sweep_id = uuid.uuid4().hex[:12]  # task keys unique across sweeps on one cluster
            futures = {
                client.submit(run_task, i, r, pure=False, key=f"nbkit-run-{sweep_id}-{i}"): i
                for i, r in enumerate(requests)
            }
            for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                index = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # lost worker, unpicklable result
                    params = requests[index].parameters
                    yield TaskResult(index, params, None, {}, f"dask task failed: {exc}")
        finally:
            client.close()


def connect(address: str, timeout: float) -> Any:
    """A Dask client, or ``BadInput`` within ``timeout`` seconds when nobody answers."""
    from nbkit.errors import require

    require("distributed", "run", "nbkit sweep --dask")
    from distributed import Client

    if not address or any(c.isspace() for c in address):
        raise BadInput("expected a scheduler address such as tcp://HOST:8786", "--dask")
    try:
        return Client(address, timeout=f"{timeout}s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadInput(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({type(exc).__name__})",
            "--dask",
            hint="start one with: dask scheduler (and dask worker ADDRESS), or check the address",
        ) from None


EXECUTORS: dict[str, Callable[[], Executor]] = {
    "local": LocalExecutor,
    "dask": DaskExecutor,
}


# ---- the sweep ------------------------------------------------------------------------------


def _record(ledger: Ledger, result: TaskResult) -> Outcome:
    """Write one result into the ledger (the submitting process only)."""
    if result.manifest is None:
        return Outcome(result.index, result.parameters, "error", None, result.error or "failed")
    from nbkit.fsutil import atomic_write_bytes

    run_id, run_dir = ledger.new_run_dir()
    for name, data in result.files.items():
        atomic_write_bytes(run_dir / Path(name).name, data)
    executed = (result.manifest.get("files") or {}).get("executed")
    nb_path = run_dir / str(executed) if executed in result.files else None
    run = ledger.write(run_id, result.manifest, nb_path)
    status = str(run.manifest.get("status", "failed"))
    error = run.manifest.get("error") or {}
    if status == "succeeded":
        metrics = run.manifest.get("metrics") or {}
        message = ", ".join(f"{k}={v}" for k, v in metrics.items())
    else:
        message = f"{error.get('ename', '')}: {error.get('evalue', '')}".strip(": ")
    return Outcome(result.index, result.parameters, status, run.id, message)


def sweep(
    settings: SweepSettings,
    ledger: Ledger,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
) -> SweepSummary:
    """Run every grid point; ``on_outcome(outcome, done, total)`` reports progress."""
    if settings.backend not in EXECUTORS:
        known = ", ".join(sorted(EXECUTORS))
        raise BadInput(f"unknown executor {settings.backend!r} (known: {known})", "--backend")
    if settings.workers < 1:
        raise BadInput("must be at least 1", "--workers")
    requests = [
        replace(settings.request, parameters={**settings.request.parameters, **point})
        for point in settings.grid
    ]
    outcomes: list[Outcome] = []
    for result in EXECUTORS[settings.backend]().results(requests, settings):
        outcome = _record(ledger, result)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome, len(outcomes), len(requests))
    return SweepSummary(tuple(sorted(outcomes, key=lambda o: o.index)))
