"""Experiment commands: rerun and sweep.

Each command parses, calls one library function in ``nbkit.runs``, prints, and returns an
exit code. The whole ``runs`` group (list, show, compare, plot) is ``nbkit.cli.runs``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nbkit.cli.output import say
from nbkit.cli.runs import _echo, _ledger, _say, export_recorded, run_options

if TYPE_CHECKING:
    from collections.abc import Callable

    from nbkit.runs.ledger import Ledger
    from nbkit.runs.rerun import RerunReport
    from nbkit.runs.sweep import Outcome, SweepSummary


# ---- rerun ----------------------------------------------------------------------------------


def _print_report(report: RerunReport) -> None:
    new = f" as run {report.new_run}" if report.new_run else ""
    _say(f"rerun of {report.original}{new}")
    for check in report.checks:
        status = "ok" if check.ok else "DIFF"
        lines = check.details or ("",)
        _say(f"  {check.name:12} {status:5}{lines[0]}")
        for line in lines[1:]:
            _say(f"  {'':12} {'':5}{line}")
        for line in check.volatile:
            _say(f"  {'':12} {'':5}volatile: {line}")
    for cause in report.causes:
        _say(f"likely cause: {cause}")
    verdict = f": {report.verdict}" if report.verdict else ""
    _say(("reproduced" if report.reproduced else "NOT reproduced") + verdict)


@click.command()
@click.argument("run_id")
@click.option(
    "--env",
    "env_mode",
    type=click.Choice(["current", "locked"]),
    default="current",
    show_default=True,
    help="Run in this environment, or build the run's locked environment.",
)
@click.option("--rtol", type=float, default=1e-7, show_default=True, help="Relative tolerance.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option("--twice", is_flag=True, help="Execute twice to expose unseeded randomness.")
@click.option(
    "--metrics-only",
    is_flag=True,
    help="Decide on the recorded metrics alone; output differences are reported only.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds each cell may run before the run is timed_out.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rerun(
    run_id: str,
    env_mode: str,
    rtol: float,
    atol: float,
    twice: bool,
    metrics_only: bool,
    timeout: float | None,
    as_json: bool,
) -> int:
    """Reproduce a recorded run; exit 0 only when it reproduced.

    The run's commit is checked out in a temporary git worktree (your tree is untouched),
    its uncommitted changes re-applied, its inputs' fingerprints verified, and the notebook
    executed with the recorded parameters as a new run linked to the original. Metrics are
    compared within --rtol/--atol, text outputs cell by cell, images by pixels; times,
    dates, durations, object addresses, progress bars and cells tagged `volatile` are
    reported as volatile, not as differences. The report names the likely cause of a
    difference (changed inputs, package drift, another Python, unseeded randomness).

    \b
    Examples:
      nbkit rerun 20240601-101500-a1b2c3
      nbkit rerun 20240601-101500-a1b2c3 --rtol 1e-4 --twice
      nbkit rerun 20240601-101500-a1b2c3 --metrics-only
      nbkit rerun 20240601-101500-a1b2c3 --env locked
    """
    from nbkit.runs.compare import Tolerance
    from nbkit.runs.rerun import RerunSettings
    from nbkit.runs.rerun import rerun as do_rerun

    settings = RerunSettings(
        env_mode, Tolerance(rtol=rtol, atol=atol), twice, timeout, metrics_only=metrics_only
    )
    ledger = _ledger()
    report = do_rerun(ledger, run_id, settings)
    if report.new_run:
        export_recorded(ledger.root, [ledger.get(report.new_run)])
    if as_json:
        say(json.dumps(report.to_json(), indent=1, ensure_ascii=False))
    else:
        _print_report(report)
    return 0 if report.reproduced else 1


# ---- sweep ----------------------------------------------------------------------------------


class _Progress:
    """tqdm's bar on a terminal (imported only then); one plain line per finished run
    otherwise, so a CI log reads as a list."""

    def __init__(self) -> None:
        self.failed = 0
        self.bar: Any = None
        self.tty = sys.stderr.isatty()

    def __call__(self, outcome: Outcome, done: int, total: int) -> None:
        if outcome.status != "succeeded":
            self.failed += 1
        if not self.tty:
            params = " ".join(f"{k}={v}" for k, v in outcome.parameters.items())
            _echo(f"[{done}/{total}] {params}: {outcome.status}")
            return
        if self.bar is None:
            import shutil

            from tqdm import tqdm

            # the size from COLUMNS/LINES or the terminal, else 80x24: a terminal that says
            # it is 0x0 (as some containers do) would otherwise hide the bar
            size = shutil.get_terminal_size()
            self.bar = tqdm(
                total=total, unit="run", file=sys.stderr, ncols=size.columns, nrows=size.lines
            )
        self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        self.bar.update(done - self.bar.n)
        if done == total:
            self.bar.close()


def _exporting(progress: _Progress, ledger: Ledger) -> Callable[[Outcome, int, int], None]:
    """The progress callback, exporting each recorded point when ``[tool.nbkit.runs]
    mlflow`` asks for it (a server that does not answer: one warning, the sweep goes on)."""
    from nbkit.runs.export import auto_export

    exporter = auto_export(ledger.root)
    if exporter is None:
        return progress

    def on_outcome(outcome: Outcome, done: int, total: int) -> None:
        progress(outcome, done, total)
        if outcome.run_id:
            warning = exporter(ledger.get(outcome.run_id))
            if warning:
                _echo(warning)

    return on_outcome


def _print_summary(summary: SweepSummary) -> None:
    for outcome in summary.outcomes:
        params = " ".join(f"{k}={v}" for k, v in outcome.parameters.items())
        run = outcome.run_id or "(no run recorded)"
        _say(f"{outcome.status:10} {run:24} {params}  {outcome.message}".rstrip())
    failed = len(summary.failed)
    say(
        f"{len(summary.outcomes)} runs, {len(summary.outcomes) - failed} succeeded, {failed} failed"
    )


@click.command()
@click.argument("notebook", type=click.Path(path_type=Path), required=False)
@click.option(
    "-p",
    "--param",
    "specs",
    multiple=True,
    metavar="NAME=V1,V2",
    help="A parameter and its values (YAML, comma-separated); the grid is every combination.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Local worker processes.",
)
@click.option(
    "--dask",
    "address",
    metavar="ADDRESS|FILE",
    help="Submit to this Dask scheduler (tcp://HOST:PORT or a scheduler file) instead.",
)
@click.option(
    "--dask-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the Dask scheduler to answer.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Dask: times a point is rerun when its task fails (a lost worker is always rerun).",
)
@click.option("--resume", "resume_id", metavar="SWEEP", help="Run the points of SWEEP not yet run.")
@click.option(
    "--detach",
    is_flag=True,
    help="With --dask: submit and return; nbkit runs collect SWEEP records the results.",
)
@run_options
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
def sweep(
    notebook: Path | None,
    specs: tuple[str, ...],
    workers: int,
    address: str | None,
    dask_timeout: float,
    retries: int,
    resume_id: str | None,
    detach: bool,
    kernel: str | None,
    timeout: float | None,
    inputs: tuple[str, ...],
    allow_dirty: bool,
    allow_unknown: bool,
    as_json: bool,
) -> int:
    """Run a notebook over a parameter grid, in parallel; every run goes into the ledger.

    Values are YAML (0.1 is a number, [1, 2] a list), split on commas. The sweep runs one
    snapshot taken when it starts (commit, uncommitted changes with --allow-dirty, the
    --inputs files): edits and commits made meanwhile do not reach it. Runs go to local
    worker processes (--workers), or to an existing Dask cluster with --dask (its workers
    need no access to the project). Each run is recorded as soon as it finishes; the sweep's
    id is printed first, and --resume SWEEP runs the points that have no successful run.
    A failed run does not stop the sweep; exit 1 when any run failed.

    \b
    Examples:
      nbkit sweep train.ipynb -p lr=0.1,0.01 -p depth=3,5
      nbkit sweep train.ipynb -p lr=0.1,0.01 --workers 4
      nbkit sweep train.ipynb -p seed=1,2,3 --dask tcp://scheduler:8786
      nbkit sweep --resume 20250301-101500-a1b2c3
    """
    from nbkit import config
    from nbkit.errors import UsageError
    from nbkit.runs import settings
    from nbkit.runs.ledger import Ledger
    from nbkit.runs.sweep import SweepSettings, parse_grid, prepare_sweep
    from nbkit.runs.sweep import sweep as do_sweep

    backend = "dask" if address else "local"
    if detach and not address:
        raise UsageError("--detach needs --dask ADDRESS (a cluster keeps the runs)", "nbkit sweep")
    if resume_id:
        if notebook is not None or specs:
            raise UsageError("--resume takes no notebook and no -p", "nbkit sweep")
        return _resume(resume_id, backend, workers, address, dask_timeout, retries, as_json)
    if notebook is None:
        raise UsageError("give a notebook (or --resume SWEEP)", "nbkit sweep")
    cfg = config.load(notebook.absolute().parent)
    defaults = settings(cfg)
    grid = parse_grid(specs)
    prepared = prepare_sweep(
        notebook,
        cfg.root,
        grid,
        kernel=kernel or defaults.kernel,
        timeout=timeout or defaults.timeout,
        inputs=inputs or defaults.inputs,
        allow_dirty=allow_dirty,
        allow_unknown=allow_unknown,
        ledger=defaults.ledger,
    )
    ledger = Ledger(cfg.root, defaults.ledger)
    settings_ = SweepSettings(
        prepared, grid, backend, workers, address, dask_timeout, retries=retries
    )
    if detach:
        from nbkit.runs.sweep import detach as do_detach

        sweep_id, snapshot, points = do_detach(settings_, ledger)
        _started(sweep_id, snapshot, points)
        _echo(f"submitted; record the results with: nbkit runs collect {sweep_id}")
        click.echo(sweep_id)
        return 0
    summary = do_sweep(settings_, ledger, _exporting(_Progress(), ledger), _started)
    return _report(summary, as_json)


def _started(sweep_id: str, snapshot: Any, points: int) -> None:
    commit = (snapshot.commit or "")[:12]
    _echo(f"sweep {sweep_id}: {points} runs of {commit} ({snapshot.size / 1e6:.1f} MB snapshot)")


def _resume(
    sweep_id: str,
    backend: str,
    workers: int,
    address: str | None,
    dask_timeout: float,
    retries: int,
    as_json: bool,
) -> int:
    from nbkit import config
    from nbkit.runs import resume, settings
    from nbkit.runs.ledger import Ledger
    from nbkit.runs.sweep import SweepSettings
    from nbkit.runs.sweep import sweep as do_sweep

    cfg = config.load()
    ledger = Ledger(cfg.root, settings(cfg).ledger)
    planned = resume.plan(ledger, sweep_id)
    if planned is None:
        _echo(f"sweep {sweep_id}: every point already has a successful run")
        return 0
    settings_ = SweepSettings(
        planned.prepared,
        planned.grid,
        backend,
        workers,
        address,
        dask_timeout,
        retries=retries,
        sweep_id=sweep_id,
        snapshot=planned.snapshot,
        indexes=planned.indexes,
    )
    summary = do_sweep(settings_, ledger, _exporting(_Progress(), ledger), _started)
    return _report(summary, as_json)


def _report(summary: SweepSummary, as_json: bool) -> int:
    if as_json:
        rows = [
            {
                "parameters": o.parameters,
                "status": o.status,
                "run": o.run_id,
                "message": o.message,
                "sweep": summary.sweep_id,
            }
            for o in summary.outcomes
        ]
        say(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        _print_summary(summary)
    return 1 if summary.failed else 0
