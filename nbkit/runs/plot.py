"""``nbkit runs plot``: one metric across runs, against run order or a parameter.

matplotlib is imported inside ``plot_metric`` with the Agg backend: no display is needed
(CI, a server) and the rest of nbkit never pays for the import.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbkit.errors import BadInput
from nbkit.fsutil import atomic_write_bytes

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


@dataclass(frozen=True)
class PlotSummary:
    path: Path
    points: int  # runs plotted
    skipped: int  # runs without the metric (or the parameter), or with a non-numeric value
    lines: tuple[str, ...] = ()  # one label per line drawn ("" for a single unlabelled line)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _params(manifest: Mapping[str, Any]) -> dict[str, Any]:
    found = manifest.get("effective_parameters") or manifest.get("parameters") or {}
    return dict(found) if isinstance(found, dict) else {}


def _groups(
    manifests: Sequence[Mapping[str, Any]], by: str | None, group: str | None
) -> dict[int, str]:
    """Which line each run belongs to: the ``group`` parameter's value, or (without it) the
    values of the other parameters that vary, so unrelated runs are never joined."""
    if group is not None:
        return {i: f"{group}={_params(m).get(group)}" for i, m in enumerate(manifests)}
    tables = [_params(m) for m in manifests]
    names = sorted({k for t in tables for k in t} - {by})
    varying = [n for n in names if len({repr(t.get(n)) for t in tables}) > 1]
    return {i: " ".join(f"{n}={t.get(n)}" for n in varying) for i, t in enumerate(tables)}


def _points(
    manifests: Sequence[Mapping[str, Any]], metric: str, by: str | None, group: str | None
) -> list[tuple[Any, float, str]]:
    """(x, metric value, line label) for every run that has what the plot needs."""
    ordered = sorted(manifests, key=lambda m: str(m.get("started", "")))
    labels = _groups(ordered, by, group)
    points = []
    for order, manifest in enumerate(ordered):
        value = _number((manifest.get("metrics") or {}).get(metric))
        params = _params(manifest)
        if value is None or (by is not None and by not in params):
            continue
        if group is not None and group not in params:
            continue
        x = params[by] if by is not None else order + 1
        points.append((x, value, labels[order]))
    return points


def _series(
    manifests: Sequence[Mapping[str, Any]], metric: str, group: str | None
) -> list[tuple[Any, float, str]]:
    """(step, value, line label) of every run that recorded ``metric`` with steps: one line
    per run (labelled by its id, and the group parameter when given)."""
    points = []
    for manifest in sorted(manifests, key=lambda m: str(m.get("started", ""))):
        steps = (manifest.get("series") or {}).get(metric) or []
        label = str(manifest.get("id", ""))
        if group is not None:
            label = f"{group}={_params(manifest).get(group)} ({label})"
        for step, value in steps:
            number = _number(value)
            if number is not None and isinstance(step, int):
                points.append((step, number, label))
    return points


def plot_metric(
    manifests: Sequence[Mapping[str, Any]],
    metric: str,
    by: str | None,
    out: Path,
    *,
    group: str | None = None,
    logx: bool = False,
) -> PlotSummary:
    """Draw ``metric`` for the given runs and write the image atomically: against ``by``
    (one line per group), over steps when the runs recorded a series, else in run order."""
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise BadInput("the plot file must end in .png, .svg or .pdf", out)
    series = _series(manifests, metric, group) if by is None else []
    points = series or _points(manifests, metric, by, group)
    if not points:
        where = f" with parameter {by!r}" if by else ""
        raise BadInput(f"no run{where} recorded a numeric metric {metric!r}", out)
    xlabel = "step" if series else (by or "run (oldest first)")
    image = _draw(points, metric, xlabel, logx, fmt)
    atomic_write_bytes(out, image)
    if out.read_bytes() != image:  # verify: refuse to report a plot not written
        raise BadInput("the plot was not written completely", out)
    lines = tuple(dict.fromkeys(p[2] for p in points))
    runs = len(lines) if series else len(points)
    return PlotSummary(out, runs, len(manifests) - runs, lines)


def _draw(
    points: list[tuple[Any, float, str]], metric: str, xlabel: str, logx: bool, fmt: str
) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot()
    numeric = all(_number(p[0]) is not None for p in points)
    categories = list(dict.fromkeys(str(p[0]) for p in points))
    lines = list(dict.fromkeys(p[2] for p in points))
    for label in lines:
        mine = [p for p in points if p[2] == label]
        if numeric:
            mine.sort(key=lambda p: float(p[0]))
            xs: list[Any] = [p[0] for p in mine]
        else:  # categorical parameter: one position per distinct value, first-seen order
            xs = [categories.index(str(p[0])) for p in mine]
        axes.plot(xs, [p[1] for p in mine], marker="o", label=label or None)
    if not numeric:
        axes.set_xticks(range(len(categories)), categories)
    if logx and numeric:
        axes.set_xscale("log")
    if len(lines) > 1 or (lines and lines[0]):
        axes.legend(fontsize="small")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(metric)
    axes.set_title(f"{metric}: {len(lines)} line{'s' if len(lines) != 1 else ''}")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()
