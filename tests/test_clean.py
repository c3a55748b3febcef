"""clean: what is stripped, what is kept, idempotence, mtime, policy, CLI behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from hypothesis import given, settings
from hypothesis import strategies as st

from nbkit.clean import clean_notebook
from nbkit.config import CleanPolicy
from tests.conftest import assert_one_line_error, commit_all, make_nb, read_nb, write_nb

DIRTY = make_nb(
    {
        "cell_type": "code",
        "id": "keep-me-1",
        "source": "lr = 0.1",
        "metadata": {"tags": ["parameters"], "ExecuteTime": {"start": "x"}, "collapsed": True},
        "execution_count": 1,
        "outputs": [],
    },
    {
        "cell_type": "code",
        "id": "keep-me-2",
        "source": "print(lr)",
        "metadata": {"scrolled": True, "papermill": {"duration": 1.0}, "tags": ["keep-output"]},
        "execution_count": 2,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "0.1\n"}],
    },
    metadata={
        "widgets": {"state": {}},
        "papermill": {"parameters": {}},
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
    },
)


def test_clean_strips_volatile_and_keeps_ids_tags_kernelspec() -> None:
    cleaned = clean_notebook(DIRTY)
    c0, c1 = cleaned["cells"]
    assert c0["id"] == "keep-me-1" and c1["id"] == "keep-me-2"
    assert c0["metadata"] == {"tags": ["parameters"]}
    assert c1["metadata"] == {"tags": ["keep-output"]}
    assert c0["execution_count"] is None and c1["outputs"] == []
    meta = cleaned["metadata"]
    assert "widgets" not in meta and "papermill" not in meta
    assert meta["language_info"] == {"name": "python", "mimetype": "text/x-python"}
    assert meta["kernelspec"]["name"] == "python3"
    nbformat.validate(nbformat.from_dict(cleaned))


def test_policy_keeps_tagged_outputs_and_drops_large_ones() -> None:
    tagged = clean_notebook(DIRTY, CleanPolicy(keep_output="tagged"))
    assert tagged["cells"][1]["outputs"][0]["text"] == "0.1\n"
    tiny = clean_notebook(DIRTY, CleanPolicy(keep_output="all", max_output_bytes=10))
    assert tiny["cells"][1]["outputs"] == []
    extra = clean_notebook(DIRTY, CleanPolicy(drop_cell_metadata=("tags",)))
    assert "tags" not in extra["cells"][0]["metadata"]
    kept = clean_notebook(DIRTY, CleanPolicy(keep_cell_metadata=("ExecuteTime",)))
    assert "ExecuteTime" in kept["cells"][0]["metadata"]


def test_clean_does_not_mutate_input() -> None:
    before = json.dumps(DIRTY, sort_keys=True)
    clean_notebook(DIRTY)
    assert json.dumps(DIRTY, sort_keys=True) == before


_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
_cell = st.fixed_dictionaries(
    {
        "cell_type": st.sampled_from(["code", "markdown", "raw"]),
        "source": _text,
        "metadata": st.dictionaries(
            st.sampled_from(["tags", "ExecuteTime", "collapsed", "scrolled", "custom"]),
            st.just(["parameters"]) | st.booleans(),
            max_size=3,
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(cells=st.lists(_cell, max_size=6), keep=st.sampled_from(["none", "all", "tagged"]))
def test_clean_is_idempotent_and_keeps_sources(cells: list[dict[str, Any]], keep: str) -> None:
    nb = make_nb(*cells)
    policy = CleanPolicy(keep_output=keep)
    once = clean_notebook(nb, policy)
    assert clean_notebook(once, policy) == once
    assert [c["source"] for c in once["cells"]] == [c["source"] for c in nb["cells"]]
    assert [c["cell_type"] for c in once["cells"]] == [c["cell_type"] for c in nb["cells"]]


def test_cli_clean_check_then_clean(repo: Path, cli: Callable[..., Any]) -> None:
    path = write_nb(repo / "a b ü.ipynb", DIRTY)
    result = cli("clean", "--check", path)
    assert result.code == 1 and "needs cleaning" in result.err
    assert read_nb(path)["cells"][0]["execution_count"] == 1  # --check wrote nothing
    assert cli("clean", path).code == 0
    data = path.read_bytes()
    assert data == (nbformat.writes(nbformat.read(str(path), as_version=4)) + "\n").encode()
    mtime = path.stat().st_mtime_ns
    assert cli("clean", "--check", path).code == 0
    assert cli("clean", path).code == 0
    assert path.stat().st_mtime_ns == mtime  # already clean: not rewritten


def test_cli_clean_defaults_to_tracked_notebooks(repo: Path, cli: Callable[..., Any]) -> None:
    tracked = write_nb(repo / "nb" / "t.ipynb", DIRTY)
    commit_all(repo)
    untracked = write_nb(repo / "u.ipynb", DIRTY)
    assert cli("clean").code == 0
    assert read_nb(tracked)["cells"][1]["outputs"] == []
    assert read_nb(untracked)["cells"][1]["outputs"] != []


def test_cli_clean_keeps_crlf(repo: Path, cli: Callable[..., Any]) -> None:
    path = write_nb(repo / "crlf.ipynb", DIRTY)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert cli("clean", path).code == 0
    data = path.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_cli_clean_bad_input_exit_2_nothing_changed(repo: Path, cli: Callable[..., Any]) -> None:
    bad = repo / "bad.ipynb"
    bad.write_text('{"cells": [')
    result = cli("clean", bad)
    assert result.code == 2
    assert_one_line_error(result.err, "bad.ipynb", "invalid JSON")
    assert bad.read_text() == '{"cells": ['
    missing = cli("clean", repo / "missing.ipynb")
    assert missing.code == 2
    assert_one_line_error(missing.err, "missing.ipynb", "no such file")


def test_policy_from_pyproject(repo: Path, cli: Callable[..., Any]) -> None:
    (repo / "pyproject.toml").write_text('[tool.nbkit.clean]\nkeep_output = "tagged"\n')
    path = write_nb(repo / "a.ipynb", DIRTY)
    assert cli("clean", path).code == 0
    assert read_nb(path)["cells"][1]["outputs"][0]["name"] == "stdout"
    (repo / "pyproject.toml").write_text('[tool.nbkit.clean]\nkeep_output = "sometimes"\n')
    result = cli("clean", path)
    assert result.code == 2
    assert_one_line_error(result.err, "pyproject.toml", "keep_output")


def test_validate_refuses_a_cell_with_an_unsettled_conflict(
    repo: Path, cli: Callable[..., Any]
) -> None:
    nb = make_nb(
        "<<<<<<< ours\nx = 1\n=======\nx = 2\n>>>>>>> theirs\n", ("markdown", "Title\n=======\n")
    )
    path = write_nb(repo / "merged.ipynb", nb)
    result = cli("validate", path)
    assert result.code == 1
    assert result.err.count("unsettled merge conflict") == 1  # the Markdown heading is not one
    assert "cell 0" in result.err and "nbkit resolve" in result.err


def test_configuration_reference_is_generated_from_the_code() -> None:
    from nbkit.config import reference_markdown
    from tests.conftest import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == reference_markdown(), "regenerate: python -m nbkit.config > docs/configuration.md"


def test_unknown_setting_is_an_error_naming_the_closest(
    repo: Path, cli: Callable[..., Any]
) -> None:
    (repo / "pyproject.toml").write_text('[tool.nbkit.clean]\nkeep_outputs = "all"\n')
    path = write_nb(repo / "a.ipynb", DIRTY)
    result = cli("clean", path)
    assert result.code == 2
    assert_one_line_error(result.err, "pyproject.toml", "unknown setting 'keep_outputs'")
    assert "did you mean 'keep_output'" in result.err


def test_run_ledger_notebooks_keep_their_outputs(repo: Path, cli: Callable[..., Any]) -> None:
    """Executed notebooks in the ledger are a run's evidence: no command or hook strips them."""
    evidence = write_nb(
        repo / ".nbkit" / "runs" / "20260101-000000-abc123" / "executed.ipynb", DIRTY
    )
    other = write_nb(repo / "results" / "old.ipynb", DIRTY)
    (repo / "pyproject.toml").write_text('[tool.nbkit]\nexclude = ["results/*"]\n')
    commit_all(repo)
    before = evidence.read_bytes(), other.read_bytes()
    assert cli("clean").code == 0
    assert cli("clean", evidence, other).code == 0
    assert cli("hook", "nbkit", evidence, other).code == 0
    assert (evidence.read_bytes(), other.read_bytes()) == before


