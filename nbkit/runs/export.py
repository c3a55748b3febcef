"""The MLflow bridge: ``nbkit runs export --mlflow URI`` logs recorded runs to a tracking
server, so a team that tracks experiments in MLflow sees nbkit's runs there.

Each nbkit run becomes one MLflow run, found again by its tag ``nbkit.run_id``: exporting
twice creates nothing new (the tags are refreshed, so a later rerun verdict arrives). The
manifest is the source; ``mlflow`` is imported here only (the ``mlflow`` extra), never on a
hook path.

Exporting as runs are recorded sends parameters and executed notebooks to a server, so it
follows the user's own choice only: ``NBKIT_MLFLOW`` (or ``--mlflow`` of ``runs export``). A
repository's ``[tool.nbkit.runs] mlflow`` is never followed by itself, whatever it names
(a loopback port may be another local service, a ``file:`` store a folder anywhere): the run
is recorded and one warning says the setting was ignored and how to consent.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbkit.errors import BadInput, NbkitError
from nbkit.runs.ledger import Ledger, Run

RUN_TAG = "nbkit.run_id"
ENV = "NBKIT_MLFLOW"  # the user's own tracking URI ("none": no export); wins over the config
_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "timed_out": "FAILED"}
_MAX_PARAM = 500  # MLflow's safe limit for a parameter value on every backend


@dataclass(frozen=True)
class Exported:
    run_id: str
    mlflow_run_id: str
    created: bool  # False: it was there already (tags refreshed)


def _client(uri: str) -> Any:
    from nbkit.errors import require

    require("mlflow", "mlflow", "nbkit runs export --mlflow")
    _reachable(uri)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _reachable(uri: str, timeout: float = 5.0) -> None:
    """An HTTP tracking server answers its health check, or one line with a hint (MLflow's
    own client would retry with back-off for minutes first)."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return  # a local store (file:, sqlite:): MLflow reports its own errors
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as answer:
            answer.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BadInput(
            f"no MLflow tracking server answered at {uri} ({reason})",
            "--mlflow",
            hint="start one with: mlflow server --host 127.0.0.1 --port 5000, or check the URI",
        ) from None


def _millis(stamp: Any) -> int | None:
    try:
        return int(datetime.datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return None


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 1] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metric_steps(run: Run) -> dict[str, list[tuple[int, float]]]:
    """Each numeric metric as (step, value) points: the series recorded with
    ``nbkit.record(name, value, step=N)``, else the recorded value (a list of numbers is a
    series of steps 0, 1, ...)."""
    m = run.manifest
    found: dict[str, list[tuple[int, float]]] = {}
    for name, pairs in (m.get("series") or {}).items():
        points = [
            (pair[0], number)
            for pair in pairs or []
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int)
            if (number := _number(pair[1])) is not None
        ]
        if points:
            found[str(name)] = points
    for name, value in (m.get("metrics") or {}).items():
        if name not in found and (values := _values(value)):
            found[name] = list(enumerate(values))
    return found


def _values(value: Any) -> list[float]:
    if isinstance(value, list):
        numbers = [_number(v) for v in value]
        return [n for n in numbers if n is not None] if None not in numbers else []
    number = _number(value)
    return [] if number is None else [number]


