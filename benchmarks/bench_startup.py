"""Start-up: ``nbkit --help`` against the bare interpreter (the floor) and the other tools.

Every hook and every git driver call pays start-up, so it is the first number to watch.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.harness import (
    VENV_BIN,
    Row,
    Settings,
    Target,
    command,
    measure,
    measure_pair,
    tool,
    unavailable,
)

FAMILY = "start-up"


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    repeat = settings.repeat * 2  # cheap: more runs, steadier medians
    nbkit, floor = measure_pair(
        command("nbkit --help", [VENV_BIN / "nbkit", "--help"]),
        command("python -c pass", [VENV_BIN / "python", "-c", "pass"]),
        settings,
        warmup=True,
        repeat=repeat,
    )
    rows = [
        Row(
            FAMILY,
            "nbkit --help vs the bare interpreter (floor)",
            nbkit,
            floor,
            Target("nbkit <= 150 ms", max_s=0.15),
        )
    ]
    for name, args in (("nbstripout", ["--version"]), ("jupytext", ["--version"])):
        exe = tool(name)
        if exe is None:
            rows.append(
                unavailable(FAMILY, f"nbkit --help vs {name} {args[0]}", f"{name} not installed")
            )
            continue
        other = measure(
            command(f"{name} {args[0]}", [exe, *args]), settings, warmup=True, repeat=repeat
        )
        rows.append(
            Row(
                FAMILY,
                f"nbkit --help vs {name} {args[0]}",
                nbkit,
                other,
                Target(">= 2x", min_ratio=2),
            )
        )
    log(f"{FAMILY}: nbkit --help {nbkit.shown()}, floor {floor.shown()}")
    return rows