def test_clean_filter_stages_ledger_notebooks_unchanged(
    repo: Path, cli: Callable[..., Any]
) -> None:
    from tests.conftest import git

    assert cli("install", "--filter").code == 0
    evidence = write_nb(repo / ".nbkit" / "runs" / "r1" / "executed.ipynb", DIRTY)
    work = write_nb(repo / "work.ipynb", DIRTY)
    git(repo, "add", ".nbkit/runs/r1/executed.ipynb", "work.ipynb")
    staged_evidence = git(repo, "show", ":.nbkit/runs/r1/executed.ipynb")
    staged_work = git(repo, "show", ":work.ipynb")
    assert staged_evidence == evidence.read_text()  # outputs kept in the index
    assert '"outputs": []' in staged_work and staged_work != work.read_text()


def test_settled_clean_notebook_is_not_even_read_again(repo: Path, monkeypatch: Any) -> None:
    """A warm cache trusts a settled file's stat; any change of content changes the stat."""
    import os
    import time

    from nbkit import clean as cleaning
    from nbkit.cache import Cache

    path = write_nb(repo / "a.ipynb", clean_notebook(DIRTY))
    old = time.time() - 60
    os.utime(path, (old, old))
    cache = Cache.for_root(repo)
    assert not cleaning.clean_file(path, CleanPolicy(), cache=cache).changed
    reads: list[str] = []
    real_read = cleaning.notebook.read_bytes
    monkeypatch.setattr(
        cleaning.notebook, "read_bytes", lambda p: reads.append(str(p)) or real_read(p)
    )
    assert not cleaning.clean_file(path, CleanPolicy(), cache=cache).changed
    assert reads == []  # stat unchanged and settled: no read, no hash
    write_nb(path, DIRTY)  # an edit: new size, mtime and inode
    assert cleaning.clean_file(path, CleanPolicy(), check=True, cache=cache).changed
    assert reads == [str(path)]
    fresh = write_nb(repo / "b.ipynb", clean_notebook(DIRTY))  # written just now: not settled
    assert not cleaning.clean_file(fresh, CleanPolicy(), cache=cache).changed
    assert not cleaning.clean_file(fresh, CleanPolicy(), cache=cache).changed
    assert reads.count(str(fresh)) == 2  # a racy stat is never trusted
