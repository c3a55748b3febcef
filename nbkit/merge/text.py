"""Line-level merge of text with git-style conflict markers, and the way back out of them.

Used for cell sources (one small text per cell, so a process per cell for ``git merge-file``
would cost more than the merge) and for notebook files a plain git text merge left broken.
The three-way algorithm is diff3's: regions where base, ours and theirs all agree are kept;
between them, a side that changed wins over a side that did not, and two different changes
are a conflict.
"""

from __future__ import annotations

from collections.abc import Iterator
from difflib import SequenceMatcher
from typing import NamedTuple

from nbkit import notebook

OURS_MARK = "<<<<<<< ours"
BASE_MARK = "||||||| base"
SEP_MARK = "======="
THEIRS_MARK = ">>>>>>> theirs"
DELETED = " (cell deleted)"  # label of the side that deleted a cell the other side edited
TYPE_LABEL = " (cell type: {})"  # label of each side when the sides' cell types differ
PREFER = ("ours", "theirs")


class TextMerge(NamedTuple):
    text: str
    conflicts: int  # conflict hunks left marked in ``text``
    settled: int = 0  # conflict hunks settled by taking the preferred side


class Sides(NamedTuple):
    ours: str
    theirs: str
    hunks: int  # how many marked hunks were split


class UnbalancedMarkers(ValueError):
    """Conflict markers that do not open, separate and close in order."""


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _git_lines(text: str) -> list[str]:
    """Lines as git writes markers: only '\\n' ends a line (``_lines`` splits at more)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _terminated(lines: list[str]) -> list[str]:
    """The lines with a final newline, so a marker never ends up on a content line."""
    if lines and not lines[-1].endswith(("\n", "\r")):
        return [*lines[:-1], lines[-1] + "\n"]
    return lines


def _hunk(
    ours: list[str], base: list[str] | None, theirs: list[str], labels: tuple[str, str] = ("", "")
) -> list[str]:
    out = [OURS_MARK + labels[0] + "\n", *_terminated(ours)]
    if base is not None:
        out += [BASE_MARK + "\n", *_terminated(base)]
    return [*out, SEP_MARK + "\n", *_terminated(theirs), THEIRS_MARK + labels[1] + "\n"]


def _sync_regions(base: list[str], a: list[str], b: list[str]) -> list[tuple[int, ...]]:
    """Stretches where base, a and b all agree: (base_start, base_end, a_start, .., b_end)."""
    am = SequenceMatcher(None, base, a, autojunk=False).get_matching_blocks()
    bm = SequenceMatcher(None, base, b, autojunk=False).get_matching_blocks()
    ia = ib = 0
    regions: list[tuple[int, ...]] = []
    while ia < len(am) and ib < len(bm):
        abase, amatch, alen = am[ia]
        bbase, bmatch, blen = bm[ib]
        start, end = max(abase, bbase), min(abase + alen, bbase + blen)
        if start < end:
            asub, bsub = amatch + start - abase, bmatch + start - bbase
            regions.append((start, end, asub, asub + end - start, bsub, bsub + end - start))
        if abase + alen < bbase + blen:
            ia += 1
        else:
            ib += 1
    regions.append((len(base), len(base), len(a), len(a), len(b), len(b)))
    return regions


def _regions(
    base: list[str], a: list[str], b: list[str]
) -> Iterator[tuple[list[str], list[str], list[str]] | list[str]]:
    """Merged lines (a list of str) or a conflict (a tuple: ours, base, theirs lines)."""
    iz = ia = ib = 0
    for zstart, zend, astart, aend, bstart, bend in _sync_regions(base, a, b):
        za, aa, ba = base[iz:zstart], a[ia:astart], b[ib:bstart]
        if za or aa or ba:
            if aa == ba:
                yield aa
            elif aa == za:
                yield ba
            elif ba == za:
                yield aa
            else:
                yield (aa, za, ba)
        if zend > zstart:
            yield base[zstart:zend]
        iz, ia, ib = zend, aend, bend


def _finish(parts: list[str], conflicts: int, ours: str) -> TextMerge:
    text = "".join(parts)
    if conflicts and text.endswith("\n") and not ours.endswith("\n"):
        text = text[:-1]  # Jupyter sources have no final newline; keep that shape.
    return TextMerge(text, conflicts)


def merge3(base: str, ours: str, theirs: str, prefer: str | None = None) -> TextMerge:
    """Three-way line merge; conflicts are marked, or resolved to ``prefer``'s side."""
    if ours == theirs or base == theirs:
        return TextMerge(ours, 0)
    if base == ours:
        return TextMerge(theirs, 0)
    parts: list[str] = []
    conflicts = settled = 0
    for region in _regions(_lines(base), _lines(ours), _lines(theirs)):
        if isinstance(region, list):
            parts += region
        elif prefer in PREFER:
            settled += 1
            parts += region[0] if prefer == "ours" else region[2]
        else:
            conflicts += 1
            parts += _hunk(region[0], region[1], region[2])
    return _finish(parts, conflicts, ours)._replace(settled=settled)