def tags(run: Run) -> dict[str, str]:
    """What MLflow shows next to the run: where and how it ran."""
    m = run.manifest
    gitinfo = m.get("git") or {}
    plat = m.get("platform") or {}
    found = {
        RUN_TAG: run.id,
        "nbkit.status": str(m.get("status")),
        "nbkit.notebook": str(m.get("notebook")),
        "nbkit.notebook_sha256": str(m.get("notebook_sha256")),
        "nbkit.commit": str(gitinfo.get("commit")),
        "nbkit.dirty": str(bool(gitinfo.get("dirty"))).lower(),
        "nbkit.lock_hash": str(m.get("lock_hash")),
        "nbkit.platform": " ".join(
            str(plat.get(k)) for k in ("system", "release", "machine") if plat.get(k)
        ),
        "nbkit.python": str((m.get("kernel") or {}).get("python")),
        "mlflow.source.name": str(m.get("notebook")),
        "mlflow.source.git.commit": str(gitinfo.get("commit")),
    }
    if m.get("parent"):
        found["nbkit.parent"] = str(m["parent"])
    if isinstance(m.get("sweep"), str):
        found["nbkit.sweep"] = m["sweep"]
    verdict = _verdict(run.dir)
    if verdict:
        found["nbkit.rerun.verdict"] = verdict
    for name, value in (m.get("metrics") or {}).items():
        if not _values(value):  # text metrics: MLflow metrics are numbers
            found[f"nbkit.metric.{name}"] = _text(value)
    return found


