"""The benchmark corpus: realistic notebooks, deterministic from a seed, cached on disk.

A notebook is described by a small ``NotebookSpec`` (cells, seed, ids, executed, image bytes);
sets of notebooks (a repository's worth, paired notebooks, diff pairs, merge triples) are
written once under ``benchmarks/.corpus/`` in a folder named after their parameters and the
generator version, and reused by later runs. A ``.complete`` marker makes an interrupted
generation start again instead of being trusted.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks import content

GENERATOR_VERSION = 1
DEFAULT_ROOT = Path(__file__).resolve().parent / ".corpus"
# Measured on this generator: the average bytes an executed text-only cell takes on disk.
_CELL_BYTES = 620
_MIN_IMAGE_BYTES = 2_000


class NotebookSpec(NamedTuple):
    cells: int = 30
    seed: int = 0
    ids: bool = True  # nbformat 4.5 with cell ids, or 4.4 without
    executed: bool = True  # outputs, execution counts and ExecuteTime present
    image_bytes: int = 0  # total base64 PNG bytes, spread over a figure every ~15 cells
    code_share: float = 0.65


def spec_for_size(target_bytes: int, seed: int, *, ids: bool = True) -> NotebookSpec:
    """An executed notebook of roughly ``target_bytes``: text cells first, then figures."""
    cells = max(2, min(2000, int(target_bytes * 0.5 / _CELL_BYTES)))
    rest = target_bytes - cells * _CELL_BYTES
    return NotebookSpec(
        cells=cells, seed=seed, ids=ids, image_bytes=rest if rest > _MIN_IMAGE_BYTES else 0
    )


def _figure_cells(spec: NotebookSpec) -> tuple[set[int], int]:
    """Which cells carry a figure, and the side of each square PNG."""
    if spec.image_bytes <= 0:
        return set(), 0
    figures = max(1, spec.cells // 15)
    step = max(1, spec.cells // figures)
    where = {min(spec.cells - 1, k * step + step // 2) for k in range(figures)}
    return where, content.image_side_for(spec.image_bytes // len(where))


def _code_cell(rng: random.Random, spec: NotebookSpec, count: int, side: int) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {}}
    cell["source"] = content.lines(content.code_source(rng))
    cell["outputs"] = []
    if not spec.executed:
        return cell
    cell["execution_count"] = count
    cell["metadata"] = content.execute_time(rng)
    roll = rng.random()
    if roll < 0.35:
        cell["outputs"].append(content.stream_output(rng))
    elif roll < 0.55:
        cell["outputs"].append(content.table_output(rng, count))
    elif roll < 0.58:
        cell["outputs"].append(content.error_output(rng))
    if side:
        cell["outputs"].append(content.image_output(rng, side))
    return cell


def build(spec: NotebookSpec) -> dict[str, Any]:
    """The notebook a spec describes, already in nbformat's storage form."""
    rng = random.Random(f"nb-{spec.seed}")
    figures, side = _figure_cells(spec)
    cells: list[dict[str, Any]] = []
    count = 0
    for index in range(spec.cells):
        if index in figures or rng.random() < spec.code_share:
            count += 1
            cells.append(_code_cell(rng, spec, count, side if index in figures else 0))
        else:
            cells.append(
                {
                    "cell_type": "markdown",
                    "metadata": {},
                    "source": content.lines(content.markdown_source(rng)),
                }
            )
        if spec.ids:
            cells[-1]["id"] = f"{rng.getrandbits(64):016x}"[:8] + f"-c{index}"
    meta: dict[str, Any] = {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    if spec.executed:
        meta["language_info"] = {
            "codemirror_mode": {"name": "ipython", "version": 3},
            "file_extension": ".py",
            "mimetype": "text/x-python",
            "name": "python",
            "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3",
            "version": "3.11.7",
        }
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5 if spec.ids else 4}


