"""Real git merges of notebooks: a branch per side, the nbkit driver configured (or not)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import nbformat

from tests.conftest import commit_all, git, make_nb, read_nb, write_nb

NB = "nb.ipynb"


def base_nb() -> dict[str, Any]:
    return make_nb(
        ("markdown", "# Analysis"),
        "import math\nx = 1",
        {
            "cell_type": "code",
            "source": "y = x + 1\nprint(y)",
            "execution_count": 2,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}],
        },
        "z = y * 2\nz",
        ("markdown", "## Results"),
        "print('done')",
    )


def edit(nb: dict[str, Any], index: int, source: str) -> dict[str, Any]:
    """A copy of ``nb`` with cell ``index``'s source replaced."""
    nb = copy.deepcopy(nb)
    nb["cells"][index]["source"] = source
    return nb


def code_cell(cell_id: str, source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "source": source,
        "metadata": {},
        "outputs": [],
        "execution_count": None,
    }


def install_driver(root: Path, report: Path | None = None) -> None:
    """What `nbkit install` does for merges: the attribute and the driver command."""
    (root / ".gitattributes").write_text("*.ipynb merge=nbkit\n")
    command = f'"{sys.executable}" -m nbkit merge-driver %O %A %B %P'
    if report is not None:
        command += f' --report "{report}"'
    git(root, "config", "merge.nbkit.name", "nbkit notebook merge")
    git(root, "config", "merge.nbkit.driver", command)


class Merge(NamedTuple):
    code: int
    output: str
    path: Path

    def nb(self) -> dict[str, Any]:
        return read_nb(self.path)


def merge_branches(
    root: Path,
    base: dict[str, Any] | None,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    name: str = NB,
) -> Merge:
    """Commit ``base`` on main, ``theirs`` on a branch, ``ours`` on main, then `git merge`.

    ``base=None``: the notebook is added on both branches (git's add/add case).
    """
    path = root / name
    (root / "README").write_text("merge test\n")
    if base is not None:
        write_nb(path, base)
    commit_all(root, "base")
    git(root, "checkout", "-q", "-b", "theirs")
    write_nb(path, theirs)
    commit_all(root, "theirs")
    git(root, "checkout", "-q", "main")
    write_nb(path, ours)
    commit_all(root, "ours")
    proc = subprocess.run(
        ["git", "merge", "--no-edit", "theirs"], cwd=root, capture_output=True, text=True
    )
    return Merge(proc.returncode, proc.stdout + proc.stderr, path)


def assert_valid(nb: dict[str, Any]) -> None:
    """Valid for nbformat's schema, with unique cell ids."""
    nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))
    ids = [c["id"] for c in nb["cells"] if "id" in c]
    assert len(ids) == len(set(ids)), ids


def assert_valid_file(path: Path) -> dict[str, Any]:
    """The file is a valid notebook that Jupyter's readers (nbformat, jupytext) open."""
    import jupytext

    nb = read_nb(path)
    assert_valid(nb)
    opened = jupytext.read(path)
    assert len(opened.cells) == len(nb["cells"])
    return nb


def sources(nb: dict[str, Any]) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"]]


def unmerged(root: Path) -> list[str]:
    return git(root, "diff", "--name-only", "--diff-filter=U").split()
