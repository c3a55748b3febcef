"""``nbkit runs push`` / ``fetch`` (the artifact store), ``nbkit runs export`` (MLflow) and
``nbkit runs collect`` (a detached sweep).

Added to the ``runs`` group at the end of ``nbkit.cli.runs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from nbkit.runs.ledger import Ledger

EXECUTED = "executed.ipynb"


def _root_and_ledger() -> tuple[Path, Ledger]:
    from nbkit import config
    from nbkit.runs import settings
    from nbkit.runs.ledger import Ledger

    cfg = config.load()
    return cfg.root, Ledger(cfg.root, settings(cfg).ledger)


@click.command()
@click.argument("remote", required=False)
def push(remote: str | None) -> int:
    """Share run artifacts (executed notebooks, figures): push refs/nbkit/* to REMOTE.

    Manifests travel with your branch; the executed notebooks live in git refs outside it
    (refs/nbkit/runs/ID) and travel with this command. REMOTE defaults to origin. With a
    folder or URL store ([tool.nbkit.runs] artifacts), stores the runs it lacks there.

    \b
    Examples:
      nbkit runs push
      nbkit runs push upstream
    """
    from nbkit.runs import artifacts

    root, ledger = _root_and_ledger()
    store = ledger.store
    if store is not None:
        artifacts.no_remote(store, remote)
    stored = store.stored_runs() if store is not None else artifacts.stored_runs(root)
    missing = {  # runs recorded where the store could not be written: stored now
        run.name: {EXECUTED: run / EXECUTED}
        for run in sorted(ledger.dir.glob("*/"))
        if run.name not in stored and (run / EXECUTED).is_file()
    }
    if store is not None:
        done = artifacts.push_content(store, missing)
        click.echo(
            f"stored run artifacts ({done} new runs, {len(stored) + done} in all) in "
            f"{store.location}",
            err=True,
        )
        return 0
    name = artifacts.push(root, remote, missing)
    click.echo(f"pushed run artifacts ({len(stored | missing.keys())} runs) to {name}", err=True)
    return 0


@click.command()
@click.argument("remote", required=False)
def fetch(remote: str | None) -> int:
    """Bring teammates' run artifacts: fetch refs/nbkit/* from REMOTE (default origin), or
    every missing executed notebook from a folder or URL store.

    `runs show`, `compare` and `rerun` also fetch one run's files on demand.

    \b
    Examples:
      nbkit runs fetch
    """
    from nbkit.runs import artifacts

    root, ledger = _root_and_ledger()
    store = ledger.store
    if store is not None:
        artifacts.no_remote(store, remote)
        restored, absent = artifacts.fetch_content(store, ledger.dir, EXECUTED)
        more = f"; {absent} runs have none there (nbkit runs push shares them)" if absent else ""
        click.echo(f"fetched run artifacts from {store.location}: {restored} files{more}", err=True)
        return 0
    before = artifacts.stored_runs(root)
    name = artifacts.fetch(root, remote)
    new = len(artifacts.stored_runs(root) - before)
    click.echo(f"fetched run artifacts from {name}: {new} new runs", err=True)
    return 0


@click.command()
@click.argument("run_ids", nargs=-1, metavar="[IDS]...")
@click.option("--mlflow", "uri", required=True, metavar="URI", help="MLflow tracking URI.")
@click.option(
    "--experiment", metavar="NAME", help="MLflow experiment (default: the run's notebook path)."
)
def export(run_ids: tuple[str, ...], uri: str, experiment: str | None) -> int:
    """Log runs to MLflow: parameters, metrics, tags and the executed notebook.

    Every recorded run when no IDS are given. A run exported again is found by its tag
    nbkit.run_id and only its tags are refreshed: one MLflow run per nbkit run. Needs
    the mlflow extra (pip install 'nbkit-git[mlflow]').

    \b
    Examples:
      nbkit runs export --mlflow http://127.0.0.1:5000
      nbkit runs export --mlflow http://mlflow:5000 20250301-101500-a1b2c3 --experiment cnn
    """
    from nbkit.runs.export import export as do_export

    _, ledger = _root_and_ledger()
    done = do_export(ledger, uri, run_ids, experiment)
    for item in done:
        verb = "exported" if item.created else "already there, tags refreshed"
        click.echo(f"{item.run_id} -> {item.mlflow_run_id} ({verb})")
    created = sum(1 for i in done if i.created)
    click.echo(f"{len(done)} runs, {created} new in MLflow at {uri}", err=True)
    return 0


@click.command()
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--dask", "address", metavar="ADDRESS|FILE", help="The cluster (default: recorded).")
@click.option(
    "--dask-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the Dask scheduler to answer.",
)
@click.option("--wait", is_flag=True, help="Wait for the points still running.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
def collect(
    sweep_id: str, address: str | None, dask_timeout: float, wait: bool, as_json: bool
) -> int:
    """Record the finished runs of a detached sweep (nbkit sweep --dask ... --detach).

    Each finished point is recorded once; points still running are counted (--wait waits
    for them). Exit 1 when a collected run failed.

    \b
    Examples:
      nbkit runs collect 20250301-101500-a1b2c3
      nbkit runs collect 20250301-101500-a1b2c3 --wait
    """
    from nbkit.cli.experiments import _report
    from nbkit.cli.runs import export_recorded
    from nbkit.runs.sweep import collect as do_collect

    _, ledger = _root_and_ledger()
    collected = do_collect(ledger, sweep_id, address, dask_timeout, wait)
    recorded = [o.run_id for o in collected.summary.outcomes if o.run_id]
    export_recorded(ledger.root, [ledger.get(i) for i in recorded])
    if collected.pending:
        click.echo(f"sweep {sweep_id}: {collected.pending} runs still running", err=True)
    return _report(collected.summary, as_json)
