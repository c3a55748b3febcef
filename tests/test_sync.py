"""sync: the conflict matrix on real git repos, --prefer, outputs kept, fast no-op, bad input."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nbkit import config
from nbkit.cache import Cache
from nbkit.errors import BadInput
from nbkit.pairing.convert import normalise, script_text
from nbkit.pairing.pair import pair_notebook
from nbkit.pairing.sync import resolve_pairs, sync_pairs
from tests.conftest import assert_one_line_error, commit_all, git, make_nb, read_nb, write_nb
from tests.pairing_helpers import (
    edit_notebook,
    edit_script,
    nb_sources,
    paired,
    script_sources,
    snapshot,
)

CHANGES = ["notebook", "script", "both-same", "both-different", "neither"]


def _apply_change(change: str, nb: Path, script: Path) -> None:
    if change in ("notebook", "both-same", "both-different"):
        edit_notebook(nb, "print(x)", "print(x + 1)")
    if change in ("script", "both-same"):
        edit_script(script, "print(x)", "print(x + 1)")
    if change == "both-different":
        edit_script(script, "print(x)", "print(x - 1)")


def _expected(change: str, committed: bool) -> str:
    if change in ("neither", "both-same"):
        return "in-sync"
    if change == "both-different" or not committed:
        return "conflict"
    return "updated-script" if change == "notebook" else "updated-notebook"


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "unstaged"])
@pytest.mark.parametrize("committed", [True, False], ids=["base", "no-base"])
@pytest.mark.parametrize("change", CHANGES)
def test_conflict_matrix(
    repo: Path, cli: Callable, change: str, committed: bool, staged: bool
) -> None:
    pair = paired(repo)
    if committed:
        commit_all(repo)
    _apply_change(change, pair.notebook, pair.script)
    if staged:
        git(repo, "add", "-A")
    before = snapshot(pair.notebook, pair.script)
    want = _expected(change, committed)

    outcomes = sync_pairs(resolve_pairs([pair.notebook], config.load(repo)), config.load(repo))
    assert [o.action for o in outcomes] == [want]

    if want in ("in-sync", "conflict"):
        assert snapshot(pair.notebook, pair.script) == before
    if want == "conflict":
        message = outcomes[0].message
        assert "analysis.ipynb" in message and "analysis.py" in message
        assert "--prefer notebook" in message  # never agreed: what each side overwrites
        assert "--prefer notebook|script" in message or "--prefer script overwrites" in message
        assert cli("sync", "analysis.py").code == 1
        assert snapshot(pair.notebook, pair.script) == before
    else:
        assert nb_sources(pair.notebook) == script_sources(pair)
    if want == "updated-script":
        assert ("code", "print(x + 1)") in script_sources(pair)
    if want == "updated-notebook":
        cell = read_nb(pair.notebook)["cells"][2]
        assert "".join(cell["source"]) == "print(x + 1)"
        assert cell["outputs"] == []  # the output of the old source is stale


@pytest.mark.parametrize("prefer", ["notebook", "script"])
def test_prefer_resolves_a_conflict(repo: Path, cli: Callable, prefer: str) -> None:
    pair = paired(repo)
    commit_all(repo)
    _apply_change("both-different", pair.notebook, pair.script)
    assert cli("sync").code == 1
    result = cli("sync", "--prefer", prefer)
    assert result.code == 0, result.err
    winner = "print(x + 1)" if prefer == "notebook" else "print(x - 1)"
    assert ("code", winner) in nb_sources(pair.notebook)
    assert nb_sources(pair.notebook) == script_sources(pair)
    assert cli("sync", "--check").code == 0


def test_notebook_updated_from_script_keeps_outputs_ids_metadata(repo: Path, cli: Callable) -> None:
    pair = paired(repo)
    commit_all(repo)
    before = read_nb(pair.notebook)["cells"]
    edit_script(pair.script, "y = x * 2\ny", "y = x * 3\ny\n\n# %%\nz = 0")
    result = cli("sync", "analysis.py")
    assert result.code == 0 and "updated" in result.err
    after = read_nb(pair.notebook)["cells"]
    assert after[:3] == before[:3]  # untouched cells byte for byte: outputs, ids, tags
    assert after[2]["outputs"][0]["text"] == ["1\n"]
    assert after[3]["id"] == before[3]["id"] and "".join(after[3]["source"]) == "y = x * 3\ny"
    assert "".join(after[4]["source"]) == "z = 0" and after[4]["id"] not in {
        c["id"] for c in before
    }


def test_a_staged_sync_is_the_next_base(repo: Path, cli: Callable) -> None:
    pair = paired(repo)
    commit_all(repo)
    edit_notebook(pair.notebook, "x = 1", "x = 2")
    assert cli("sync").code == 0
    git(repo, "add", "-A")  # the synced pair, staged
    (repo / ".git" / "nbkit-cache.json").unlink()  # without nbkit's own agreed state
    edit_script(pair.script, "x = 2", "x = 3")
    before = snapshot(pair.notebook, pair.script)
    result = cli("sync", "--base", "HEAD")  # HEAD alone: both sides moved since the commit
    assert result.code == 1 and "both changed" in result.err
    assert snapshot(pair.notebook, pair.script) == before
    assert cli("sync").code == 0  # the index holds the synced pair: only the script moved
    assert ("code", "x = 3") in nb_sources(pair.notebook)


def test_a_sync_is_the_next_base_without_git_add(repo: Path, cli: Callable) -> None:
    """Edit the script, sync, edit it again, sync: nbkit's own sync is the new agreed base."""
    pair = paired(repo)
    commit_all(repo)
    edit_script(pair.script, "x = 1", "x = 2")
    assert cli("sync", "analysis.py").code == 0
    edit_script(pair.script, "x = 2", "x = 3")
    result = cli("sync", "analysis.py")
    assert result.code == 0 and "updated from" in result.err, result.err
    assert ("code", "x = 3") in nb_sources(pair.notebook)
    edit_notebook(pair.notebook, "x = 3", "x = 4")  # and the other side after it
    assert cli("sync").code == 0
    assert ("code", "x = 4") in script_sources(pair)


