"""Counters for the reliability suite, summed over xdist workers and printed at the end.

Tests call ``count("cases")``, ``count("faults")``, ``count("lost")``, and the attack tests
``count("attacks")``, ``count("outside_writes")``, ``count("code_executed")`` (through
``tests/security_helpers.Watch``); the conftest hook prints the totals after the run (cases
tried, faults injected, inputs lost = 0, files written outside the repository = 0, code
executed = 0).
"""

from __future__ import annotations

import json
import os

LOG_ENV = "NBKIT_RELIABILITY_LOG"


def count(kind: str, n: int = 1) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:  # one short line per call: O_APPEND is atomic
        fh.write(json.dumps({"kind": kind, "n": n}) + "\n")


def totals(path: str) -> dict[str, int]:
    result: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                entry = json.loads(line)
                result[entry["kind"]] = result.get(entry["kind"], 0) + int(entry["n"])
    except (OSError, ValueError):
        pass
    return result