def merge2(ours: str, theirs: str, prefer: str | None = None) -> TextMerge:
    """Two-way merge (no base known): lines both sides share are kept, the rest marked."""
    if ours == theirs:
        return TextMerge(ours, 0)
    if prefer in PREFER:
        return TextMerge(ours if prefer == "ours" else theirs, 0, 1)
    a, b = _lines(ours), _lines(theirs)
    parts: list[str] = []
    conflicts = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            parts += a[i1:i2]
        else:
            conflicts += 1
            parts += _hunk(a[i1:i2], None, b[j1:j2])
    return _finish(parts, conflicts, ours)


def marked_deletion(text: str, deleted_by: str) -> str:
    """A cell one side deleted and the other edited: the edit, marked against nothing."""
    lines = _lines(text)
    if deleted_by == "ours":
        return _finish(_hunk([], None, lines, (DELETED, "")), 1, text).text
    return _finish(_hunk(lines, None, [], ("", DELETED)), 1, text).text


def marked_types(ours: str, ours_type: str, theirs: str, theirs_type: str) -> str:
    """A cell whose type differs between the sides (no base to tell who changed it): the
    whole source as one hunk, each side labelled with its type, e.g. ``(cell type: code)``."""
    labels = (TYPE_LABEL.format(ours_type), TYPE_LABEL.format(theirs_type))
    return _finish(_hunk(_lines(ours), None, _lines(theirs), labels), 1, ours).text


def labelled_type(text: str, side: str) -> str | None:
    """The cell type ``marked_types`` recorded for ``side``, if the text has that label."""
    lines = text.splitlines()
    if len(lines) < 2:
        return None
    mark, line = (OURS_MARK, lines[0]) if side == "ours" else (THEIRS_MARK, lines[-1])
    prefix, suffix = mark + TYPE_LABEL.split("{}")[0], TYPE_LABEL.split("{}")[1]
    if line.startswith(prefix) and line.endswith(suffix):
        return line[len(prefix) : len(line) - len(suffix)] or None
    return None


def deleted_by(text: str) -> str | None:
    """Which side deleted the cell whose source ``marked_deletion`` wrote, if any."""
    lines = text.splitlines()
    if len(lines) >= 2 and lines[0] == OURS_MARK + DELETED:
        return "ours"
    if len(lines) >= 2 and lines[-1] == THEIRS_MARK + DELETED:
        return "theirs"
    return None


def split_markers(text: str) -> Sides:
    """The two texts a set of ``<<<<<<<``/``=======``/``>>>>>>>`` hunks was made from.

    A ``|||||||`` base section (diff3 style) is dropped. Raises ``UnbalancedMarkers``
    (with the 1-based line) when the markers do not nest as git writes them.
    """
    ours: list[str] = []
    theirs: list[str] = []
    state, hunks = "both", 0
    transitions = {("both", "<"): "ours", ("ours", "|"): "base", ("ours", "="): "theirs"}
    transitions |= {("base", "="): "theirs", ("theirs", ">"): "both"}
    for number, line in enumerate(_git_lines(text), 1):
        mark = notebook.conflict_marker(line)
        nxt = transitions.get((state, mark)) if mark is not None else None
        if nxt is not None:
            hunks += state == "both"
            state = nxt
            continue
        if mark in ("<", ">"):  # "=======" alone may be a Markdown heading underline
            raise UnbalancedMarkers(f"unexpected conflict marker at line {number}")
        if state in ("both", "ours"):
            ours.append(line)
        if state in ("both", "theirs"):
            theirs.append(line)
    if state != "both":
        raise UnbalancedMarkers("a conflict hunk is not closed by >>>>>>>")
    return Sides("".join(ours), "".join(theirs), hunks)


def settle(text: str, prefer: str) -> str:
    """A marked text with every hunk replaced by ``prefer``'s side.

    A source the merge marked lost nothing but its missing final newline (markers need
    whole lines); it gets that shape back.
    """
    sides = split_markers(text)
    chosen = sides.ours if prefer == "ours" else sides.theirs
    if chosen.endswith("\n") and not text.endswith("\n"):
        chosen = chosen[:-1]
    return chosen