def dumps(nb: dict[str, Any]) -> bytes:
    """The bytes nbformat.write gives for a storage-form notebook."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def cached(root: Path, name: str, make: Any) -> Path:
    """``root/name`` built by ``make(folder)`` once; rebuilt when a run was interrupted."""
    folder = root / f"{name}-v{GENERATOR_VERSION}"
    if (folder / ".complete").is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    make(folder)
    (folder / ".complete").write_text("ok\n")
    return folder


def repo_sizes(count: int, seed: int) -> list[int]:
    """File sizes as a real repository has them: most tens of KB, a long tail to megabytes."""
    rng = random.Random(f"sizes-{seed}")
    return [int(min(5e6, max(1e3, math.exp(rng.gauss(math.log(30e3), 1.2))))) for _ in range(count)]


def notebooks(files: Path) -> list[Path]:
    """The notebooks of a corpus folder (or copy of one), in a stable order."""
    return sorted(files.rglob("*.ipynb"))


def repo_set(root: Path, count: int, seed: int = 1) -> Path:
    """``count`` executed notebooks in ten sub-folders, sizes 1 KB to 5 MB (a repository)."""

    def make(folder: Path) -> None:
        for index, size in enumerate(repo_sizes(count, seed)):
            spec = spec_for_size(size, seed * 100_000 + index, ids=index % 4 != 0)
            path = folder / f"project{index % 10}" / f"nb_{index:04d}.ipynb"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(dumps(build(spec)))

    return cached(root, f"repo-{count}-s{seed}", make)


def sized_notebook(root: Path, size: int, seed: int = 7) -> Path:
    """One executed notebook of about ``size`` bytes (1 KB to 20 MB)."""

    def make(folder: Path) -> None:
        (folder / "nb.ipynb").write_bytes(dumps(build(spec_for_size(size, seed))))

    return cached(root, f"sized-{size}-s{seed}", make) / "nb.ipynb"


def paired_set(root: Path, count: int = 5, cells: int = 30, seed: int = 2) -> Path:
    """Clean notebooks each with its jupytext py:percent twin, as a commit stages them."""

    def make(folder: Path) -> None:
        from jupytext.cli import jupytext as jupytext_main

        # jupytext.toml declares the pairing for jupytext and nbkit alike; jupytext itself
        # writes the scripts so both tools start from a pair they consider in sync.
        (folder / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
        paths = []
        for index in range(count):
            nb = build(NotebookSpec(cells=cells, seed=seed * 1000 + index, executed=False))
            path = folder / f"analysis_{index}.ipynb"
            path.write_bytes(dumps(nb))
            paths.append(str(path))
        # Twice: the first creates the scripts, the second brings the notebooks to
        # jupytext's round-trip fixed point (e.g. ``lines_to_next_cell``), as after real use.
        for _ in range(2):
            jupytext_main(["--sync", "--quiet", *paths])

    return cached(root, f"paired-{count}x{cells}-s{seed}", make)


def edited(
    nb: dict[str, Any], seed: int, *, span: tuple[float, float] = (0.0, 1.0), share: float = 0.05
) -> dict[str, Any]:
    """A later version of ``nb``, as a day of work leaves it: inside ``span`` (a fraction of
    the cells) about ``share`` of the sources edited, as many cells inserted and deleted,
    two moved, and a tenth of the code cells re-executed with new outputs."""
    rng = random.Random(f"edit-{seed}")
    cells = json.loads(json.dumps(nb["cells"]))
    lo, hi = (
        int(span[0] * len(cells)),
        max(int(span[0] * len(cells)) + 1, int(span[1] * len(cells))),
    )
    count = max(1, int(share * (hi - lo)))
    for index in rng.sample(range(lo, hi), min(count, hi - lo)):
        src = cells[index]["source"]
        revised = f"# revised {rng.randint(0, 999)}"
        cells[index]["source"] = [*src[:-1], src[-1] + "\n", revised] if src else [revised]
    for index in range(lo, hi):
        cell = cells[index]
        if cell["cell_type"] == "code" and cell.get("outputs") and rng.random() < 0.1:
            cell["outputs"] = [content.stream_output(rng)]
            cell["metadata"] = {**cell.get("metadata", {}), **content.execute_time(rng)}
    for _ in range(count):
        del cells[rng.randrange(lo, max(lo + 1, hi - count))]
    ids = "id" in (cells[0] if cells else {})
    for k in range(count):
        new: dict[str, Any] = {
            "cell_type": "markdown",
            "metadata": {},
            "source": content.lines(content.markdown_source(rng)),
        }
        if ids:
            new["id"] = f"new-{seed}-{k}"
        cells.insert(rng.randrange(lo, max(lo + 1, hi - count)), new)
    for _ in range(2):
        moved = cells.pop(rng.randrange(lo, max(lo + 1, hi - count)))
        cells.insert(rng.randrange(lo, max(lo + 1, hi - count)), moved)
    return {**nb, "cells": cells}


def diff_pair(root: Path, cells: int, ids: bool, seed: int = 11) -> tuple[Path, Path]:
    """An executed notebook and its edited version (``a.ipynb``, ``b.ipynb``)."""

    def make(folder: Path) -> None:
        base = build(NotebookSpec(cells=cells, seed=seed, ids=ids))
        (folder / "a.ipynb").write_bytes(dumps(base))
        (folder / "b.ipynb").write_bytes(dumps(edited(base, seed)))

    folder = cached(root, f"diff-{cells}-{'ids' if ids else 'noids'}-s{seed}", make)
    return folder / "a.ipynb", folder / "b.ipynb"


def merge_triple(root: Path, cells: int, seed: int = 13) -> Path:
    """``base.ipynb`` and two branches that edited different halves of it (no conflict)."""

    def make(folder: Path) -> None:
        base = build(NotebookSpec(cells=cells, seed=seed))
        (folder / "base.ipynb").write_bytes(dumps(base))
        (folder / "ours.ipynb").write_bytes(dumps(edited(base, seed + 1, span=(0.0, 0.45))))
        (folder / "theirs.ipynb").write_bytes(dumps(edited(base, seed + 2, span=(0.55, 1.0))))

    return cached(root, f"merge-{cells}-s{seed}", make)


def prose_notebook(cells: int, seed: int, *, ids: bool = False) -> dict[str, Any]:
    """A prose-heavy notebook: markdown cells of 1-5 KB (a report, a tutorial), no code."""
    rng = random.Random(f"prose-{seed}")
    built: list[dict[str, Any]] = []
    for index in range(cells):
        source = content.prose_source(rng, rng.randint(1000, 5000))
        cell: dict[str, Any] = {
            "cell_type": "markdown",
            "metadata": {},
            "source": content.lines(source),
        }
        if ids:
            cell["id"] = f"prose-{index}"
        built.append(cell)
    nb = build(NotebookSpec(cells=0, seed=seed, ids=ids, executed=False))
    return {**nb, "cells": built}


def edited_prose(
    nb: dict[str, Any], seed: int, share: float = 0.1, span: tuple[float, float] = (0.0, 1.0)
) -> dict[str, Any]:
    """``share`` of the cells inside ``span`` lightly edited (a few words each)."""
    rng = random.Random(f"prose-edit-{seed}")
    cells = json.loads(json.dumps(nb["cells"]))
    lo, hi = int(span[0] * len(cells)), int(span[1] * len(cells))
    for index in rng.sample(range(lo, hi), max(1, int(share * len(cells)))):
        source = content.edit_prose("".join(cells[index]["source"]), rng)
        cells[index]["source"] = content.lines(source)
    return {**nb, "cells": cells}


def prose_pair(root: Path, cells: int = 50, seed: int = 17) -> tuple[Path, Path]:
    """A prose-heavy notebook (no ids) and a version with 10% of its cells lightly edited."""

    def make(folder: Path) -> None:
        base = prose_notebook(cells, seed)
        (folder / "a.ipynb").write_bytes(dumps(base))
        (folder / "b.ipynb").write_bytes(dumps(edited_prose(base, seed)))

    folder = cached(root, f"prose-diff-{cells}-s{seed}", make)
    return folder / "a.ipynb", folder / "b.ipynb"


def prose_triple(root: Path, cells: int = 50, seed: int = 19) -> Path:
    """``base.ipynb`` of prose and two branches editing 10% of the cells in either half."""

    def make(folder: Path) -> None:
        base = prose_notebook(cells, seed)
        ours = edited_prose(base, seed + 1, share=0.05, span=(0.0, 0.5))
        theirs = edited_prose(base, seed + 2, share=0.05, span=(0.5, 1.0))
        for name, nb in (("base", base), ("ours", ours), ("theirs", theirs)):
            (folder / f"{name}.ipynb").write_bytes(dumps(nb))

    return cached(root, f"prose-merge-{cells}-s{seed}", make)


# Real notebooks, shipped with the repository under their projects' licences (see the
# README there): test and documentation notebooks from PyPI sdists and wheels.
REAL_ROOT = Path(__file__).resolve().parent / "real-notebooks"
# Five real notebooks with outputs (figures, tables, streams, errors) for the edit commit.
REAL_COMMIT = (
    "nbconvert/notebook2.ipynb",
    "nbconvert/exporters_notebook2.ipynb",
    "nbconvert/notebook1.ipynb",
    "nbdime/mixed-conflicts--1.ipynb",
    "papermill/test_logging.ipynb",
)


class Shape(NamedTuple):
    """What a notebook's timings depend on: its cells, outputs and the images among them."""

    size: int  # bytes on disk
    cells: int
    code_cells: int
    outputs: int
    output_bytes: int  # the outputs' JSON, as stored
    image_bytes: int  # base64 image data inside those outputs