def test_check_writes_nothing(repo: Path, cli: Callable) -> None:
    pair = paired(repo)
    commit_all(repo)
    edit_notebook(pair.notebook, "x = 1", "x = 2")
    before = snapshot(pair.notebook, pair.script)
    result = cli("sync", "--check")
    assert result.code == 1 and "would be written" in result.err
    assert snapshot(pair.notebook, pair.script) == before
    assert cli("sync").code == 0
    assert cli("sync", "--check").code == 0


def test_both_files_given_sync_once(repo: Path) -> None:
    pair = paired(repo)
    commit_all(repo)
    edit_notebook(pair.notebook, "x = 1", "x = 2")
    outcomes = sync_pairs(
        resolve_pairs([pair.script, pair.notebook, pair.script], config.load(repo)),
        config.load(repo),
    )
    assert [o.action for o in outcomes] == ["updated-script"]


def test_deleted_script_is_recreated(repo: Path, cli: Callable) -> None:
    pair = paired(repo)
    commit_all(repo)
    pair.script.unlink()
    result = cli("sync")
    assert result.code == 0 and "recreated" in result.err
    assert nb_sources(pair.notebook) == script_sources(pair)


def test_deleted_notebook_is_reported_then_rebuilt(repo: Path, cli: Callable) -> None:
    (repo / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
    pair = paired(repo)
    commit_all(repo)
    sources = nb_sources(pair.notebook)
    pair.notebook.unlink()
    result = cli("sync", "analysis.py")
    assert result.code == 1 and "deleted" in result.err and "--prefer script" in result.err
    assert not pair.notebook.exists()
    assert cli("sync", "--prefer", "script", "analysis.py").code == 0
    assert nb_sources(pair.notebook) == sources
    assert read_nb(pair.notebook)["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"


def test_a_plain_module_is_not_half_of_a_pair(repo: Path, cli: Callable) -> None:
    (repo / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
    paired(repo)
    (repo / "utils.py").write_text("def f():\n    return 1\n")
    commit_all(repo)
    result = cli("sync", "utils.py")
    assert result.code == 2
    assert_one_line_error(result.err, "utils.py", "neither a notebook nor a paired script")
    assert not (repo / "utils.ipynb").exists()


def test_outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)
    pair = paired(folder)
    assert cli("sync").code == 0  # equal: nothing to decide
    edit_notebook(pair.notebook, "x = 1", "x = 2")
    before = snapshot(pair.notebook, pair.script)
    result = cli("sync", "analysis.ipynb")
    assert result.code == 1 and "no committed version" in result.err
    assert snapshot(pair.notebook, pair.script) == before


def test_myst_and_mirror_folder_sync(repo: Path, cli: Callable) -> None:
    (repo / "jupytext.toml").write_text('formats = "notebooks///ipynb,scripts///md:myst"\n')
    pair = paired(repo, "notebooks/deep/a b.ipynb")
    assert pair.script == repo / "scripts" / "deep" / "a b.md"
    commit_all(repo)
    edit_script(pair.script, "print(x)", "print('myst')")
    result = cli("sync", "scripts/deep/a b.md")
    assert result.code == 0, result.err
    assert ("code", "print('myst')") in nb_sources(pair.notebook)


def test_crlf_files_stay_crlf(repo: Path, cli: Callable) -> None:
    pair = paired(repo)
    for path in (pair.notebook, pair.script):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    commit_all(repo)
    assert cli("sync", "--check").code == 0
    edit_notebook(pair.notebook, "x = 1", "x = 5")
    pair.notebook.write_bytes(pair.notebook.read_bytes().replace(b"\n", b"\r\n"))
    assert cli("sync").code == 0
    text = pair.script.read_bytes()
    assert b"x = 5\r\n" in text and text.count(b"\n") == text.count(b"\r\n")
    git(repo, "add", "-A")  # the synced pair, staged, is the base of the next edit
    edit_script(pair.script, "x = 5", "x = 6")
    assert cli("sync").code == 0
    data = pair.notebook.read_bytes()
    assert b'"x = 6"' in data and data.count(b"\n") == data.count(b"\r\n")


def test_a_lossy_edit_is_refused(repo: Path, cli: Callable) -> None:
    pair = paired(repo)
    commit_all(repo)
    edit_notebook(pair.notebook, "x = 1", "x = 1\n# %%\nw = 3")
    before = snapshot(pair.notebook, pair.script)
    result = cli("sync")
    assert result.code == 2
    assert_one_line_error(result.err, "analysis.py", "would not keep every cell")
    assert snapshot(pair.notebook, pair.script) == before


def test_a_lossy_pair_stops_every_write(repo: Path, cli: Callable) -> None:
    good, lossy = paired(repo, "a.ipynb"), paired(repo, "b.ipynb")
    commit_all(repo)
    edit_notebook(good.notebook, "x = 1", "x = 2")
    edit_notebook(lossy.notebook, "x = 1", "x = 1\n# %%\nw = 3")
    before = snapshot(good.notebook, good.script, lossy.notebook, lossy.script)
    assert cli("sync").code == 2
    assert snapshot(good.notebook, good.script, lossy.notebook, lossy.script) == before


def test_noop_sync_imports_neither_jupytext_nor_nbformat(repo: Path, cli: Callable) -> None:
    paired(repo)
    commit_all(repo)
    assert cli("sync").code == 0  # parses both files once and remembers the pair is in sync
    probe = (
        "import sys\nfrom nbkit.cli.main import main\n"
        "code = main(['sync'])\n"
        "print(code, 'jupytext' in sys.modules, 'nbformat' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "0 False False", proc.stderr


def test_cache_never_hides_a_change(repo: Path) -> None:
    pair = paired(repo)
    commit_all(repo)
    cfg = config.load(repo)
    cache = Cache.for_root(repo)
    assert sync_pairs(resolve_pairs([pair.notebook], cfg), cfg, cache=cache)[0].action == "in-sync"
    edit_script(pair.script, "x = 1", "x = 7")
    assert (
        sync_pairs(resolve_pairs([pair.notebook], cfg), cfg, cache=cache)[0].action
        == "updated-notebook"
    )


def test_many_pairs_one_batch(repo: Path, cli: Callable) -> None:
    pairs = [paired(repo, f"nb{i}.ipynb") for i in range(4)]
    commit_all(repo)
    edit_notebook(pairs[0].notebook, "x = 1", "x = 10")
    edit_script(pairs[1].script, "x = 1", "x = 11")
    result = cli("sync")
    assert result.code == 0, result.err
    assert ("code", "x = 10") in script_sources(pairs[0])
    assert ("code", "x = 11") in nb_sources(pairs[1].notebook)
    for pair in pairs:
        assert nb_sources(pair.notebook) == script_sources(pair)


def test_git_is_asked_per_batch_not_per_file(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = [paired(repo, f"nb{i}.ipynb") for i in range(6)]
    commit_all(repo)
    cfg = config.load(repo)

    def git_calls(batch: list[Any]) -> int:
        trace = tmp_path / f"trace-{len(batch)}"
        for pair in batch:
            edit_notebook(pair.notebook, "x = 1", "x = 99")
        monkeypatch.setenv("GIT_TRACE", str(trace))
        outcomes = sync_pairs(resolve_pairs([p.notebook for p in batch], cfg), cfg)
        monkeypatch.delenv("GIT_TRACE")
        assert {o.action for o in outcomes} == {"updated-script"}
        return trace.read_text().count("trace: built-in: git")

    one = git_calls(pairs[:1])
    assert 0 < one <= 6 and git_calls(pairs[1:]) == one


@pytest.mark.parametrize(
    ("target", "setup", "needle"),
    [
        ("analysis.ipynb", lambda r: (r / "analysis.ipynb").write_bytes(b"{oops"), "invalid JSON"),
        ("analysis.py", lambda r: (r / "analysis.py").write_bytes(b"\xff\xfe# %%\n"), "UTF-8"),
        ("notes.txt", lambda r: (r / "notes.txt").write_text("hi"), "neither a notebook"),
        ("tool.py", lambda r: (r / "tool.py").write_text("x = 1\n"), "neither a notebook"),
        ("gone.ipynb", lambda r: None, "no such file"),
        ("ünï cödé.py", lambda r: (r / "ünï cödé.py").write_text("x = 1\n"), "neither a notebook"),
        (
            "crlf.ipynb",
            lambda r: (r / "crlf.ipynb").write_bytes(b'{\r\n "cells": [\r\n'),
            "invalid JSON",
        ),
    ],
)
def test_sync_bad_input(
    repo: Path, cli: Callable, target: str, setup: Callable[[Path], object], needle: str
) -> None:
    pair = paired(repo)
    commit_all(repo)
    setup(repo)
    before = snapshot(*sorted(p for p in repo.iterdir() if p.is_file()))
    result = cli("sync", target)
    assert result.code == 2
    assert_one_line_error(result.err, target, needle)
    assert snapshot(*sorted(p for p in repo.iterdir() if p.is_file())) == before
    assert pair.script.is_file()


def test_a_script_jupytext_cannot_read(repo: Path, cli: Callable) -> None:
    pair = paired(repo, "a.ipynb", "md:myst")
    commit_all(repo)
    edit_script(pair.script, ":tags: [parameters]", ":tags: [unclosed")
    before = snapshot(pair.notebook, pair.script)
    result = cli("sync", "a.md")
    assert result.code == 2
    assert_one_line_error(result.err, "a.md", "jupytext cannot read this as md:myst")
    assert snapshot(pair.notebook, pair.script) == before


def test_unpaired_notebook_is_left_alone(repo: Path, cli: Callable) -> None:
    write_nb(repo / "plain.ipynb", make_nb("x = 1"))
    commit_all(repo)
    result = cli("sync", "plain.ipynb")
    assert result.code == 0 and result.err == ""
    assert not (repo / "plain.py").exists()


# --- property: an edit on either side survives a sync, or the sync refuses ----------------

_LINES = st.sampled_from(
    ["x = 1", "print(x)", "# comment", "", "# %%", "%%time", "  indented", "```", "---", "ü = 'é'"]
)
_CELL = st.tuples(
    st.sampled_from(["code", "markdown", "raw"]),
    st.lists(_LINES, min_size=1, max_size=3).map("\n".join),
)
_EDIT = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 9), _CELL),
    st.tuples(st.just("insert"), st.integers(0, 9), _CELL),
    st.tuples(st.just("delete"), st.integers(0, 9), _CELL),
)


def _edited(cells: list[tuple[str, str]], edits: list[Any]) -> list[tuple[str, str]]:
    cells = list(cells)
    for kind, index, cell in edits:
        if kind == "insert":
            cells.insert(index % (len(cells) + 1), cell)
        elif cells and kind == "edit":
            cells[index % len(cells)] = cell
        elif cells:
            del cells[index % len(cells)]
    return cells


def _nb_of(cells: list[tuple[str, str]], formats: str | None = None) -> dict[str, Any]:
    nb = make_nb(*cells)
    if formats:
        nb["metadata"]["jupytext"] = {"formats": formats, "notebook_metadata_filter": "-all"}
    return nb


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cells=st.lists(_CELL, min_size=1, max_size=4),
    edits=st.lists(_EDIT, min_size=1, max_size=3),
    side=st.sampled_from(["notebook", "script"]),
    fmt=st.sampled_from(["py:percent", "md:myst"]),
)
def test_sync_never_loses_an_edit(
    tmp_path: Path, cells: list[Any], edits: list[Any], side: str, fmt: str
) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    git(root, "init", "-q", "-b", "main")
    cfg = config.load(root)
    nb_path = write_nb(root / "nb.ipynb", _nb_of(cells))
    try:
        pair = pair_notebook(nb_path, cfg, fmt)
    except BadInput:
        assert not (root / ("nb.md" if fmt == "md:myst" else "nb.py")).exists()
        event("pair refused")
        return  # the format cannot hold these cells: refused, nothing written
    commit_all(root)
    new_cells = _edited(cells, edits)
    formats = f"ipynb,{fmt}"
    if side == "notebook":
        write_nb(pair.notebook, _nb_of(new_cells, formats))
    else:
        pair.script.write_text(script_text(_nb_of(new_cells, formats), formats, fmt))
    edited = snapshot(pair.notebook, pair.script)
    try:
        outcomes = sync_pairs(resolve_pairs([pair.notebook], cfg), cfg)
    except BadInput:
        assert snapshot(pair.notebook, pair.script) == edited  # refused: nothing written
        event("sync refused")
        return
    event(outcomes[0].action)
    assert outcomes[0].action in ("in-sync", "updated-script", "updated-notebook")
    # The edited side is untouched and the other side now holds exactly its cells.
    edited_side = pair.notebook if side == "notebook" else pair.script
    assert edited_side.read_bytes() == edited[edited_side]
    assert nb_sources(pair.notebook) == script_sources(pair)
    if side == "notebook":
        assert nb_sources(pair.notebook) == [(t, normalise(s)) for t, s in new_cells]


