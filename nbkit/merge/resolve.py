"""Repair a notebook git's text merge broke with ``<<<<<<<`` markers in its JSON.

While git still holds the merge's stages (base, ours, theirs) the merge is redone properly
from them (also when the file is ours untouched: the driver did not run). Once they are
gone (after ``git add``), the two sides are read back out of the markers and merged two-way.
A notebook that is valid JSON but has conflicts marked inside cells (the merge driver's
output) can be settled with ``prefer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from nbkit import git, notebook
from nbkit.config import Config
from nbkit.errors import BadInput
from nbkit.merge import text as textmerge
from nbkit.merge.notebook import (
    DEFAULT_SETTINGS,
    MergeResult,
    MergeSettings,
    check_result,
    fit_type,
    load_side,
    merge_notebooks,
)
from nbkit.notebook import Notebook


class Resolved(NamedTuple):
    path: str
    how: str  # "stages", "markers", "cells" (markers inside cells settled), "nothing"
    marked: list[int]  # cells (0-based) whose source still holds conflict markers
    result: MergeResult | None
    script: Path | None = None  # the paired script, if the notebook has one
    script_how: str | None = None  # "regenerated", "pending", "in step", "differs"


def marked_cells(nb: Notebook) -> list[int]:
    """Cells whose source holds a conflict hunk (left by the driver or by resolve)."""
    return [
        k
        for k, cell in enumerate(nb.get("cells", []))
        if notebook.has_conflict_markers(notebook.source_text(cell))
    ]


def _unmerged(path: Path) -> bool:
    """Whether git lists ``path`` as conflicted (a merge in progress, not yet added)."""
    root = git.toplevel(path.parent)
    return root is not None and bool(git.unmerged_blobs(root, git.relpath(root, path)))


def _stages(path: Path) -> tuple[Notebook | None, Notebook, Notebook] | None:
    """Base, ours and theirs from git's index while the merge is unresolved, else None."""
    root = git.toplevel(path)
    if root is None:
        return None
    rel = git.relpath(root, path)
    stages = git.unmerged_blobs(root, rel)
    if 2 not in stages or 3 not in stages:
        return None
    blobs = git.read_blobs(root, stages.values())
    ours = load_side(blobs[stages[2]], str(path), "ours, git stage 2")
    theirs = load_side(blobs[stages[3]], str(path), "theirs, git stage 3")
    base = load_side(blobs[stages[1]], str(path), "base, git stage 1") if 1 in stages else None
    return base, ours, theirs


def _side(text: str, side: str, path: Path) -> Notebook:
    try:
        return notebook.loads(text.encode("utf-8"), path)
    except BadInput as exc:
        raise BadInput(
            f"the {side} side of the conflict markers is not a valid notebook ({exc.message})",
            path,
            hint="edit the file by hand, or take the other side: nbkit resolve --ours/--theirs",
        ) from None


