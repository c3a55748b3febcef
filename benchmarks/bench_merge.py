"""Merge: git's merge driver on two branches of a 2,000-cell executed notebook.

Each branch edits 5% of the cells (not the same ones), adds 25 cells and re-runs some
(outputs never conflict, so the "clean" case merges cleanly); in the "conflicts" case
20 cells are also edited on both sides. nbkit's driver (``nbkit merge-driver``) is timed as
git runs it, whole process, against nbdime's ``nbmerge`` on the same three files and
against the floor (a bare Python that parses the three files and writes one).
"""

from __future__ import annotations

import copy
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import corpus
from benchmarks.harness import (
    VENV_BIN,
    Row,
    Settings,
    Target,
    command,
    exit_note,
    measure,
    nbkit_has,
    tool,
    unavailable,
)

FAMILY = "merge"
CELLS = 2000
_FLOOR = (
    "import json,sys; s=[json.load(open(p)) for p in sys.argv[1:4]]; "
    "json.dump(s[1], open(sys.argv[2], 'w'), indent=1, sort_keys=True)"
)


def _branch(
    base: dict[str, Any], rng: random.Random, tag: str, own: range, shared: list[int]
) -> Any:
    """A branch: 100 cells of its own half edited, ``shared`` cells rewritten, cells added."""
    nb = copy.deepcopy(base)
    cells = nb["cells"]
    for k in rng.sample(own, len(cells) // 20):
        cells[k]["source"] = [*cells[k]["source"], f"\n# edited on {tag}"]
    for k in shared:  # the same cells edited differently on both sides: real conflicts
        cells[k]["source"] = [f"# {tag} rewrote this cell\n", *cells[k]["source"]]
    for k in rng.sample(range(len(cells)), 40):
        if cells[k]["cell_type"] == "code":
            cells[k]["execution_count"] = rng.randrange(1, 500)
    for n in range(25):
        new = {"cell_type": "markdown", "id": f"{tag}-new-{n}", "metadata": {}, "source": [tag]}
        cells.insert(rng.randrange(len(cells)), new)
    return nb


def triple(folder: Path, conflicts: int) -> Path:
    """base/ours/theirs.ipynb in ``folder`` (deterministic)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = corpus.build(corpus.NotebookSpec(cells=CELLS, seed=11))
    rng = random.Random(f"merge-{conflicts}")
    shared = rng.sample(range(CELLS), conflicts)
    sides = {"base": base, "ours": _branch(base, rng, "ours", range(0, CELLS, 2), shared)}
    sides["theirs"] = _branch(base, rng, "theirs", range(1, CELLS, 2), shared)
    for name, nb in sides.items():
        (folder / f"{name}.ipynb").write_bytes(corpus.dumps(nb))
    return folder


def _case(settings: Settings, folder: Path, label: str) -> list[Row]:
    work = folder / "work.ipynb"

    def fresh_ours() -> None:
        shutil.copyfile(folder / "ours.ipynb", work)

    files = [folder / "base.ipynb", work, folder / "theirs.ipynb"]
    nbkit = measure(
        command("nbkit merge-driver", [VENV_BIN / "nbkit", "merge-driver", *files, "nb.ipynb"]),
        settings,
        setup=fresh_ours,
        warmup=True,
    )
    floor = measure(
        command("python json floor", [VENV_BIN / "python", "-c", _FLOOR, *files]),
        settings,
        setup=fresh_ours,
        warmup=True,
    )
    rows = [Row(FAMILY, f"{label}: nbkit vs the floor", nbkit, floor, Target("<= 1 s", max_s=1))]
    nbmerge = tool("nbmerge")
    if nbmerge is None:
        return [*rows, unavailable(FAMILY, f"{label}: nbkit vs nbdime", "nbmerge not installed")]
    other = measure(
        command("nbdime nbmerge", [nbmerge, *files, "--out", folder / "nbdime.ipynb"]),
        settings,
        setup=fresh_ours,
        warmup=True,
    )
    note = exit_note(nbkit, other)
    rows.append(Row(FAMILY, f"{label}: nbkit vs nbdime", nbkit, other, Target(">= 2x", 2), note))
    return rows


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    if not nbkit_has("merge-driver"):
        return [unavailable(FAMILY, "merge-driver", "nbkit merge-driver not built")]
    rows: list[Row] = []
    for conflicts, label in ((0, "2,000 cells, clean"), (20, "2,000 cells, 20 conflicts")):
        folder = triple(settings.work / f"nbkit-bench-merge-{conflicts}", conflicts)
        rows += _case(settings, folder, label)
        log(f"{FAMILY}: {label}: " + ", ".join(f"{r.case} {r.shown_ratio()}" for r in rows))
    return rows
