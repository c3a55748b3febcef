"""Choosing and ordering runs to look at: ``nbkit runs --where ... --sort ...``.

Filters use the ``--fail-if`` grammar (``nbkit.runs.gate``): parsed, never evaluated as code.
A run's values are its effective parameters and its metrics (a metric wins a name clash).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from nbkit.runs.gate import Gate, holds
from nbkit.runs.ledger import Run


def values(run: Run) -> dict[str, Any]:
    """What ``--where`` and ``--sort`` see of a run."""
    return {**run.effective_parameters, **run.metrics}


def _key(run: Run, name: str) -> float:
    value = values(run).get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def select(
    runs: Sequence[Run], where: Sequence[Gate] = (), sort: str | None = None, desc: bool = False
) -> list[Run]:
    """The runs for which every ``where`` holds, ordered by ``sort`` (runs without a number
    for it last, in their original order) or left in ledger order."""
    chosen = [run for run in runs if all(holds(gate, values(run)) for gate in where)]
    if sort is None:
        return chosen
    numbered = [r for r in chosen if not math.isnan(_key(r, sort))]
    missing = [r for r in chosen if math.isnan(_key(r, sort))]
    return sorted(numbered, key=lambda r: _key(r, sort), reverse=desc) + missing
