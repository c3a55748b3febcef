"""Three-way notebook merge: cells matched by id (or content), then merged one by one.

Outputs, execution counts and metadata never conflict (a side that changed wins; two
different scalar changes keep ours and are noted). Only real source conflicts do, and they
are marked inside the cell's source, so the result is always a notebook Jupyter opens. With
no base (``base=None``: an add/add merge, or a repair of a file git's text merge broke) the
merge is two-way: every difference between the sides is kept and marked.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import notebook
from nbkit.errors import BadInput, UsageError
from nbkit.fsutil import atomic_write_bytes, atomic_write_text, detect_newline
from nbkit.merge import text as textmerge
from nbkit.notebook import Notebook

Cell = dict[str, Any]
_MISSING: Any = object()
_VALID_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # nbformat 4.5's rule for a cell id


@dataclass(frozen=True)
class MergeSettings:
    """``prefer``: settle source conflicts with one side ("ours"/"theirs") instead of marks."""

    prefer: str | None = None

    def __post_init__(self) -> None:
        if self.prefer not in (None, *textmerge.PREFER):
            raise UsageError(f"prefer must be 'ours' or 'theirs', not {self.prefer!r}")


DEFAULT_SETTINGS = MergeSettings()


class Conflict(NamedTuple):
    cell: int  # index in the merged notebook
    cell_id: str | None
    kind: str  # "source": both edited the source; "delete-edit": deleted vs edited;
    # "cell-type": the sides' types differ and no base tells which side changed it


class Note(NamedTuple):
    cell: int | None  # None: about the notebook
    kind: str  # "metadata", "cell-type", "moved", "new-id", "outputs-cleared", "deleted"
    detail: str


class MergeResult(NamedTuple):
    notebook: Notebook
    conflicts: list[Conflict]
    notes: list[Note]

    def report(self, path: str) -> dict[str, Any]:
        """The machine-readable conflict report (``--report``)."""
        return {
            "path": path,
            "clean": not self.conflicts,
            "conflicts": [c._asdict() for c in self.conflicts],
            "notes": [n._asdict() for n in self.notes],
        }


@dataclass
class _Slot:
    """One cell of the result to be: its versions in base, ours and theirs (None: absent)."""

    base: Cell | None
    ours: Cell | None
    theirs: Cell | None
    by_place: frozenset[str] = frozenset()  # sides matched to base only by their place


# --- matching cells ------------------------------------------------------------------------


def _id(cell: Cell) -> str | None:
    value = cell.get("id")
    return value if isinstance(value, str) else None


def _fingerprint(cell: Cell) -> tuple[str, str]:
    return (str(cell.get("cell_type")), notebook.source_text(cell))


def match_cells(old: list[Cell], new: list[Cell]) -> tuple[list[int | None], set[int]]:
    """For each cell of ``new``, the index of the ``old`` cell it continues (None: added),
    and the cells of ``new`` matched only by their place (a rewrite, without ids).

    The review's aligner decides (ids first, then content, then similarity; moves included),
    so ``nbkit diff`` and the merge agree on which cell is which.
    """
    from nbkit.align import align, pair_rewrites

    matches = align(old, new)
    known = set(matches)
    pair_rewrites(old, new, matches)  # without ids, a rewritten cell is still that cell
    result: list[int | None] = [None] * len(new)
    for i, j in matches.items():
        result[j] = i
    return result, {j for i, j in matches.items() if i not in known}


def _build_slots(
    base: list[Cell], ours: list[Cell], theirs: list[Cell]
) -> tuple[list[_Slot], list[int], list[int]]:
    """Slots (base cells first, in order) and each side's cell order as slot numbers."""
    slots = [_Slot(cell, None, None) for cell in base]
    ours_order: list[int] = []
    added: dict[tuple[str, str], list[int]] = defaultdict(list)
    found, by_place = match_cells(base, ours)
    for j, (cell, i) in enumerate(zip(ours, found, strict=True)):
        if i is None:
            slots.append(_Slot(None, cell, None))
            i = len(slots) - 1
            added[_fingerprint(cell)].append(i)
        else:
            slots[i].ours = cell
            if j in by_place:
                slots[i].by_place |= {"ours"}
        ours_order.append(i)
    theirs_order: list[int] = []
    found, by_place = match_cells(base, theirs)
    for j, (cell, i) in enumerate(zip(theirs, found, strict=True)):
        if i is None:  # added by theirs: the same cell added by ours too appears once
            same = [k for k in added.get(_fingerprint(cell), ()) if slots[k].theirs is None]
            if same:
                i = same[0]
                slots[i].theirs = cell
            else:
                slots.append(_Slot(None, None, cell))
                i = len(slots) - 1
        else:
            slots[i].theirs = cell
            if j in by_place:
                slots[i].by_place |= {"theirs"}
        theirs_order.append(i)
    return slots, ours_order, theirs_order


