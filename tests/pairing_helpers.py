"""Shared set-up for the pairing and sync tests: a paired notebook in a real git repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbkit import config
from nbkit.pairing.convert import inputs_of, read_script
from nbkit.pairing.pair import pair_notebook
from nbkit.pairing.paths import Pair
from tests.conftest import make_nb, read_nb, write_nb

STREAM = {"output_type": "stream", "name": "stdout", "text": "1\n"}


def sample_nb() -> dict[str, Any]:
    return make_nb(
        ("markdown", "# Title\n\nSome text"),
        {"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["parameters"]}},
        {"cell_type": "code", "source": "print(x)", "outputs": [STREAM], "execution_count": 1},
        {"cell_type": "code", "source": "y = x * 2\ny"},
    )


def paired(root: Path, name: str = "analysis.ipynb", fmt: str | None = None) -> Pair:
    """Write the sample notebook at ``root/name`` and pair it with the library."""
    path = write_nb(root / name, sample_nb())
    return pair_notebook(path, config.load(root), fmt)


def nb_sources(path: Path) -> list[tuple[str, str]]:
    return [(t, s) for t, s in inputs_of(read_nb(path))]


def script_sources(pair: Pair) -> list[tuple[str, str]]:
    return list(inputs_of(read_script(pair.script.read_bytes(), pair.script, pair.fmt)))


def edit_notebook(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the one cell whose source contains it."""
    nb = read_nb(path)
    hits = [c for c in nb["cells"] if old in "".join(c["source"])]
    assert len(hits) == 1, (old, nb)
    hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new)
    write_nb(path, nb)


def edit_script(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode("utf-8")
    assert text.count(old) == 1, (old, text)
    path.write_bytes(text.replace(old, new).encode("utf-8"))


def snapshot(*paths: Path) -> dict[Path, bytes | None]:
    return {p: (p.read_bytes() if p.exists() else None) for p in paths}
