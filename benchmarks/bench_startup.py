"""Start-up: ``nbkit --help`` against the bare interpreter (the floor) and the other tools.

Every hook and every git driver call pays start-up, so it is the first number to watch. The
other tools run from their own minimal venvs (``benchmarks/.tools``), as their users install
them; all four commands are measured round-robin, each warmed once first.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.harness import (
    Command,
    Row,
    Settings,
    Target,
    command,
    measure_together,
    nbkit_bin,
    tool,
    unavailable,
)

FAMILY = "start-up"
OTHERS = (("nbstripout", "--version"), ("jupytext", "--version"))


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    sides: list[Command] = [
        command("nbkit --help", [nbkit_bin() / "nbkit", "--help"]),
        command("python -c pass", [nbkit_bin() / "python", "-c", "pass"]),
    ]
    rows: list[Row] = []
    for name, flag in OTHERS:
        exe = tool(name)
        if exe is None:
            why = f"{name} venv missing (run without --no-install)"
            rows.append(unavailable(FAMILY, f"nbkit --help vs {name} {flag}", why))
        else:
            sides.append(command(f"{name} {flag}", [exe, flag]))
    nbkit, floor, *others = measure_together(
        [(side, None) for side in sides], settings, warmup=True, repeat=settings.repeat * 2
    )
    rows[:0] = [
        Row(
            FAMILY,
            "nbkit --help vs the bare interpreter (floor)",
            nbkit,
            floor,
            Target("nbkit <= 150 ms", max_s=0.15),
        ),
        *(
            Row(
                FAMILY, f"nbkit --help vs {other.label}", nbkit, other, Target(">= 2x", min_ratio=2)
            )
            for other in others
        ),
    ]
    log(
        f"{FAMILY}: nbkit --help {nbkit.shown()}, floor {floor.shown()}, "
        + ", ".join(f"{o.label} {o.shown()}" for o in others)
    )
    return rows
