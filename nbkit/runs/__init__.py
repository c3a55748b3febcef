"""Experiment runs: execute notebooks with papermill and record each run in a ledger.

``execute`` runs one notebook (``nbkit.runs.execute``), ``ledger`` stores and queries the
manifests, ``params`` parses parameters as data. ``RunSettings`` is the ``[tool.nbkit.runs]``
table: the defaults every run command starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbkit.config import DEFAULT_LEDGER, Config
from nbkit.errors import BadInput


@dataclass(frozen=True)
class RunSettings:
    """``[tool.nbkit.runs]``: ledger folder, default kernel, per-cell timeout, input globs,
    environment variables to record."""

    ledger: str = DEFAULT_LEDGER
    kernel: str | None = None
    timeout: float | None = None
    inputs: tuple[str, ...] = ()
    env: tuple[str, ...] = ()


def settings(config: Config) -> RunSettings:
    """Read and check ``[tool.nbkit.runs]``."""
    table: dict[str, Any] = config.section("runs")
    ledger = table.get("ledger", DEFAULT_LEDGER)
    kernel = table.get("kernel")
    timeout = table.get("timeout")
    inputs = table.get("inputs", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(ledger, str) or not ledger or ".." in ledger.split("/"):
        raise BadInput(
            "[tool.nbkit.runs] 'ledger' must be a folder inside the project", config.source
        )
    if kernel is not None and not isinstance(kernel, str):
        raise BadInput("[tool.nbkit.runs] 'kernel' must be a kernel name", config.source)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise BadInput(
            "[tool.nbkit.runs] 'timeout' must be a positive number of seconds", config.source
        )
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise BadInput("[tool.nbkit.runs] 'inputs' must be a list of globs", config.source)
    env = table.get("env", [])
    if not isinstance(env, list) or not all(isinstance(n, str) and n for n in env):
        raise BadInput(
            "[tool.nbkit.runs] 'env' must be a list of environment variable names", config.source
        )
    timeout_s = float(timeout) if timeout else None
    return RunSettings(ledger, kernel, timeout_s, tuple(inputs), tuple(env))
