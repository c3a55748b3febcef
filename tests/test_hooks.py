"""The hook entry points (`nbkit hook NAME FILES...`) on real repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_one_line_error, commit_all, git, make_nb, read_nb, write_nb
from tests.hooks_helpers import clean_nb, declare_pairing, dirty_nb

# What a hook run on already clean, valid, in-sync files must not import.
HEAVY = (
    "jupytext",
    "nbformat.validator",
    "jsonschema",
    "nbdime",
    "papermill",
    "git",  # GitPython
    "nh3",
    "PIL",
    "matplotlib",
    "dask",
    "distributed",
    "nbkit.review.report",
    "nbkit.runs",
    "nbkit.review.diff",
)


def _script_source(path: Path) -> str:
    return path.read_text()


def committed_pair(repo: Path, cli: Callable[..., Any]) -> None:
    """a.ipynb (``x = 1``) and the a.py the hook pairs it with, both committed."""
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    assert cli("hook", "nbkit", "a.ipynb").code == 1
    commit_all(repo)


def test_combined_hook_creates_pair_cleans_then_passes_after_one_add(
    repo: Path, cli: Callable[..., Any]
) -> None:
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", dirty_nb())
    first = cli("hook", "nbkit", "a.ipynb")
    assert first.code == 1
    assert "a.ipynb" in first.err and "a.py" in first.err and "git add -- a.ipynb a.py" in first.err
    assert read_nb(repo / "a.ipynb")["cells"][1]["outputs"] == []
    assert "print('hi')" in _script_source(repo / "a.py")
    git(repo, "add", "a.ipynb", "a.py")
    second = cli("hook", "nbkit", "a.ipynb", "a.py")
    assert (second.code, second.err) == (0, "")


def test_script_edit_updates_notebook_and_the_next_run_passes(
    repo: Path, cli: Callable[..., Any]
) -> None:
    committed_pair(repo, cli)
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    git(repo, "add", "a.py")  # what pre-commit sees: the staged script only
    result = cli("hook", "nbkit", "a.py")
    assert result.code == 1 and "a.ipynb" in result.err
    assert "".join(read_nb(repo / "a.ipynb")["cells"][1]["source"]) == "x = 2"
    git(repo, "add", "a.ipynb")
    assert cli("hook", "nbkit", "a.ipynb", "a.py").code == 0


def test_a_git_ignored_notebook_synced_from_its_script_does_not_fail_the_commit(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """The jupytext set-up that commits only the script: the hook brings the ignored notebook
    along, and there is nothing to re-add (`git add` of an ignored file fails, adding nothing)."""
    declare_pairing(repo)
    (repo / ".gitignore").write_text("a.ipynb\n")
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    assert cli("sync", "a.ipynb").code == 0  # writes a.py
    commit_all(repo)
    assert git(repo, "ls-files").split() == [".gitignore", "a.py", "nbkit.toml"]
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    git(repo, "add", "a.py")
    result = cli("hook", "nbkit", "a.py")
    assert result.code == 0 and "git add" not in result.err
    assert "".join(read_nb(repo / "a.ipynb")["cells"][1]["source"]) == "x = 2"


def test_a_checkout_names_no_git_ignored_notebook_to_add(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """After a checkout the ignored notebook is brought along, and not named in `git add`."""
    declare_pairing(repo)
    (repo / ".gitignore").write_text("a.ipynb\n")
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    assert cli("sync", "a.ipynb").code == 0
    old = commit_all(repo)
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    new = commit_all(repo)
    result = cli("hook", "post-checkout", old, new, "1")
    assert result.code == 0 and "git add" not in result.err and "git-ignored" in result.err
    assert "".join(read_nb(repo / "a.ipynb")["cells"][1]["source"]) == "x = 2"


def test_notebook_edit_with_outputs_updates_script_once(
    repo: Path, cli: Callable[..., Any]
) -> None:
    committed_pair(repo, cli)
    write_nb(repo / "a.ipynb", dirty_nb("x = 5"))  # edited and run in Jupyter
    git(repo, "add", "a.ipynb")
    result = cli("hook", "nbkit", "a.ipynb", "a.py")  # both files of one pair passed
    assert result.code == 1
    assert result.err.count("  a.py\n") == 1 and result.err.count("  a.ipynb\n") == 1
    assert "x = 5" in (repo / "a.py").read_text()
    git(repo, "add", "a.ipynb", "a.py")
    assert cli("hook", "nbkit", "a.ipynb", "a.py").code == 0


def test_both_sides_changed_is_one_conflict_and_nothing_written(
    repo: Path, cli: Callable[..., Any]
) -> None:
    committed_pair(repo, cli)
    write_nb(repo / "a.ipynb", clean_nb("x = 'notebook'"))
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 'script'"))
    before = (repo / "a.ipynb").read_bytes(), script.read_bytes()
    result = cli("hook", "nbkit", "a.py", "a.ipynb")
    assert result.code == 1
    assert result.err.count("--prefer") == 1, result.err
    assert ((repo / "a.ipynb").read_bytes(), script.read_bytes()) == before


def test_auto_pair_only_when_configured(repo: Path, cli: Callable[..., Any]) -> None:
    write_nb(repo / "plain.ipynb", clean_nb())
    assert cli("hook", "nbkit", "plain.ipynb").code == 0
    assert not (repo / "plain.py").exists()  # no formats declared, no auto_pair: left alone

    (repo / "nbkit.toml").write_text("[tool.nbkit]\nauto_pair = true\n")
    result = cli("hook", "nbkit", "plain.ipynb")
    assert result.code == 1 and "plain.py" in result.err
    assert read_nb(repo / "plain.ipynb")["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    git(repo, "add", "plain.ipynb", "plain.py")
    assert cli("hook", "nbkit", "plain.ipynb", "plain.py").code == 0


def test_plain_python_files_are_not_pairs(repo: Path, cli: Callable[..., Any]) -> None:
    declare_pairing(repo)
    (repo / "util.py").write_text("x = 1\n")
    (repo / "README.md").write_text("# hi\n")
    result = cli("hook", "nbkit", "util.py", "README.md")
    assert (result.code, result.err) == (0, "")


def test_single_purpose_hooks(repo: Path, cli: Callable[..., Any]) -> None:
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", dirty_nb())
    assert cli("hook", "validate", "a.ipynb").code == 0
    cleaned = cli("hook", "clean", "a.ipynb")
    assert cleaned.code == 1 and "a.ipynb" in cleaned.err
    assert not (repo / "a.py").exists()  # clean does not pair
    assert cli("hook", "clean", "a.ipynb").code == 0
    synced = cli("hook", "sync", "a.ipynb")
    assert synced.code == 1 and (repo / "a.py").exists()
    assert cli("hook", "sync", "a.ipynb", "a.py").code == 0


def test_exit_status_is_one_not_a_count(repo: Path, cli: Callable[..., Any]) -> None:
    paths = [write_nb(repo / f"n{i}.ipynb", dirty_nb()) for i in range(3)]
    assert cli("hook", "clean", *paths).code == 1


def test_validate_hook_reports_problems(repo: Path, cli: Callable[..., Any]) -> None:
    nb = clean_nb()
    nb["cells"][1]["id"] = nb["cells"][0]["id"]
    (repo / "dup.ipynb").write_text(json.dumps(nb))  # nbformat's writer would fix the ids
    result = cli("hook", "validate", "dup.ipynb")
    assert result.code == 1 and "dup.ipynb" in result.err and "share the id" in result.err


@pytest.mark.parametrize("name", ["nbkit", "clean", "sync", "validate"])
def test_bad_notebook_is_exit_2_one_line_unchanged(
    repo: Path, cli: Callable[..., Any], name: str
) -> None:
    declare_pairing(repo)
    bad = repo / "bad.ipynb"
    bad.write_text('{"cells": [')
    result = cli("hook", name, "bad.ipynb")
    assert result.code == (1 if name == "validate" else 2)  # validate: a failed check
    assert_one_line_error(result.err, "bad.ipynb", "invalid JSON")
    assert bad.read_text() == '{"cells": ['
    assert not (repo / "bad.py").exists()


def test_missing_file_is_exit_2(repo: Path, cli: Callable[..., Any]) -> None:
    result = cli("hook", "nbkit", "gone.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "gone.ipynb", "no such file")


def test_git_pre_commit_entry_reads_the_staged_files(repo: Path, cli: Callable[..., Any]) -> None:
    declare_pairing(repo)
    write_nb(repo / "staged.ipynb", dirty_nb())
    write_nb(repo / "unstaged.ipynb", dirty_nb())
    git(repo, "add", "staged.ipynb")
    result = cli("hook", "pre-commit")
    assert result.code == 1 and "staged.py" in result.err and "unstaged" not in result.err
    assert read_nb(repo / "unstaged.ipynb")["cells"][1]["outputs"] != []


def test_no_op_hook_imports_nothing_heavy(repo: Path, cli: Callable[..., Any]) -> None:
    """A commit of clean, valid, in-sync files is answered from the cache."""
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", dirty_nb())
    assert cli("hook", "nbkit", "a.ipynb").code == 1
    git(repo, "add", "a.ipynb", "a.py")
    assert cli("hook", "nbkit", "a.ipynb", "a.py").code == 0  # fills the cache
    probe = (
        "import json, sys\n"
        "from nbkit.cli.main import main\n"
        "code = main(['hook', 'nbkit', 'a.ipynb', 'a.py'])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    code, modules = json.loads(proc.stdout)
    assert code == 0, proc.stderr
    loaded = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


def imported_by(cwd: Path, *args: str) -> tuple[int, set[str]]:
    """Exit code and every module the real entry point imported (``python -X importtime``)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nbkit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert lines, proc.stderr
    return proc.returncode, {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


def test_the_commit_path_never_imports_the_merge_wing(repo: Path) -> None:
    """Clean, pair, sync and validate (conflict markers included) work without nbkit.merge."""
    marked = dirty_nb()
    marked["cells"].append(make_nb("<<<<<<< HEAD\nx\n>>>>>>> b")["cells"][0] | {"id": "m"})
    write_nb(repo / "marked.ipynb", marked)
    code, modules = imported_by(repo, "hook", "nbkit", "marked.ipynb")
    assert code == 1  # cleaned, and the marked cell refused by validate
    assert "nbkit.validate" in modules
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", dirty_nb())
    code, paired = imported_by(repo, "hook", "nbkit", "a.ipynb")
    assert code == 1 and (repo / "a.py").is_file()  # cleaned and paired
    assert sorted(m for m in modules | paired if m.startswith("nbkit.merge")) == []


_COUNTING_PROBE = """
import builtins, collections, io, json, os, sys
from nbkit import notebook
opened = collections.Counter()
real_open = io.open
def counting_open(file, *args, **kwargs):
    if isinstance(file, (str, os.PathLike)):
        path = os.path.realpath(file)
        if "/.git/" not in path:
            opened[os.path.relpath(path)] += 1
    return real_open(file, *args, **kwargs)
io.open = builtins.open = counting_open
parses = []
real_parse = notebook.parse_json
def counting_parse(data, path):
    parses.append(str(path))
    return real_parse(data, path)
notebook.parse_json = counting_parse
from nbkit.cli.main import main
code = main(["hook", "nbkit", *sys.argv[1:]])
heavy = [m for m in ("jupytext", "nbformat") if m in sys.modules]
print(json.dumps({"code": code, "opened": opened, "parses": parses, "heavy": heavy}))
"""


def test_warm_no_op_hook_reads_each_file_once_and_parses_nothing(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """Issue 9 §2: one read per file, no JSON parse, no jupytext or nbformat, on a warm
    no-op `nbkit hook nbkit` (each pair resolved once; the sync API takes resolved pairs)."""
    declare_pairing(repo)
    for name in ("a", "b"):
        write_nb(repo / f"{name}.ipynb", clean_nb(f"{name} = 1"))
    files = ["a.ipynb", "a.py", "b.ipynb", "b.py"]
    assert cli("hook", "nbkit", "a.ipynb", "b.ipynb").code == 1  # creates the scripts
    commit_all(repo)
    assert cli("hook", "nbkit", *files).code == 0  # warm
    proc = subprocess.run(
        [sys.executable, "-c", _COUNTING_PROBE, *files],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and result["heavy"] == [], result
    assert result["parses"] == [], result
    assert {name: n for name, n in result["opened"].items() if n > 1} == {}, result
    assert {name for name in files} <= set(result["opened"]), result


def test_each_script_is_parsed_once_per_pair_per_hook_run(
    repo: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 item 3: jupytext reads each paired script once per hook run (plus once the
    text it is about to write, to prove it keeps every cell), and nbformat's per-cell schema
    check does not run while it reads."""
    import jupytext
    import nbformat

    declare_pairing(repo)
    for name in ("a", "b", "c"):
        write_nb(repo / f"{name}.ipynb", clean_nb(f"{name} = 1"))
    assert cli("hook", "nbkit", "a.ipynb", "b.ipynb", "c.ipynb").code == 1
    commit_all(repo)
    write_nb(repo / "a.ipynb", clean_nb("a = 2"))  # notebook edited: the script is rewritten
    script = repo / "b.py"  # script edited: the notebook is updated
    script.write_text(script.read_text().replace("b = 1", "b = 2"))
    texts: list[str] = []
    validations: list[Any] = []
    real_reads, real_validate = jupytext.reads, nbformat.validate

    def counting_reads(text: str, *args: Any, **kwargs: Any) -> Any:
        texts.append(text)
        return real_reads(text, *args, **kwargs)

    def counting_validate(node: Any, *args: Any, **kwargs: Any) -> Any:
        validations.append(node)
        return real_validate(node, *args, **kwargs)

    monkeypatch.setattr(jupytext, "reads", counting_reads)
    monkeypatch.setattr(nbformat, "validate", counting_validate)
    files = [f"{n}.{ext}" for n in "abc" for ext in ("ipynb", "py")]
    result = cli("hook", "nbkit", *files)
    assert result.code == 1 and "a.py" in result.err and "b.ipynb" in result.err, result.err
    assert len(texts) == len(set(texts)), texts  # no text parsed twice
    assert len(texts) <= 3, texts  # a: its script + the new text; b: its script; c: nothing
    assert validations == []


def test_hot_entry_points_never_import_click(repo: Path, cli: Callable[..., Any]) -> None:
    """A commit runs `nbkit hook nbkit` once, git runs textconv per file: no click for them."""
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", dirty_nb())
    assert cli("hook", "nbkit", "a.ipynb").code == 1
    git(repo, "add", "a.ipynb", "a.py")
    assert cli("hook", "nbkit", "a.ipynb", "a.py").code == 0  # fills the cache
    for args, want in [
        (("hook", "nbkit", "a.ipynb", "a.py"), 0),  # the warm no-op commit
        (("clean", "--check", "a.ipynb"), 0),
        (("textconv", "a.ipynb"), 0),
        (("merge-driver", "a.ipynb", "a.ipynb", "a.ipynb", "a.ipynb"), 0),
    ]:
        code, modules = imported_by(repo, *args)
        assert code == want, args
        assert "click" not in modules, args
    code, modules = imported_by(repo, "hook", "nbkit", "--help")  # anything else: click
    assert code == 0 and "click" in modules
