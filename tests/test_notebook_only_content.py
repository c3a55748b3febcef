"""Syncing from the script keeps what the script format cannot carry, for every matched cell:
markdown attachments, tags and metadata added in Jupyter, outputs of unchanged cells,
notebook-level metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, make_nb, read_nb, write_nb
from tests.hooks_helpers import declare_pairing

PNG = {"image/png": "iVBORw0KGgo="}
STREAM = {"output_type": "stream", "name": "stdout", "text": "kept\n"}


def _pair(repo: Path, cli: Callable[..., Any]) -> Path:
    declare_pairing(repo)
    nb = make_nb(
        ("markdown", "# Plot\n\n![chart](attachment:chart.png)"),
        {"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["parameters"]}},
        {"cell_type": "code", "source": "print(x)", "outputs": [STREAM], "execution_count": 1},
    )
    write_nb(repo / "a.ipynb", nb)
    assert cli("sync", "a.ipynb").code == 0
    commit_all(repo)
    return repo / "a.ipynb"


def _jupyter_edits(path: Path) -> None:
    """What Jupyter adds and the script does not have: an image pasted into the markdown,
    a tag and a slideshow setting on a cell, notebook metadata."""
    nb = read_nb(path)
    nb["cells"][0]["attachments"] = {"chart.png": PNG}
    nb["cells"][1]["metadata"]["tags"] = ["parameters", "from-jupyter"]
    nb["cells"][1]["metadata"]["slideshow"] = {"slide_type": "slide"}
    nb["metadata"]["authors"] = [{"name": "Ada"}]
    write_nb(path, nb)


def test_script_edit_keeps_notebook_only_content(repo: Path, cli: Callable[..., Any]) -> None:
    nb_path = _pair(repo, cli)
    _jupyter_edits(nb_path)
    script = repo / "a.py"
    text = script.read_text().replace("# # Plot", "# # Plot, revised").replace("x = 1", "x = 2")
    script.write_text(text)
    result = cli("sync", "a.py")
    assert result.code == 0 and "updated from" in result.err, result.err
    nb = read_nb(nb_path)
    assert "".join(nb["cells"][0]["source"]).startswith("# Plot, revised")
    assert nb["cells"][0]["attachments"] == {"chart.png": PNG}
    assert "".join(nb["cells"][1]["source"]) == "x = 2"
    assert nb["cells"][1]["metadata"]["tags"] == ["parameters", "from-jupyter"]
    assert nb["cells"][1]["metadata"]["slideshow"] == {"slide_type": "slide"}
    assert nb["cells"][2]["outputs"] == [{**STREAM, "text": ["kept\n"]}]
    assert nb["metadata"]["authors"] == [{"name": "Ada"}]


def test_a_cell_inserted_before_an_edit_does_not_take_its_place(
    repo: Path, cli: Callable[..., Any]
) -> None:
    nb_path = _pair(repo, cli)
    _jupyter_edits(nb_path)
    script = repo / "a.py"
    text = script.read_text().replace("# # Plot", "# A new cell\n\n# %% [markdown]\n# # Plot!")
    script.write_text(text)
    result = cli("sync", "a.py")
    assert result.code == 0, result.err
    nb = read_nb(nb_path)
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "markdown", "code", "code"]
    assert "attachments" not in nb["cells"][0]
    assert "".join(nb["cells"][1]["source"]).startswith("# Plot!")
    assert nb["cells"][1]["attachments"] == {"chart.png": PNG}
    assert nb["cells"][1]["id"] == "cell-0"