def shape(path: Path) -> Shape:
    data = path.read_bytes()
    nb = json.loads(data)
    outputs = [o for c in nb["cells"] for o in c.get("outputs", ())]
    images = sum(
        len(v if isinstance(v, str) else "".join(v))
        for o in outputs
        for k, v in o.get("data", {}).items()
        if k.startswith("image/")
    )
    return Shape(
        len(data),
        len(nb["cells"]),
        sum(c["cell_type"] == "code" for c in nb["cells"]),
        len(outputs),
        sum(len(json.dumps(o)) for o in outputs),
        images,
    )


def real_notebooks() -> list[Path]:
    return notebooks(REAL_ROOT)


def real_set(root: Path) -> Path:
    """Every shipped real notebook, copied as they are (a repository's worth of them)."""

    def make(folder: Path) -> None:
        for path in real_notebooks():
            dest = folder / path.relative_to(REAL_ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    return cached(root, "real", make)


def edit_one_cell(nb: dict[str, Any], seed: int) -> dict[str, Any]:
    """``nb`` after a user edited one code cell and ran it again (new count, same outputs)."""
    rng = random.Random(f"one-cell-{seed}")
    cells = json.loads(json.dumps(nb["cells"]))
    code = [c for c in cells if c["cell_type"] == "code"] or cells
    cell = rng.choice(code)
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell["source"] = content.lines(source.rstrip("\n") + f"\n# edited {rng.randint(0, 999)}")
    if cell["cell_type"] == "code":
        top = max(c.get("execution_count") or 0 for c in cells if c["cell_type"] == "code")
        cell["execution_count"] = top + 1
        for output in cell.get("outputs", ()):
            if "execution_count" in output:
                output["execution_count"] = top + 1
    return {**nb, "cells": cells}


def commit_set(root: Path, *, real: bool = True) -> Path:
    """Five notebooks with outputs for a commit: ``original/`` (as last run) and ``edited/``
    (one code cell edited and re-run in each), plus the pairing both tools read."""

    def make(folder: Path) -> None:
        (folder / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
        for sub in ("original", "edited"):
            (folder / sub).mkdir()
        for index in range(5):
            if real:
                source = REAL_ROOT / REAL_COMMIT[index]
                nb = json.loads(source.read_text(encoding="utf-8"))
                name = source.stem.replace("-", "_")
            else:
                nb = build(NotebookSpec(cells=30, seed=3000 + index, image_bytes=40_000))
                name = f"analysis_{index}"
            (folder / "original" / f"{name}.ipynb").write_bytes(dumps(nb))
            (folder / "edited" / f"{name}.ipynb").write_bytes(dumps(edit_one_cell(nb, index)))

    return cached(root, f"commit-{'real' if real else 'generated'}", make)
