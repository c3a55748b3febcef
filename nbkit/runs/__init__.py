"""Experiment runs: execute notebooks with papermill and record each run in a ledger.

``execute`` runs one notebook (``nbkit.runs.execute``), ``ledger`` stores and queries the
manifests, ``params`` parses parameters as data. ``RunSettings`` is the ``[tool.nbkit.runs]``
table: the defaults every run command starts from.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbkit.config import DEFAULT_LEDGER, Config


@dataclass(frozen=True)
class RunSettings:
    """``[tool.nbkit.runs]``: ledger folder, default kernel, per-cell timeout, input globs,
    environment variables to record, artifact store, MLflow server to export to."""

    ledger: str = DEFAULT_LEDGER
    kernel: str | None = None
    timeout: float | None = None
    inputs: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    artifacts: str = "git"  # "git" (refs), a folder, or an fsspec URL
    mlflow: str | None = None  # export every recorded run to this tracking server


def settings(config: Config) -> RunSettings:
    """``[tool.nbkit.runs]``, parsed by its rows in ``config.SETTINGS``."""
    return RunSettings(**config.values("runs"))
