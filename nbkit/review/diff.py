"""Two versions of a notebook -> a small typed diff model that every renderer reads.

Quiet by default: what ``nbkit clean`` strips (execution counts, ExecuteTime, papermill and
widget state, the interpreter's language_info) never shows up as a change. Cells are aligned
by ``nbkit.align`` (ids, fingerprints, similarity; moves detected). Nothing here runs a
kernel or imports nbformat's validator.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from nbkit.align import Cell, align, moved, order
from nbkit.clean import VOLATILE_CELL_METADATA, VOLATILE_NOTEBOOK_METADATA
from nbkit.config import CleanPolicy
from nbkit.notebook import Notebook, source_text
from nbkit.review.outputs import OutputChange, PixelBudget, diff_outputs

__all__ = ["CellChange", "DiffSettings", "NotebookDiff", "Report", "diff_notebooks"]


@dataclass(frozen=True)
class DiffSettings:
    """What a diff ignores and how much context it keeps."""

    context: int = 3
    ignore_cell_metadata: tuple[str, ...] = VOLATILE_CELL_METADATA
    ignore_notebook_metadata: tuple[str, ...] = VOLATILE_NOTEBOOK_METADATA
    max_images: int = 300  # raster pairs compared pixel by pixel per run
    # what git's nbkit clean filter strips from a working-tree notebook
    clean_policy: CleanPolicy = field(default_factory=CleanPolicy)

    @classmethod
    def from_policy(cls, policy: CleanPolicy, context: int = 3) -> DiffSettings:
        """Ignore exactly what the project's clean policy strips (its extra keys included,
        the keys it keeps shown)."""

        def ignored(
            volatile: tuple[str, ...], drop: tuple[str, ...], keep: tuple[str, ...]
        ) -> tuple[str, ...]:
            return tuple(k for k in (*volatile, *drop) if k not in keep)

        return cls(
            context=context,
            clean_policy=policy,
            ignore_cell_metadata=ignored(
                VOLATILE_CELL_METADATA, policy.drop_cell_metadata, policy.keep_cell_metadata
            ),
            ignore_notebook_metadata=ignored(
                VOLATILE_NOTEBOOK_METADATA,
                policy.drop_notebook_metadata,
                policy.keep_notebook_metadata,
            ),
        )


@dataclass(frozen=True)
class MetadataChange:
    key: str
    old: str | None  # compact JSON, None when absent on that side
    new: str | None


@dataclass(frozen=True)
class CellChange:
    """One cell that differs. Indices are 0-based positions in the old / new notebook."""

    change: str  # "added" | "removed" | "modified" | "moved"
    old_index: int | None
    new_index: int | None
    cell_type: str
    old_cell_type: str | None
    cell_id: str | None
    old_source: str
    new_source: str
    source_diff: tuple[str, ...]  # unified diff lines (hunks with "@@" headers), no file header
    outputs: tuple[OutputChange, ...] = ()
    metadata: tuple[MetadataChange, ...] = ()

    @property
    def moved(self) -> bool:
        return self.change == "moved"

    @property
    def source_changed(self) -> bool:
        return (
            self.change in ("added", "removed")
            or self.old_source != self.new_source
            or (self.old_cell_type is not None and self.old_cell_type != self.cell_type)
        )

    @property
    def whitespace_only(self) -> str | None:
        """What changed when the sources differ but no line does (a final newline, line
        endings): shown quietly instead of an empty line diff; None otherwise."""
        if self.change in ("added", "removed") or self.source_diff:
            return None
        return whitespace_change(self.old_source, self.new_source)


@dataclass(frozen=True)
class Counts:
    added: int = 0
    removed: int = 0
    modified: int = 0  # source (or type) edited, moved or not
    moved: int = 0
    outputs: int = 0  # cells whose outputs changed
    metadata: int = 0  # cells whose metadata changed
    unchanged: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.added,
            self.removed,
            self.modified,
            self.moved,
            self.outputs,
            self.metadata,
            self.unchanged,
        )

    def as_dict(self) -> dict[str, int]:
        names = ("added", "removed", "modified", "moved", "outputs", "metadata", "unchanged")
        return dict(zip(names, self.as_tuple(), strict=True))


@dataclass(frozen=True)
class NotebookDiff:
    path: str  # the new path (the old one for a deleted notebook)
    old_path: str | None
    status: str  # added | deleted | modified | renamed | unchanged
    cells: tuple[CellChange, ...]
    metadata: tuple[MetadataChange, ...]
    unchanged: int
    paired: tuple[str, ...] = field(default=())  # paired scripts changed with this notebook
    language: str | None = None  # the kernel's language, for highlighting code cells

    @property
    def counts(self) -> Counts:
        c = self.cells
        return Counts(
            added=sum(1 for x in c if x.change == "added"),
            removed=sum(1 for x in c if x.change == "removed"),
            modified=sum(1 for x in c if x.change in ("modified", "moved") and x.source_changed),
            moved=sum(1 for x in c if x.change == "moved"),
            outputs=sum(1 for x in c if x.outputs and x.change in ("modified", "moved")),
            metadata=sum(1 for x in c if x.metadata),
            unchanged=self.unchanged,
        )

    @property
    def sources_changed(self) -> bool:
        """Whether a reader of the code would see a change (cells, order, types, sources)."""
        return self.status in ("added", "deleted") or any(
            c.source_changed or c.moved for c in self.cells
        )

    @property
    def changed(self) -> bool:
        return self.status != "unchanged" and (
            bool(self.cells)
            or bool(self.metadata)
            or self.status in ("added", "deleted", "renamed")
        )


@dataclass(frozen=True)
class Report:
    """What every renderer draws: the notebooks that changed between two sides."""

    old_label: str
    new_label: str
    notebooks: tuple[NotebookDiff, ...]
    notes: tuple[str, ...] = ()  # e.g. a paired script changed without its notebook

    @property
    def counts(self) -> Counts:
        total = Counts()
        for nb in self.notebooks:
            total = total + nb.counts
        return total

    @property
    def sources_changed(self) -> bool:
        return any(nb.sources_changed for nb in self.notebooks)

    @property
    def changed(self) -> bool:
        return any(nb.changed for nb in self.notebooks)


def _compact(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= 120 else text[:117] + "..."


def metadata_changes(
    old: dict[str, Any], new: dict[str, Any], ignore: Sequence[str]
) -> tuple[MetadataChange, ...]:
    """Changed top-level keys, ignoring volatile ones (dotted keys reach one level down)."""
    old, new = _without(old, ignore), _without(new, ignore)
    changes = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a != b:
            changes.append(
                MetadataChange(
                    k, None if k not in old else _compact(a), None if k not in new else _compact(b)
                )
            )
    return tuple(changes)


def _without(meta: Any, ignore: Sequence[str]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        return {}
    out = {k: v for k, v in meta.items() if k not in ignore}
    for dotted in (k for k in ignore if "." in k):
        top, _, rest = dotted.partition(".")
        if isinstance(out.get(top), dict):
            out[top] = _without(out[top], (rest,))
    return out


def whitespace_change(a: str, b: str) -> str | None:
    """A short description of how ``a`` and ``b`` differ in line breaks only, else None."""
    if a == b:
        return None
    parts = []
    if ("\r\n" in a) != ("\r\n" in b):
        parts.append("line endings CRLF -> LF" if "\r\n" in a else "line endings LF -> CRLF")
    ends_a, ends_b = a.endswith(("\n", "\r")), b.endswith(("\n", "\r"))
    if ends_a != ends_b:
        parts.append("final newline removed" if ends_a else "final newline added")
    return "; ".join(parts) or "line breaks changed"


def _source_diff(a: str, b: str, context: int) -> tuple[str, ...]:
    if a == b:
        return ()
    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=context)
    return tuple(lines)[2:]


def _outputs(cell: Cell) -> list[dict[str, Any]]:
    outs = cell.get("outputs") if cell.get("cell_type") == "code" else None
    return outs if isinstance(outs, list) else []


def _cell_id(cell: Cell) -> str | None:
    cid = cell.get("id")
    return cid if isinstance(cid, str) else None


def _one_side(cell: Cell, index: int, change: str, budget: PixelBudget) -> CellChange:
    src = source_text(cell)
    lines = tuple(("+" if change == "added" else "-") + s for s in src.splitlines())
    before, after = ([], _outputs(cell)) if change == "added" else (_outputs(cell), [])
    outs = tuple(diff_outputs(before, after, budget))
    return CellChange(
        change,
        index if change == "removed" else None,
        index if change == "added" else None,
        str(cell.get("cell_type")),
        None,
        _cell_id(cell),
        src if change == "removed" else "",
        src if change == "added" else "",
        lines,
        outs,
    )


def _attachment_changes(old: Any, new: Any) -> tuple[MetadataChange, ...]:
    """Images pasted into markdown cells change without their source changing."""
    a = old if isinstance(old, dict) else {}
    b = new if isinstance(new, dict) else {}
    if a == b:
        return ()
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return tuple(
        MetadataChange(
            f"attachments.{k}",
            "present" if k in a else None,
            ("changed" if k in a else "added") if k in b else None,
        )
        for k in changed
    )


def _pair(
    a: Cell, b: Cell, i: int, j: int, is_moved: bool, settings: DiffSettings, budget: PixelBudget
) -> CellChange | None:
    sa, sb = source_text(a), source_text(b)
    outs_a, outs_b = _outputs(a), _outputs(b)
    out_changes = () if outs_a == outs_b else tuple(diff_outputs(outs_a, outs_b, budget))
    meta = metadata_changes(
        a.get("metadata", {}), b.get("metadata", {}), settings.ignore_cell_metadata
    )
    meta += _attachment_changes(a.get("attachments"), b.get("attachments"))
    same_type = a.get("cell_type") == b.get("cell_type")
    if sa == sb and not out_changes and not meta and same_type and not is_moved:
        return None
    return CellChange(
        "moved" if is_moved else "modified",
        i,
        j,
        str(b.get("cell_type")),
        str(a.get("cell_type")),
        _cell_id(b) or _cell_id(a),
        sa,
        sb,
        _source_diff(sa, sb, settings.context),
        out_changes,
        meta,
    )


def diff_notebooks(
    old: Notebook | None,
    new: Notebook | None,
    path: str,
    *,
    old_path: str | None = None,
    settings: DiffSettings | None = None,
    budget: PixelBudget | None = None,
) -> NotebookDiff:
    """The change from ``old`` to ``new``; ``None`` on one side means added / deleted."""
    settings = settings or DiffSettings()
    budget = budget or PixelBudget(settings.max_images)
    old_cells: list[Cell] = old.get("cells", []) if old else []
    new_cells: list[Cell] = new.get("cells", []) if new else []
    if old is None or new is None:
        kind = "added" if old is None else "removed"
        cells = new_cells if old is None else old_cells
        changes = tuple(_one_side(c, k, kind, budget) for k, c in enumerate(cells))
        status = "added" if old is None else "deleted"
        return NotebookDiff(
            path, old_path, status, changes, (), 0, language=language(new or old or {})
        )
    matches = align(old_cells, new_cells)
    moves = moved(matches)
    result: list[CellChange] = []
    unchanged = 0
    for i, j in order(len(old_cells), len(new_cells), matches):
        if i is None and j is not None:
            result.append(_one_side(new_cells[j], j, "added", budget))
        elif j is None and i is not None:
            result.append(_one_side(old_cells[i], i, "removed", budget))
        elif i is not None and j is not None:
            change = _pair(old_cells[i], new_cells[j], i, j, i in moves, settings, budget)
            if change is None:
                unchanged += 1
            else:
                result.append(change)
    meta = metadata_changes(
        old.get("metadata", {}),
        new.get("metadata", {}),
        (*settings.ignore_notebook_metadata, "language_info"),
    )
    meta += _language_change(old, new)
    renamed = old_path is not None and old_path != path
    status = "modified" if result or meta else ("renamed" if renamed else "unchanged")
    return NotebookDiff(
        path, old_path, status, tuple(result), meta, unchanged, language=language(new)
    )


def language(nb: Notebook) -> str | None:
    """The notebook's programming language, from language_info, else the kernelspec."""
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return None
    for key, field_name in (("language_info", "name"), ("kernelspec", "language")):
        table = meta.get(key)
        value = table.get(field_name) if isinstance(table, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _language_change(old: Notebook, new: Notebook) -> tuple[MetadataChange, ...]:
    """language_info counts by name only (its version is the local interpreter's)."""

    def name(nb: Notebook) -> Any:
        info = nb.get("metadata", {}).get("language_info")
        return info.get("name") if isinstance(info, dict) else None

    a, b = name(old), name(new)
    if a == b:
        return ()
    return (
        MetadataChange(
            "language_info.name",
            None if a is None else _compact(a),
            None if b is None else _compact(b),
        ),
    )