def _build_slots_two_way(
    ours: list[Cell], theirs: list[Cell]
) -> tuple[list[_Slot], list[int], list[int]]:
    """Without a base, ours and theirs are matched to each other directly."""
    slots = [_Slot(None, cell, None) for cell in ours]
    theirs_order: list[int] = []
    for cell, i in zip(theirs, match_cells(ours, theirs)[0], strict=True):
        if i is None:
            slots.append(_Slot(None, None, cell))
            i = len(slots) - 1
        else:
            slots[i].theirs = cell
        theirs_order.append(i)
    return slots, list(range(len(ours))), theirs_order


# --- cell order ----------------------------------------------------------------------------


def _stable(order: list[int]) -> set[int]:
    """The longest run of ``order`` still in base order (a longest increasing subsequence,
    the same patience algorithm the diff aligns cells with)."""
    from nbkit.align import longest_chain

    chain = longest_chain({value: k for k, value in enumerate(order)})
    return {value for value, _k in chain}


def _merge_order(
    n_base: int, ours_order: list[int], theirs_order: list[int], keep: set[int]
) -> tuple[list[int], set[int]]:
    """The result's slot order: ours' order with theirs' moves and additions woven in.

    A cell theirs moved (and ours did not) goes after the cell it follows in theirs; a cell
    only theirs has goes there too, after any cells only ours added at that spot. Returns
    the order and the cells both sides moved (ours' place kept).
    """
    in_ours, in_theirs = set(ours_order), set(theirs_order)
    common = {s for s in range(n_base) if s in in_ours and s in in_theirs}
    ours_common = [s for s in ours_order if s in common]
    theirs_common = [s for s in theirs_order if s in common]
    moved_ours = common - _stable(ours_common)
    moved_theirs = common - _stable(theirs_common)
    follow_theirs = moved_theirs - moved_ours
    result = [s for s in ours_order if s in keep and s not in follow_theirs]
    placed = set(result)
    anchor = -1
    for s in theirs_order:
        if s not in placed and s in keep:
            pos = result.index(anchor) + 1 if anchor >= 0 else 0
            while pos < len(result) and result[pos] not in in_theirs:
                pos += 1
            result.insert(pos, s)
            placed.add(s)
        if s in placed:
            anchor = s
    return result, moved_ours & moved_theirs


# --- cell content --------------------------------------------------------------------------


def _merge_value(b: Any, o: Any, t: Any, where: str, notes: list[str]) -> Any:
    """Three-way merge of a JSON value; two different changes keep ours and are noted."""
    if o == t:
        return o
    if b is not _MISSING and b == o:
        return t
    if b is not _MISSING and b == t:
        return o
    if b is _MISSING and (o is _MISSING or t is _MISSING):
        return t if o is _MISSING else o
    if isinstance(o, dict) and isinstance(t, dict):
        return _merge_dict(b if isinstance(b, dict) else {}, o, t, where, notes)
    if where.endswith(".tags") and all(isinstance(v, list) for v in (o, t)):
        old = b if isinstance(b, list) else []  # tags: a set each side added to or took from
        kept = [v for v in o if v not in old or v in t]
        return [*kept, *(v for v in t if v not in old and v not in o)]
    notes.append(where)
    return o


