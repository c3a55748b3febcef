"""The rerun's verdict line and its likely causes, from the checks (``runs/checks.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbkit.runs.checks import Check, Difference


def _names(check: Check | None, what: str) -> list[str]:
    return [d.name for d in check.of(what)] if check is not None and not check.ok else []


def _input_causes(checks: Mapping[str, Check]) -> list[str]:
    causes = []
    if names := _names(checks["inputs"], "input"):
        causes.append(f"changed inputs: {', '.join(names)}")
    if names := _names(checks.get("outside"), "outside"):
        causes.append(f"changed files outside the project: {', '.join(names)}")
    return causes


def _change(d: Difference, absent: str = "absent") -> str:
    def shown(value: Any) -> str:
        return absent if value is None else str(value)

    return f"{d.name} {shown(d.before)} -> {shown(d.after)}"


def _environment_causes(checks: Mapping[str, Check]) -> list[str]:
    causes = []
    env = checks["environment"]
    for d in env.of("python"):
        causes.append(f"different Python: {d.before} -> {d.after}")
    packages = [_change(d) for d in env.of("package")]
    if packages:
        more = f" (+{len(packages) - 3} more)" if len(packages) > 3 else ""
        causes.append(f"package drift: {'; '.join(packages[:3])}{more}")
    variables = checks.get("variables")
    if variables is not None and variables.differences:
        changes = "; ".join(_change(d, "unset") for d in variables.differences)
        causes.append(f"different environment variables: {changes}")
    return causes


def _randomness_cause(stability: Check | None) -> list[str]:
    if stability is None or stability.ok:
        return []
    cells = list(dict.fromkeys(d.name for d in stability.of("cell")))  # once per cell
    if not cells:
        return ["unseeded randomness: two executions with the same inputs and environment differ"]
    which = f"cell {cells[0]} differs" if len(cells) == 1 else f"cells {', '.join(cells)} differ"
    return [
        f"unseeded randomness: {which} between two executions with the same inputs and environment"
    ]


def _unexplained(checks: Mapping[str, Check], manifest: Mapping[str, Any]) -> str:
    """The last resort, with what could not be checked."""
    unchecked = [f"{d.name} (changed during the run)" for d in checks["inputs"].of("unchecked")]
    watch = manifest.get("native_reads")
    if watch == "watched":
        unchecked.append("files read by native code outside the project")
    else:
        unchecked.append(f"files read by native code ({watch or 'not watched'})")
    unchecked += ["the clock", "the network", "the hardware"]
    return (
        "unexplained: inputs, environment and repeated executions agree; not checked: "
        + ", ".join(unchecked)
    )


def likely_causes(
    checks: dict[str, Check],
    stability: Check | None,
    manifest: Mapping[str, Any],
    failure: str | None = None,
) -> list[str]:
    """The likely reasons a rerun differed, most specific first; each said once."""
    causes: list[str] = []
    if not checks["notebook"].ok:
        causes.append("the notebook checked out is not the one that ran")
    if failure:
        causes.append(failure)
    causes += _input_causes(checks)
    causes += _environment_causes(checks)
    causes += _randomness_cause(stability)
    if not causes:
        causes.append(_unexplained(checks, manifest))
    return list(dict.fromkeys(causes))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def verdict(checks: Mapping[str, Check], metrics_only: bool) -> str:
    """Which level matched, in order of importance: status, recorded metrics, outputs."""
    parts = []
    if not checks["status"].ok:
        parts.append(f"status {checks['status'].details[0]}")
    metrics = checks["metrics"]
    if not metrics.details:
        parts.append("no metrics recorded")
    elif metrics.ok:
        parts.append(f"{_plural(len(metrics.details), 'metric')} reproduced")
    else:
        wrong = sum(1 for d in metrics.details if not d.endswith("(matches)"))
        parts.append(f"{_plural(wrong, 'metric')} differ{'s' if wrong == 1 else ''}")
    outputs = checks["outputs"]
    volatile = len(outputs.volatile)
    if not outputs.ok:
        extra = " (not required: --metrics-only)" if metrics_only else ""
        parts.append(f"outputs differ{extra}")
    elif volatile:
        verb = "differs" if volatile == 1 else "differ"
        parts.append(f"{_plural(volatile, 'output')} {verb} only in volatile text")
    else:
        parts.append("outputs reproduced")
    return "; ".join(parts)