def _from_markers(data: bytes, path: Path, prefer: str | None) -> MergeResult:
    try:
        sides = textmerge.split_markers(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput("not UTF-8 text", path) from None
    except textmerge.UnbalancedMarkers as exc:
        raise BadInput(f"cannot read the conflict markers: {exc}", path) from None
    if prefer in textmerge.PREFER:  # one side is enough: the other may be broken JSON
        text = sides.ours if prefer == "ours" else sides.theirs
        chosen = _side(text, prefer, path)
        return merge_notebooks(None, chosen, chosen)
    ours, theirs = _side(sides.ours, "ours", path), _side(sides.theirs, "theirs", path)
    return merge_notebooks(None, ours, theirs)


def _settle_cells(nb: Notebook, prefer: str) -> Notebook:
    """Each marked cell's source becomes the preferred side of its hunks.

    A cell marked as deleted by the preferred side (a delete/edit conflict) goes; a cell
    whose hunk is labelled with each side's cell type takes the preferred side's type.
    """
    cells = []
    for cell in nb.get("cells", []):
        text = notebook.source_text(cell)
        if notebook.has_conflict_markers(text):
            if textmerge.deleted_by(text) == prefer:
                continue
            cell = {**cell, "source": textmerge.settle(text, prefer)}
            cell_type = textmerge.labelled_type(text, prefer)
            if cell_type is not None:  # a cell-type conflict: the side's type too
                cell = fit_type({**cell, "cell_type": cell_type})
        cells.append(cell)
    return {**nb, "cells": cells}


def _settled(nb: Notebook, path: Path, prefer: str) -> Notebook:
    try:
        return _settle_cells(nb, prefer)
    except textmerge.UnbalancedMarkers as exc:
        raise BadInput(f"cannot read the conflict markers in a cell: {exc}", path) from None


def _repair(data: bytes, path: Path, settings: MergeSettings) -> Resolved:
    """The repaired notebook (not written yet); ``how`` "nothing" leaves the file alone."""
    stages = _stages(path)
    if notebook.has_conflict_markers(data):
        if stages is not None:
            result = merge_notebooks(*stages, settings)
            return Resolved(str(path), "stages", [], result)
        result = _from_markers(data, path, settings.prefer)
        return Resolved(str(path), "markers", [], result)
    nb = notebook.loads(data, path)
    if stages is not None and nb == stages[1]:
        # git still holds the merge and the file is ours untouched: the driver did not run
        # or refused (nbkit not on git's PATH, an older nbkit). Redo the merge.
        return Resolved(str(path), "stages", [], merge_notebooks(*stages, settings))
    if not marked_cells(nb) or settings.prefer is None:
        return Resolved(str(path), "nothing", marked_cells(nb), None)
    settled = _settled(nb, path, settings.prefer)
    return Resolved(str(path), "cells", [], MergeResult(settled, [], []))


def resolve_file(path: str | Path, settings: MergeSettings = DEFAULT_SETTINGS) -> Resolved:
    """Repair one notebook in place (atomically); see the module docstring for the order."""
    path = Path(path)
    data = notebook.read_bytes(path)
    done = _repair(data, path, settings)
    if done.result is None:
        return done
    nb = done.result.notebook
    check_result(nb, str(path))
    notebook.write(path, nb, original=data)
    result = done.result if done.how != "cells" else None
    return done._replace(marked=marked_cells(nb), result=result)


# --- paired notebooks: one conflict in two files -----------------------------------------


def notebook_of(path: Path, config: Config) -> Path:
    """The notebook to resolve for ``path``: itself, or the notebook of a paired script."""
    if path.suffix == ".ipynb":
        return path
    from nbkit.pairing import paths

    try:
        pair = paths.pair_of(path, config)
    except BadInput:  # its notebook is broken by markers too: the twin beside it
        pair = None
    if pair is not None:
        return pair.notebook
    twin = path.with_suffix(".ipynb")
    return twin if twin.is_file() else path


def resolve_script(nb_path: Path, config: Config) -> tuple[Path, str] | None:
    """Bring a resolved notebook's paired script in step (None: the notebook is unpaired).

    The script's conflict is the notebook's conflict seen through git's text merge: while
    git lists the script as conflicted, or it holds conflict markers, it is written again
    from the resolved notebook ("regenerated"), or, while cells of the notebook still hold
    conflict markers, left for later ("pending"). Otherwise it is left alone and reported
    "in step" or "differs" (a decision for ``nbkit sync --prefer``).
    """
    from nbkit.pairing import convert, paths

    nb = notebook.read(nb_path)
    formats = paths.notebook_formats(nb) or paths.declared_for(nb_path, config)
    pair = paths.pair_from(paths.real_folder(nb_path), formats, config) if formats else None
    if pair is None or formats is None or not pair.script.is_file():
        return None
    data = notebook.read_bytes(pair.script)
    if _unmerged(pair.script) or notebook.has_conflict_markers(data):
        if marked_cells(nb):  # a script cannot carry markers: write it once they are gone
            return pair.script, "pending"
        convert.write_script(pair, nb, formats)
        return pair.script, "regenerated"
    try:
        same = convert.inputs_of(convert.read_script(data, pair.script, pair.fmt))
    except BadInput:
        return pair.script, "differs"
    return pair.script, "in step" if same == convert.inputs_of(nb) else "differs"


def resolve_pair(
    path: str | Path, config: Config, settings: MergeSettings = DEFAULT_SETTINGS
) -> Resolved:
    """``resolve_file`` for a notebook or its paired script, then the script from it."""
    nb_path = notebook_of(Path(path), config)
    done = resolve_file(nb_path, settings)
    script = resolve_script(nb_path, config)
    if script is None:
        return done
    return done._replace(script=script[0], script_how=script[1])