def _merge_dict(
    b: dict[str, Any], o: dict[str, Any], t: dict[str, Any], where: str, notes: list[str]
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in dict.fromkeys([*o, *t, *b]):
        path = f"{where}.{key}" if where else key
        value = _merge_value(
            b.get(key, _MISSING), o.get(key, _MISSING), t.get(key, _MISSING), path, notes
        )
        if value is not _MISSING:
            merged[key] = value
    return merged


def _run_state(cell: Cell) -> tuple[Any, Any]:
    return (cell.get("outputs"), cell.get("execution_count"))


class _CellMerge(NamedTuple):
    cell: Cell | None
    conflict: str | None  # the Conflict kind, if one is marked (or settled by prefer)
    notes: list[tuple[str, str]]


def _merge_one_sided(present: Cell, base: Cell, side: str, prefer: str | None) -> _CellMerge:
    """Deleted on one side: gone if the other side left its source alone, else a conflict."""
    if _fingerprint(present) == _fingerprint(base):
        return _CellMerge(None, None, [])
    deleter = "theirs" if side == "ours" else "ours"
    what = f"deleted by {deleter}, edited by {side}"
    if prefer == deleter:
        return _CellMerge(None, None, [("settled", f"{what}; deleted ({prefer} preferred)")])
    cell = dict(present)
    if prefer is not None:
        return _CellMerge(cell, None, [("settled", f"{what}; kept the edit ({prefer} preferred)")])
    cell["source"] = textmerge.marked_deletion(notebook.source_text(present), deleter)
    return _CellMerge(cell, "delete-edit", [])


class _Source(NamedTuple):
    text: str
    side: str  # "ours", "theirs" or "both": whose source the cell ends up with
    conflict: str | None
    notes: list[tuple[str, str]]


def _merge_source(base: Cell | None, ours: Cell, theirs: Cell, prefer: str | None) -> _Source:
    """Line-level three-way merge of the source (two-way without a base)."""
    src_o, src_t = notebook.source_text(ours), notebook.source_text(theirs)
    src_b = notebook.source_text(base) if base is not None else None
    if src_o == src_t or src_b == src_t:
        return _Source(src_o, "ours", None, [])
    if src_b == src_o:
        return _Source(src_t, "theirs", None, [])
    if src_b is None:
        merged = textmerge.merge2(src_o, src_t, prefer)
    else:
        merged = textmerge.merge3(src_b, src_o, src_t, prefer)
    notes = [("settled", f"{merged.settled} conflicting hunk(s): took {prefer}")]
    return _Source(
        merged.text, "both", "source" if merged.conflicts else None, notes if merged.settled else []
    )


def _merge_fields(base: Cell, ours: Cell, theirs: Cell, cell: Cell, notes: list[str]) -> None:
    """Type, metadata, attachments and id: three-way; a clash keeps ours and is noted.

    Cells matched by content may differ in id: the side that changed it wins, as for data.
    """
    for key in ("cell_type", "metadata", "attachments", "id"):
        old, mine, other = (c.get(key, _MISSING) for c in (base, ours, theirs))
        value = _merge_value(old, mine, other, key, notes)
        cell.pop(key, None)
        if value is not _MISSING:
            cell[key] = value
    cell.setdefault("metadata", {})


def _merge_both(base: Cell | None, ours: Cell, theirs: Cell, prefer: str | None) -> _CellMerge:
    """A cell both sides kept: source line-merged, outputs follow the source, dicts merged."""
    cell = dict(ours)  # nested values are replaced, never changed in place
    type_o, type_t = str(ours.get("cell_type")), str(theirs.get("cell_type"))
    type_clash = base is None and type_o != type_t  # no base: who changed it is unknown
    if type_clash and prefer is None:
        text = textmerge.marked_types(
            notebook.source_text(ours), type_o, notebook.source_text(theirs), type_t
        )
        source = _Source(text, "both", "cell-type", [])
    else:
        source = _merge_source(base, ours, theirs, prefer)
    cell["source"] = source.text
    notes = list(source.notes)
    run_o, run_t = _run_state(ours), _run_state(theirs)
    unchanged_ours = base is not None and run_o == _run_state(base)
    if source.side == "theirs" or (
        source.side == "ours" and source.text == notebook.source_text(theirs) and unchanged_ours
    ):
        cell["outputs"], cell["execution_count"] = run_t
    elif source.side == "both":
        cell["outputs"], cell["execution_count"] = [], None
        if run_o[0] or run_t[0]:
            notes.append(("outputs-cleared", "source merged from both sides"))
    clashes: list[str] = []
    _merge_fields(base if base is not None else {}, ours, theirs, cell, clashes)
    if type_clash:  # marked in the source, or settled by prefer: not a silent "kept ours"
        clashes = [w for w in clashes if w != "cell_type"]
        cell["cell_type"] = type_t if prefer == "theirs" else type_o
    notes += [("metadata", f"{w}: both sides changed it; kept ours") for w in clashes]
    return _CellMerge(fit_type(cell), source.conflict, notes)


def fit_type(cell: Cell) -> Cell:
    """Only the keys the cell's type allows (a type change must not leave stray outputs)."""
    if cell.get("cell_type") == "code":
        if not isinstance(cell.get("outputs"), list):  # the type came from the other side
            cell["outputs"], cell["execution_count"] = [], None
        cell.setdefault("execution_count", None)
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    return cell


def _merge_slot(slot: _Slot, prefer: str | None) -> _CellMerge:
    base, ours, theirs = slot.base, slot.ours, slot.theirs
    if ours is not None and theirs is not None:
        return _merge_both(base, ours, theirs, prefer)
    present = ours if ours is not None else theirs
    if present is None:
        return _CellMerge(None, None, [])
    side = "ours" if ours is not None else "theirs"
    if base is None or side in slot.by_place:  # added, or put in a place the other emptied
        return _CellMerge(dict(present), None, [])
    return _merge_one_sided(present, base, side, prefer)


# --- the notebook --------------------------------------------------------------------------


def _new_id(used: set[str]) -> str:
    while True:
        candidate = uuid.uuid4().hex[:8]
        if candidate not in used:
            return candidate


def _fix_ids(cells: list[Cell], theirs_only: list[bool], minor: int, notes: list[Note]) -> None:
    """Unique valid ids: ours' cells keep theirs first, a clashing cell of theirs (or a cell
    whose id breaks nbformat's rule, which would make the result invalid) gets a new one."""
    used: set[str] = set()
    order = [k for k in range(len(cells)) if not theirs_only[k]]
    order += [k for k in range(len(cells)) if theirs_only[k]]
    for k in order:
        cid = _id(cells[k])
        valid = cid is not None and _VALID_ID.fullmatch(cid) is not None
        if cid is not None and valid and cid not in used:
            used.add(cid)
            continue
        if cid is None and minor < 5:
            continue
        fresh = _new_id(used)
        used.add(fresh)
        cells[k]["id"] = fresh
        why = "cell had no id"
        if cid is not None:
            why = f"id {cid!r} was taken by another cell" if valid else f"{cid!r} is no valid id"
        notes.append(Note(k, "new-id", f"{why}; given the new id {fresh!r}"))


def merge_notebooks(
    base: Notebook | None,
    ours: Notebook,
    theirs: Notebook,
    settings: MergeSettings = DEFAULT_SETTINGS,
) -> MergeResult:
    """Merge two notebooks descended from ``base`` (None: no common version known)."""
    o_cells, t_cells = ours.get("cells", []), theirs.get("cells", [])
    if base is None:
        slots, ours_order, theirs_order = _build_slots_two_way(o_cells, t_cells)
        n_base = 0
    else:
        slots, ours_order, theirs_order = _build_slots(base.get("cells", []), o_cells, t_cells)
        n_base = len(base.get("cells", []))
    merged = [_merge_slot(slot, settings.prefer) for slot in slots]
    keep = {s for s, m in enumerate(merged) if m.cell is not None}
    order, both_moved = _merge_order(n_base, ours_order, theirs_order, keep)
    cells: list[Cell] = []
    conflicts: list[Conflict] = []
    notes: list[Note] = []
    for k, s in enumerate(order):
        cell, conflict, cell_notes = merged[s]
        assert cell is not None
        cells.append(cell)
        if conflict:
            conflicts.append(Conflict(k, _id(cell), conflict))
        notes += [Note(k, kind, detail) for kind, detail in cell_notes]
        if s in both_moved:
            notes.append(Note(k, "moved", "moved on both sides; kept ours' place"))
    for s in set(range(len(slots))) - keep:  # cells gone by a settled delete/edit conflict
        notes += [Note(None, kind, detail) for kind, detail in merged[s].notes]
    nb = _merge_notebook_fields(base, ours, theirs, notes)
    theirs_only = [slots[s].ours is None for s in order]
    _fix_ids(cells, theirs_only, nb["nbformat_minor"], notes)
    nb["cells"] = cells
    return MergeResult(nb, conflicts, notes)


def _merge_notebook_fields(
    base: Notebook | None, ours: Notebook, theirs: Notebook, notes: list[Note]
) -> Notebook:
    where: list[str] = []
    meta = _merge_value(
        (base or {}).get("metadata", {}),
        ours.get("metadata", {}),
        theirs.get("metadata", {}),
        "metadata",
        where,
    )
    notes += [Note(None, "metadata", f"{w}: both sides changed it; kept ours") for w in where]
    minor = max(int(ours.get("nbformat_minor", 0)), int(theirs.get("nbformat_minor", 0)))
    return {"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": minor}


# --- files ---------------------------------------------------------------------------------


def check_result(nb: Notebook, name: str) -> None:
    """Refuse a result that is not a valid notebook (nothing is written then)."""
    problems = [] if notebook.schema_ok(nb) else notebook.validate_schema(nb, name)
    if problems:
        raise BadInput(
            f"the merged notebook would be invalid ({problems[0]}); nothing written", name
        )
    ids = [_id(c) for c in nb["cells"] if _id(c) is not None]
    if len(ids) != len(set(ids)):
        raise BadInput("the merged notebook would have duplicate cell ids; nothing written", name)


def load_side(data: bytes, name: str, side: str) -> Notebook:
    """One version of ``name`` being merged; errors say which version (ours, theirs...)."""
    try:
        return notebook.loads(data, f"{name} ({side})")
    except BadInput as exc:
        if exc.hint and exc.hint.startswith("nbkit resolve"):
            exc.hint = f"nbkit resolve {name}"  # the file, not "name (ours)"
        raise


def merge_files(
    base: str | Path,
    ours: str | Path,
    theirs: str | Path,
    *,
    name: str | None = None,
    settings: MergeSettings = DEFAULT_SETTINGS,
) -> MergeResult:
    """git's merge driver contract: merge base/ours/theirs and write the result to ``ours``.

    ``name`` is the path git merges (%P), used in messages. Ours is left untouched when any
    side is unreadable or the result would not validate.
    """
    name = name or str(ours)
    # Each side's bytes are dropped as soon as they are parsed: three raw files held through
    # the merge were a third of the peak memory on big notebooks. Of ours only the line
    # ending and a digest are kept (to write CRLF back as CRLF and skip an unchanged file).
    base_nb = _read_side(base, name, "base", empty_ok=True)
    ours_data = notebook.read_bytes(ours)
    newline, digest = detect_newline(ours_data), hashlib.sha256(ours_data).digest()
    ours_nb = load_side(ours_data, name, "ours")
    del ours_data
    theirs_nb = _read_side(theirs, name, "theirs")
    assert theirs_nb is not None
    result = merge_notebooks(base_nb, ours_nb, theirs_nb, settings)
    del base_nb, ours_nb, theirs_nb  # what the result does not share is freed now
    check_result(result.notebook, name)
    data = notebook.to_bytes(result.notebook, newline)
    if hashlib.sha256(data).digest() != digest:
        atomic_write_bytes(ours, data)
    return result


def _read_side(path: str | Path, name: str, side: str, empty_ok: bool = False) -> Notebook | None:
    """One side parsed, its bytes released on return. git passes an empty base when the
    file has no common ancestor (added on both sides): None then."""
    data = notebook.read_bytes(path)
    if empty_ok and not data.strip():
        return None
    return load_side(data, name, side)


def write_report(path: str | Path, result: MergeResult, name: str) -> None:
    """The JSON conflict report, written atomically (sorted keys: stable for diffs)."""
    import json

    text = json.dumps(result.report(name), indent=1, sort_keys=True, ensure_ascii=False)
    atomic_write_text(path, text + "\n")
