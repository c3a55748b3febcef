"""Migrating from nbstripout: its keep-output markers, language_info, ids, the filter hint.

Each test runs the real tool nbkit must agree with: nbstripout itself, `jupyter nbconvert`,
nbkit's own validator, and git's clean filter through `git add --renormalize`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbkit.clean import clean_notebook
from tests.conftest import commit_all, git, make_nb, read_nb, run_nbkit, write_nb

BIN = Path(sys.executable).parent
OUT = [{"output_type": "stream", "name": "stdout", "text": "kept?\n"}]


def _code(source: str, **metadata: Any) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": metadata,
        "execution_count": 3,
        "outputs": OUT,
    }


MARKED = [
    _code("plain"),
    _code("tag", tags=["keep_output"]),
    _code("meta", keep_output=True),
    _code("meta false", keep_output=False),
    _code("init", init_cell=True),
    _code("init false", init_cell=False),
    _code("other tag", tags=["something"]),
]


def _kept(path: Path) -> list[str]:
    return [
        "".join(c["source"]) for c in read_nb(path)["cells"] if c.get("outputs")
    ]


def _nbstripout(path: Path) -> None:
    subprocess.run([str(BIN / "nbstripout"), str(path)], check=True, capture_output=True)


def test_nbkit_keeps_exactly_the_outputs_nbstripout_keeps(tmp_path: Path) -> None:
    for name, meta in (("cells", {}), ("whole", {"keep_output": True})):
        ours = write_nb(tmp_path / f"{name}-nbkit.ipynb", make_nb(*MARKED, metadata=meta))
        theirs = tmp_path / f"{name}-nbstripout.ipynb"
        shutil.copy(ours, theirs)
        _nbstripout(theirs)
        proc = run_nbkit("clean", ours, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert _kept(ours) == _kept(theirs), name
    assert _kept(tmp_path / "cells-nbkit.ipynb") == ["tag", "meta", "init"]


def test_nbstripout_markers_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "nbkit.toml").write_text("[clean]\nnbstripout_markers = false\n")
    path = write_nb(tmp_path / "a.ipynb", make_nb(*MARKED, metadata={"keep_output": True}))
    proc = run_nbkit("clean", path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _kept(path) == []


def test_language_info_keeps_what_nbconvert_needs_and_drops_the_version(tmp_path: Path) -> None:
    info = {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    }
    path = write_nb(tmp_path / "a.ipynb", make_nb("x = 1", metadata={"language_info": info}))
    assert run_nbkit("clean", path, cwd=tmp_path).returncode == 0
    cleaned = read_nb(path)["metadata"]["language_info"]
    assert cleaned == {k: v for k, v in info.items() if k != "version"}
    proc = subprocess.run(
        [str(BIN / "jupyter-nbconvert"), "--to", "script", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.py").is_file() and not (tmp_path / "a.txt").exists()


def test_clean_gives_missing_ids_valid_stable_ones_where_required(tmp_path: Path) -> None:
    nb = make_nb("a = 1", ("markdown", "# t"), "b = 2", minor=5)
    del nb["cells"][0]["id"], nb["cells"][2]["id"]
    path = tmp_path / "a.ipynb"  # written by hand: nbformat.write would add the ids itself
    path.write_text(json.dumps(nb, indent=1) + "\n")
    assert run_nbkit("validate", path, cwd=tmp_path).returncode == 1  # what clean left before
    assert run_nbkit("clean", path, cwd=tmp_path).returncode == 0
    proc = run_nbkit("validate", path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [c["id"] for c in read_nb(path)["cells"]]
    assert ids[1] == "cell-1" and len(set(ids)) == 3
    assert all(re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", i) for i in ids)
    # the same input always gets the same ids: a clean filter must be deterministic
    assert clean_notebook(nb)["cells"][0]["id"] == ids[0]
    old = make_nb("a = 1", minor=4)
    assert "id" not in clean_notebook(old)["cells"][0]


def test_install_filter_says_when_committed_notebooks_need_renormalizing(
    repo: Path, cli: Callable[..., Any]
) -> None:
    write_nb(repo / "dirty.ipynb", make_nb(_code("print(1)")))
    write_nb(repo / "clean.ipynb", make_nb("x = 1"))
    commit_all(repo)
    result = cli("install", "--filter")
    assert result.code == 0, result.err
    assert "git add --renormalize ." in result.out + result.err
    assert "1 committed notebook" in result.out + result.err
    assert "dirty.ipynb" in result.out + result.err
    git(repo, "add", "--renormalize", ".")
    assert git(repo, "diff", "--cached", "--name-only").split() == ["dirty.ipynb"]
    commit_all(repo, "renormalized")
    again = cli("install", "--filter")
    assert "renormalize" not in again.out + again.err