def test_a_changed_format_names_the_orphaned_script(repo: Path, cli: Callable) -> None:
    """Issue 10 minor: a new pairing format leaves the old script behind; say so."""
    pair = paired(repo)
    commit_all(repo)
    nb = read_nb(pair.notebook)
    nb["metadata"]["jupytext"]["formats"] = "ipynb,md:myst"
    write_nb(pair.notebook, nb)
    result = cli("sync", "analysis.ipynb")
    assert result.code == 0, result.err
    assert (repo / "analysis.md").exists()
    assert "warning: analysis.py: no longer paired with analysis.ipynb" in result.err
    assert "git rm analysis.py" in result.err


def test_a_moved_script_folder_names_the_orphaned_script(repo: Path, cli: Callable) -> None:
    (repo / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
    write_nb(repo / "a.ipynb", make_nb("x = 1"))
    assert cli("sync", "a.ipynb").code == 0
    commit_all(repo)
    (repo / "jupytext.toml").write_text('formats = "ipynb,scripts//py:percent"\n')
    result = cli("hook", "nbkit", "a.ipynb")
    assert result.code == 1 and (repo / "scripts" / "a.py").exists()
    assert "a.py: no longer paired with a.ipynb" in result.err, result.err


def test_committing_a_conflicted_script_names_it_as_typed_with_a_hint(
    repo: Path, cli: Callable[..., Any]
) -> None:
    from tests.hooks_helpers import clean_nb, declare_pairing

    declare_pairing(repo)
    write_nb(repo / "analysis.ipynb", clean_nb("x = 1"))
    assert cli("sync", "analysis.ipynb").code == 0
    commit_all(repo, "pair")
    script = repo / "analysis.py"
    script.write_text(script.read_text() + "<<<<<<< HEAD\nx = 2\n=======\nx = 3\n>>>>>>> side\n")
    git(repo, "add", "analysis.py")
    result = cli("hook", "nbkit", "analysis.py")
    assert result.code == 2
    assert "analysis.py: contains git conflict markers" in result.err
    assert str(repo) not in result.err and "nbkit resolve analysis.py" in result.err


def test_new_notebook_beside_an_unrelated_script_offers_no_blind_overwrite(
    repo: Path, cli: Callable[..., Any]
) -> None:
    from tests.hooks_helpers import clean_nb, declare_pairing

    declare_pairing(repo)
    commit_all(repo, "config")
    write_nb(repo / "report.ipynb", clean_nb("x = 1"))
    (repo / "report.py").write_text("def helper():\n    return 42\n")  # untracked, unrelated
    git(repo, "add", "report.ipynb")
    result = cli("hook", "nbkit", "report.ipynb")
    assert result.code == 1
    assert (repo / "report.py").read_text() == "def helper():\n    return 42\n"
    assert "move or rename it" in result.err and "nbkit pair --format" in result.err
    assert "--prefer notebook report.ipynb overwrites report.py" in result.err
    assert "--prefer notebook|script" not in result.err
