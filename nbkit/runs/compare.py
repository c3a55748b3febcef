"""Two or more runs side by side, and two executed notebooks compared output by output.

Pure functions over manifests (dicts) and notebook dicts: the CLI loads runs from the ledger,
``rerun`` loads the original and the new execution, both come here for the verdict.
Numbers are compared within a tolerance everywhere (metrics, and numbers inside text
outputs) because a last-digit change in a float is not a failed reproduction.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from nbkit.runs.ledger import Run

MISSING = "—"  # how an absent value is shown; never a value a manifest can hold

_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
VOLATILE_TAG = "volatile"  # a cell tag: its outputs are expected to change between runs
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# Text expected to change between two executions of the same code: (kind, pattern), applied
# in order (a progress bar holds durations; a date-time holds a clock time).
_VOLATILE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("progress bar", re.compile(r"\d{1,3}%\|[^|\n]*\|[^\n]*")),
    (
        "date and time",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
    ),
    (
        "date and time",
        re.compile(rf"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +(?:{_MONTHS})[a-z]* +\d{{1,2}}\b"),
    ),
    ("clock time", re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b")),
    (
        "duration",
        re.compile(
            r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?\s*"
            r"(?:ns|µs|μs|us|ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?)\b"
        ),
    ),
    ("object address", re.compile(r"\b0x[0-9a-fA-F]{6,16}\b")),
    ("clock time", re.compile(r"\b1[5-9]\d{8}\.\d+\b")),  # time.time(): seconds since 1970
)
_TEXT_MIMES = ("text/plain", "text/markdown", "text/latex", "text/html")
_IMAGE_MIMES = ("image/png", "image/jpeg")
_RECORD_MIME = "application/vnd.nbkit.record+json"


@dataclass(frozen=True)
class Tolerance:
    """How close two numbers must be: ``|a - b| <= atol + rtol * |b|`` (numpy's rule)."""

    rtol: float = 1e-7
    atol: float = 0.0

    def close(self, a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= self.atol + self.rtol * abs(b)


@dataclass(frozen=True)
class Row:
    """One compared field: its section, its name and one value per run."""

    section: str  # "run" | "parameters" | "environment" | "inputs" | "metrics"
    key: str
    values: tuple[Any, ...]
    differs: bool


@dataclass(frozen=True)
class Comparison:
    run_ids: tuple[str, ...]
    rows: tuple[Row, ...]

    def section(self, name: str) -> list[Row]:
        return [row for row in self.rows if row.section == name]

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": list(self.run_ids),
            "rows": [
                {"section": r.section, "key": r.key, "values": list(r.values), "differs": r.differs}
                for r in self.rows
            ],
        }


def values_equal(a: Any, b: Any, tol: Tolerance) -> bool:
    """Equality with numbers compared within ``tol``, recursing into lists and dicts."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return tol.close(float(a), float(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k], tol) for k in a)
    return bool(a == b)


def _row(section: str, key: str, values: Sequence[Any], tol: Tolerance) -> Row:
    first = values[0]
    differs = any(not values_equal(first, v, tol) for v in values[1:])
    return Row(section, key, tuple(values), differs)


def _get(manifest: Mapping[str, Any], *keys: str) -> Any:
    value: Any = manifest
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return MISSING
        value = value[key]
    return value


def _table(manifests: Sequence[Mapping[str, Any]], field: str) -> list[dict[str, Any]]:
    out = []
    for manifest in manifests:
        value = manifest.get(field)
        out.append(value if isinstance(value, dict) else {})
    return out


def _keyed_rows(
    section: str, tables: list[dict[str, Any]], tol: Tolerance, only_differing: bool = False
) -> Iterator[Row]:
    keys = sorted({k for table in tables for k in table})
    for key in keys:
        row = _row(section, key, [t.get(key, MISSING) for t in tables], tol)
        if row.differs or not only_differing:
            yield row


def _fingerprints(manifest: Mapping[str, Any], field: str = "inputs") -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in manifest.get(field) or []:
        if isinstance(entry, dict) and "path" in entry:
            sha = entry.get("sha256")
            result[str(entry["path"])] = sha[:12] if isinstance(sha, str) else MISSING
    return result


def compare_manifests(
    manifests: Sequence[Mapping[str, Any]], tol: Tolerance | None = None
) -> Comparison:
    """Parameters, environment differences, inputs and metrics of runs side by side.

    Packages are listed only where they differ (a full list would drown the table); the
    first manifest is the base the others are compared with.
    """
    tol = tol or Tolerance(rtol=0.0, atol=0.0)
    exact = Tolerance(rtol=0.0, atol=0.0)
    rows: list[Row] = []
    for key, path in (
        ("notebook", ("notebook",)),
        ("commit", ("git", "commit")),
        ("dirty", ("git", "dirty")),
        ("status", ("status",)),
        ("duration", ("duration",)),
    ):
        values = [_get(m, *path) for m in manifests]
        if key == "commit":
            values = [v[:12] if isinstance(v, str) else v for v in values]
        row = _row("run", key, values, exact)
        # durations always differ a little; showing them is useful, flagging them is noise
        rows.append(replace(row, differs=False) if key == "duration" else row)
    # effective values (defaults included) when recorded: a default is a value too
    effective = [
        m if "effective_parameters" in m else {**m, "effective_parameters": m.get("parameters")}
        for m in manifests
    ]
    rows.extend(_keyed_rows("parameters", _table(effective, "effective_parameters"), exact))
    for key, path in (
        ("python", ("kernel", "python")),
        ("kernel", ("kernel", "name")),
        ("lock_hash", ("lock_hash",)),
    ):
        rows.append(_row("environment", key, [_get(m, *path) for m in manifests], exact))
    packages = [_get(m, "kernel", "packages") for m in manifests]
    tables = [p if isinstance(p, dict) else {} for p in packages]
    rows.extend(
        Row("environment", f"package {r.key}", r.values, r.differs)
        for r in _keyed_rows("packages", tables, exact, only_differing=True)
    )
    inputs = [{**_fingerprints(m, "files_read"), **_fingerprints(m)} for m in manifests]
    rows.extend(_keyed_rows("inputs", inputs, exact))
    rows.extend(_keyed_rows("metrics", _table(manifests, "metrics"), tol))
    ids = tuple(str(m.get("id", f"run{i}")) for i, m in enumerate(manifests))
    return Comparison(ids, tuple(rows))


def compare_runs(runs: Sequence[Run], tol: Tolerance | None = None) -> Comparison:
    """``compare_manifests`` plus a row comparing the executed notebooks' outputs."""
    from nbkit.errors import BadInput
    from nbkit.notebook import read

    notebooks: list[Mapping[str, Any] | None] = []
    for run in runs:
        try:
            notebooks.append(read(run.executed_notebook))
        except BadInput:  # a run recorded without its notebook
            notebooks.append(None)
    comparison = compare_manifests([run.manifest for run in runs], tol)
    return Comparison(comparison.run_ids, comparison.rows + tuple(output_rows(notebooks, tol)))


# ---- executed notebooks, output by output -------------------------------------------------


def output_rows(
    notebooks: Sequence[Mapping[str, Any] | None], tol: Tolerance | None = None
) -> list[Row]:
    """One row: each run's executed notebook compared with the base's, output by output."""
    tol = tol or Tolerance(rtol=0.0, atol=0.0)
    base = notebooks[0]
    values: list[Any] = ["base" if base is not None else MISSING]
    for nb in notebooks[1:]:
        if base is None or nb is None:
            values.append(MISSING)
            continue
        found = compare_outputs(base, nb, tol)
        cells = [str(c) for c in found.cells() if c >= 0]
        if found.matched:
            values.append("same")
        elif cells:
            values.append(f"cell{'s' if len(cells) > 1 else ''} {', '.join(cells)} differ")
        else:
            values.append("cells differ")
    differs = any(v not in ("base", "same") for v in values[1:]) if base is not None else False
    return [Row("outputs", "executed notebook", tuple(values), differs)]


@dataclass(frozen=True)
class OutputDiff:
    """One cell whose outputs did not reproduce."""

    cell: int  # index in the executed notebook
    kind: str  # "text" | "image" | "error" | "missing"
    detail: str


@dataclass(frozen=True)
class OutputComparison:
    cells_compared: int
    outputs_compared: int
    diffs: tuple[OutputDiff, ...]
    volatile: tuple[OutputDiff, ...] = ()  # differences only in volatile text or cells

    @property
    def matched(self) -> bool:
        return not self.diffs

    def cells(self) -> list[int]:
        return sorted({d.cell for d in self.diffs})


def text_close(a: str, b: str, tol: Tolerance) -> bool:
    """Texts equal except for numbers, which must be close: ``0.30000000000000004`` == ``0.3``."""
    if a == b:
        return True
    parts_a, parts_b = _NUMBER_RE.split(a), _NUMBER_RE.split(b)
    if parts_a != parts_b:
        return False
    nums_a, nums_b = _NUMBER_RE.findall(a), _NUMBER_RE.findall(b)
    return all(tol.close(float(x), float(y)) for x, y in zip(nums_a, nums_b, strict=True))


def rendered(text: str) -> str:
    """Text as a terminal shows it: a carriage return starts the line over (progress bars
    redraw themselves this way), so only what follows the last one is kept."""
    if "\r" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        frames = [f for f in line.split("\r") if f]
        lines.append(frames[-1] if frames else "")
    return "\n".join(lines)


def mask_volatile(text: str) -> tuple[str, tuple[str, ...]]:
    """The text with times, dates, durations, object addresses and progress bars replaced by
    a placeholder, and the kinds found (in first-seen order)."""
    kinds: list[str] = []
    for kind, pattern in _VOLATILE:
        text, count = pattern.subn("\x00", text)
        if count and kind not in kinds:
            kinds.append(kind)
    return text, tuple(kinds)


def volatile_difference(a: str, b: str, tol: Tolerance) -> tuple[str, ...] | None:
    """The kinds of volatile text two differing texts differ in, or None when they also
    differ elsewhere (a real difference)."""
    masked_a, kinds_a = mask_volatile(a)
    masked_b, kinds_b = mask_volatile(b)
    if not text_close(masked_a, masked_b, tol):
        return None
    return tuple(dict.fromkeys(kinds_a + kinds_b)) or ("text",)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _comparable(output: Mapping[str, Any]) -> tuple[str, Any] | None:
    """What of an output is compared: (kind, value), or None for what is not compared.

    stderr is left out: warnings name temporary paths and line numbers of installed packages,
    which differ between a worktree and the original checkout without meaning anything.
    """
    kind = output.get("output_type")
    if kind == "stream":
        return None if output.get("name") == "stderr" else ("stdout", _text(output.get("text", "")))
    if kind == "error":
        return ("error", f"{output.get('ename')}: {output.get('evalue')}")
    data = output.get("data")
    if kind not in ("execute_result", "display_data") or not isinstance(data, dict):
        return None
    for mime in _IMAGE_MIMES:
        if mime in data:
            return ("image", _text(data[mime]))
    if _RECORD_MIME in data:
        return ("record", data[_RECORD_MIME])
    for mime in _TEXT_MIMES:
        if mime in data:
            return ("text", _text(data[mime]))
    return None


class _Cell(NamedTuple):
    number: int  # index in the source notebook
    volatile: bool  # tagged ``volatile``: any difference is expected
    outputs: list[tuple[str, Any]]


def _code_cells(nb: Mapping[str, Any]) -> list[_Cell]:
    """The comparable outputs of each code cell; papermill's injected cells are left out so
    cell numbers are the ones the user sees."""
    from nbkit.runs.outcome import source_cells

    cells = []
    for index, cell in source_cells(dict(nb)):
        if index is not None and cell.get("cell_type") == "code":
            outs = [c for o in cell.get("outputs") or [] if (c := _comparable(o)) is not None]
            tags = (cell.get("metadata") or {}).get("tags") or []
            tagged = isinstance(tags, list) and VOLATILE_TAG in tags
            cells.append(_Cell(index, tagged, _merge_streams(outs)))
    return cells


def _merge_streams(outputs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Consecutive stdout chunks as one text: how the kernel split a stream into messages
    depends on timing, not on what the notebook printed."""
    merged: list[tuple[str, Any]] = []
    for kind, value in outputs:
        if kind == "stdout" and merged and merged[-1][0] == "stdout":
            merged[-1] = ("stdout", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return [("text", rendered(v)) if k == "stdout" else (k, v) for k, v in merged]


def _short(text: str, limit: int = 60) -> str:
    text = text.strip().replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compare_one(kind: str, old: Any, new: Any, tol: Tolerance) -> OutputDiff | None:
    """None when the outputs match, else what differs (cell -1: the caller sets it); kind
    ``volatile`` when texts differ only in volatile text."""
    if kind == "image":
        problem = image_difference(old, new)
        return OutputDiff(-1, kind, problem) if problem else None
    if kind == "record":
        if values_equal(old, new, tol):
            return None
        return OutputDiff(-1, kind, f"recorded {_short(str(old))} -> {_short(str(new))}")
    if text_close(str(old), str(new), tol):
        return None
    change = f"{_short(str(old))!r} -> {_short(str(new))!r}"
    volatile = volatile_difference(str(old), str(new), tol)
    if volatile:
        return OutputDiff(-1, "volatile", f"{', '.join(volatile)}: {change}")
    return OutputDiff(-1, kind, change)


def compare_outputs(
    old_nb: Mapping[str, Any], new_nb: Mapping[str, Any], tol: Tolerance
) -> OutputComparison:
    """Code cells' outputs compared in order: text within tolerance, images by pixels."""
    old_cells, new_cells = _code_cells(old_nb), _code_cells(new_nb)
    found: list[OutputDiff] = []
    count = 0
    if len(old_cells) != len(new_cells):
        found.append(
            OutputDiff(-1, "missing", f"{len(old_cells)} code cells recorded, {len(new_cells)} now")
        )
    for old, new in zip(old_cells, new_cells, strict=False):
        kinds_old, kinds_new = [k for k, _ in old.outputs], [k for k, _ in new.outputs]
        cell: list[OutputDiff] = []
        if kinds_old != kinds_new:
            detail = f"outputs {kinds_old or 'none'} recorded, {kinds_new or 'none'} now"
            cell.append(OutputDiff(old.number, "missing", detail))
        else:
            for (kind, old_value), (_kind, new_value) in zip(old.outputs, new.outputs, strict=True):
                count += 1
                problem = _compare_one(kind, old_value, new_value, tol)
                if problem:
                    cell.append(replace(problem, cell=old.number))
        if old.volatile or new.volatile:  # tagged: whatever differs is expected to
            cell = [
                replace(d, kind="volatile", detail=f"tagged volatile: {d.detail}") for d in cell
            ]
        found.extend(cell)
    diffs = tuple(d for d in found if d.kind != "volatile")
    volatile = tuple(d for d in found if d.kind == "volatile")
    return OutputComparison(len(old_cells), count, diffs, volatile)


def image_difference(old_b64: str, new_b64: str) -> str | None:
    """None when two base64 images have the same pixels, else a size or changed-pixels figure.

    Pixels, not bytes: PNG metadata (software version, timestamps) changes the bytes of an
    identical picture.
    """
    if old_b64.strip() == new_b64.strip():
        return None
    import io

    from PIL import Image, ImageChops

    try:
        old = Image.open(io.BytesIO(base64.b64decode(old_b64))).convert("RGBA")
        new = Image.open(io.BytesIO(base64.b64decode(new_b64))).convert("RGBA")
    except (OSError, ValueError) as exc:
        return f"image cannot be decoded: {exc}"
    if old.size != new.size:
        return f"image size {old.size[0]}x{old.size[1]} -> {new.size[0]}x{new.size[1]}"
    diff = ImageChops.difference(old, new)
    strongest = diff.getchannel(0)
    for band in diff.split()[1:]:
        strongest = ImageChops.lighter(strongest, band)
    total = old.size[0] * old.size[1]
    changed = total - strongest.histogram()[0]
    if not changed:
        return None
    return f"{changed} of {total} pixels changed ({100 * changed / total:.2f}%)"
