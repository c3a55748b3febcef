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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _points(
    manifests: Sequence[Mapping[str, Any]], metric: str, by: str | None
) -> list[tuple[Any, float, str]]:
    """(x, metric value, run id) for every run that has what the plot needs."""
    ordered = sorted(manifests, key=lambda m: str(m.get("started", "")))
    points = []
    for order, manifest in enumerate(ordered, start=1):
        value = _number((manifest.get("metrics") or {}).get(metric))
        params = manifest.get("parameters") or {}
        if value is None or (by is not None and by not in params):
            continue
        x = params[by] if by is not None else order
        points.append((x, value, str(manifest.get("id", ""))))
    return points


def plot_metric(
    manifests: Sequence[Mapping[str, Any]], metric: str, by: str | None, out: Path
) -> PlotSummary:
    """Draw ``metric`` for every run that recorded it and write the image atomically."""
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise BadInput("the plot file must end in .png, .svg or .pdf", out)
    points = _points(manifests, metric, by)
    if not points:
        where = f" with parameter {by!r}" if by else ""
        raise BadInput(f"no run{where} recorded a numeric metric {metric!r}", out)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot()
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if all(_number(x) is not None for x in xs):
        pairs = sorted(zip(xs, ys, strict=True), key=lambda p: float(p[0]))
        axes.plot([p[0] for p in pairs], [p[1] for p in pairs], marker="o")
    else:  # categorical parameter: one position per distinct value, in first-seen order
        labels = list(dict.fromkeys(str(x) for x in xs))
        axes.scatter([labels.index(str(x)) for x in xs], ys)
        axes.set_xticks(range(len(labels)), labels)
    axes.set_xlabel(by if by else "run (oldest first)")
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} over {len(points)} run{'s' if len(points) != 1 else ''}")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    atomic_write_bytes(out, buffer.getvalue())
    if out.read_bytes() != buffer.getvalue():  # verify: refuse to report a plot not written
        raise BadInput("the plot was not written completely", out)
    return PlotSummary(out, len(points), len(manifests) - len(points))