def _verdict(run_dir: Path) -> str | None:
    """A rerun's verdict, from the report ``nbkit rerun`` writes next to its manifest."""
    try:
        report = json.loads((run_dir / "rerun.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or "reproduced" not in report:
        return None
    return "reproduced" if report["reproduced"] else "not reproduced"


def _experiment(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name))


def _existing(client: Any, experiment_id: str, run_id: str) -> Any:
    hits = client.search_runs([experiment_id], f"tags.`{RUN_TAG}` = '{run_id}'", max_results=1)
    return hits[0] if hits else None


def export_run(client: Any, experiment_id: str, run: Run) -> Exported:
    """Log one run (or refresh its tags). MLflow's client writes "View run at" lines to
    stdout, which would corrupt ``--json`` output: they are swallowed."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return _export_run(client, experiment_id, run)


def _export_run(client: Any, experiment_id: str, run: Run) -> Exported:
    from mlflow.entities import Metric, Param, RunTag

    tag_values = tags(run)
    existing = _existing(client, experiment_id, run.id)
    if existing is not None:  # idempotent: refresh the tags, log nothing twice
        mlflow_id = str(existing.info.run_id)
        client.log_batch(mlflow_id, tags=[RunTag(k, v) for k, v in tag_values.items()])
        return Exported(run.id, mlflow_id, created=False)
    m = run.manifest
    started = _millis(m.get("started"))
    created = client.create_run(experiment_id, start_time=started, run_name=run.id, tags=tag_values)
    mlflow_id = str(created.info.run_id)
    stamp = _millis(m.get("ended")) or started or 0
    params = [Param(k, _text(v)) for k, v in (m.get("parameters") or {}).items()]
    metrics = [
        Metric(name, value, stamp, step)
        for name, points in metric_steps(run).items()
        for step, value in points
    ]
    client.log_batch(mlflow_id, metrics=metrics, params=params)
    try:
        executed = run.executed_notebook
    except BadInput:
        executed = None
    if executed is not None and executed.is_file():
        client.log_artifact(mlflow_id, str(executed))
    status = _STATUS.get(str(m.get("status")), "KILLED")
    client.set_terminated(mlflow_id, status=status, end_time=_millis(m.get("ended")))
    return Exported(run.id, mlflow_id, created=True)


def export(
    ledger: Ledger, uri: str, run_ids: Sequence[str], experiment: str | None = None
) -> list[Exported]:
    """Export the given runs (all recorded runs when none is given) to the tracking server
    at ``uri``; the MLflow experiment is ``experiment`` or each run's notebook path."""
    runs = [ledger.get(i) for i in run_ids] if run_ids else list(_all(ledger))
    client = _client(uri)
    results = []
    ids: dict[str, str] = {}
    for run in runs:
        name = experiment or run.notebook
        try:
            if name not in ids:
                ids[name] = _experiment(client, name)
            results.append(export_run(client, ids[name], run))
        except NbkitError:
            raise
        except Exception as exc:  # the server: unreachable, refused, incompatible
            raise BadInput(
                f"MLflow at {uri} failed: {type(exc).__name__}: "
                + (str(exc).splitlines() or [""])[0][:200],
                "--mlflow",
                hint="start one with: mlflow server --host 127.0.0.1, or check the URI",
            ) from None
    return results


def _all(ledger: Ledger) -> Iterable[Run]:
    for run in ledger.list():
        yield ledger.get(run.id)


# ---- every run, as it is recorded ([tool.nbkit.runs] mlflow) ---------------------------------


class AutoExport:
    """Exports each run as it is recorded to the configured server, and never fails the run:
    a server that does not answer (or a missing ``mlflow``) is reported once, as a warning
    with the way to catch up, and the rest of the command's runs are not tried again.
    ``mlflow`` is imported on the first run only."""

    def __init__(self, uri: str, timeout: float = 3.0) -> None:
        self.uri = uri
        self.timeout = timeout
        self.client: Any = None
        self.experiments: dict[str, str] = {}
        self.failed: str | None = None  # why exporting stopped
        self.skipped = 0  # runs recorded but not exported

    def __call__(self, run: Run) -> str | None:
        """Export ``run``; a warning (message and hint lines) the first time it cannot be."""
        if self.failed is not None:
            self.skipped += 1
            return None
        try:
            if self.client is None:
                from nbkit.errors import require

                require("mlflow", "mlflow", f"exporting every run ({ENV})")
                _reachable(self.uri, self.timeout)
                from mlflow.tracking import MlflowClient

                self.client = MlflowClient(tracking_uri=self.uri)
            name = run.notebook
            if name not in self.experiments:
                self.experiments[name] = _experiment(self.client, name)
            export_run(self.client, self.experiments[name], run)
            return None
        except NbkitError as exc:
            reason = exc.message.removeprefix(f"no MLflow tracking server answered at {self.uri} ")
            self.failed = reason if exc.hint is None else f"{reason}; {exc.hint}"
        except Exception as exc:  # the server refused or broke mid-way: the run is recorded
            self.failed = f"{type(exc).__name__}: " + (str(exc).splitlines() or [""])[0][:200]
        self.skipped += 1
        return (
            f"nbkit: warning: run {run.id} is recorded but was not exported to MLflow at "
            f"{self.uri} ({self.failed}); later runs of this command are not tried\n"
            f"hint: nbkit runs export --mlflow {self.uri} exports every run it lacks"
        )


class Ignored:
    """The repository's ``mlflow`` setting, not followed: one warning for the command (the
    first run), nothing sent anywhere."""

    def __init__(self, uri: str, source: Path | None) -> None:
        self.uri = uri
        self.source = source
        self.warned = False

    def __call__(self, run: Run) -> str | None:
        if self.warned:
            return None
        self.warned = True
        where = f" ({self.source.name})" if self.source is not None else ""
        uri = shlex.quote(self.uri)
        return (
            f"nbkit: warning: the repository's [tool.nbkit.runs] mlflow = {self.uri!r}{where} "
            "was ignored: runs are recorded here, not sent to a server the repository names\n"
            f"hint: to export there, say so: NBKIT_MLFLOW={uri} (or nbkit runs export "
            f"--mlflow {uri}); NBKIT_MLFLOW=none silences this"
        )


Exporter = Callable[[Run], str | None]  # a warning for the terminal, or None


def auto_export(root: Path, env: Mapping[str, str] | None = None) -> Exporter | None:
    """The exporter for runs as they are recorded: to the user's ``NBKIT_MLFLOW``; a
    repository's ``[tool.nbkit.runs] mlflow`` alone only yields the "ignored" warning."""
    from nbkit import config
    from nbkit.runs import settings

    mine = (os.environ if env is None else env).get(ENV, "").strip()
    if mine:
        return None if mine.lower() == "none" else AutoExport(mine)
    cfg = config.load(root)
    uri = settings(cfg).mlflow
    return Ignored(uri, cfg.source) if uri else None
