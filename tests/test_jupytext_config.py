"""nbkit and the real jupytext CLI on one repository: each configuration form jupytext
accepts pairs the same files for both tools, and neither rewrites what the other wrote.

After ``nbkit sync``, ``jupytext --sync`` changes no byte of any file; after ``jupytext
--sync``, ``nbkit sync --check`` passes. Headers, metadata filters and pairing metadata are
what jupytext writes (nbkit used to strip jupytext's header and record its own formats).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.conftest import assert_one_line_error, commit_all, git, make_nb, read_nb, write_nb

STREAM = {"output_type": "stream", "name": "stdout", "text": "2\n"}


class Layout(NamedTuple):
    files: dict[str, str]  # configuration files to write, name -> text
    notebook: str
    script: str
    own_formats: str | None  # recorded in the notebook by jupytext --set-formats (no config)


LAYOUTS = {
    "string-formats": Layout(
        {"jupytext.toml": 'formats = "ipynb,py:percent"\n'}, "a.ipynb", "a.py", None
    ),
    "formats-table": Layout(
        {"jupytext.toml": '[formats]\n"notebooks/" = "ipynb"\n"scripts/" = "py:percent"\n'},
        "notebooks/a.ipynb",
        "scripts/a.py",
        None,
    ),
    "pyproject": Layout(
        {
            "pyproject.toml": '[project]\nname = "x"\nversion = "0"\n\n[tool.jupytext]\n'
            'formats = "ipynb,py:percent"\ncell_metadata_filter = "-all"\n'
        },
        "a.ipynb",
        "a.py",
        None,
    ),
    "header-filter": Layout(
        {
            ".jupytext.toml": 'formats = "nb///ipynb,src///py:percent"\n'
            'notebook_metadata_filter = "-jupytext.text_representation.jupytext_version"\n'
        },
        "nb/sub/a.ipynb",
        "src/sub/a.py",
        None,
    ),
    "notebook-metadata": Layout({}, "a.ipynb", "a.py", "ipynb,py:percent"),
}


def jupytext(repo: Path, *args: str) -> None:
    """The real jupytext CLI, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "jupytext", "--quiet", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def files_of(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def sample() -> dict[str, Any]:
    return make_nb(
        ("markdown", "# Title"),
        {"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["parameters"]}},
        {"cell_type": "code", "source": "print(x * 2)", "outputs": [STREAM], "execution_count": 1},
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (old, text)
    path.write_text(text.replace(old, new), encoding="utf-8")


def assert_jupytext_changes_nothing(repo: Path, layout: Layout) -> None:
    before = files_of(repo)
    jupytext(repo, "--sync", layout.notebook)
    after = files_of(repo)
    changed = [
        name for name in sorted(before.keys() | after.keys()) if before.get(name) != after.get(name)
    ]
    assert not changed, {name: after.get(name, b"(deleted)").decode() for name in changed}


@pytest.fixture
def paired_by_jupytext(repo: Path, request: pytest.FixtureRequest) -> Layout:
    """A repository whose notebook jupytext paired (``jupytext --sync``), committed."""
    layout: Layout = LAYOUTS[request.param]
    for name, text in layout.files.items():
        (repo / name).write_text(text, encoding="utf-8")
    write_nb(repo / layout.notebook, sample())
    if layout.own_formats:
        jupytext(repo, "--set-formats", layout.own_formats, layout.notebook)
    else:
        jupytext(repo, "--sync", layout.notebook)
    assert (repo / layout.script).is_file()
    commit_all(repo)
    return layout


@pytest.mark.parametrize("paired_by_jupytext", list(LAYOUTS), indirect=True)
def test_nbkit_and_jupytext_agree(repo: Path, cli: Callable, paired_by_jupytext: Layout) -> None:
    layout = paired_by_jupytext
    nb_path, script = repo / layout.notebook, repo / layout.script
    header = script.read_text(encoding="utf-8").startswith("# ---")
    assert cli("sync", "--check").code == 0  # jupytext's pair, as jupytext wrote it

    edit(nb_path, '"x = 1"', '"x = 10"')  # edited in Jupyter
    result = cli("sync")
    assert result.code == 0, result.err
    assert "x = 10" in script.read_text(encoding="utf-8")  # the pair jupytext would use
    assert script.read_text(encoding="utf-8").startswith("# ---") == header  # kept, not stripped
    assert_jupytext_changes_nothing(repo, layout)

    edit(script, "x = 10", "x = 20")  # edited in an editor
    assert cli("sync").code == 0
    cells = read_nb(nb_path)["cells"]
    assert "".join(cells[1]["source"]) == "x = 20" and cells[1]["metadata"] == {
        "tags": ["parameters"]
    }
    assert [o["name"] for o in cells[2]["outputs"]] == ["stdout"]  # the outputs are kept
    assert_jupytext_changes_nothing(repo, layout)
    meta = read_nb(nb_path)["metadata"]
    assert meta.get("jupytext", {}).get("formats") == layout.own_formats  # nbkit added none

    edit(script, "x = 20", "x = 30")  # jupytext syncs this time
    jupytext(repo, "--sync", layout.script)
    result = cli("sync", "--check")
    assert result.code == 0, result.out + result.err


def test_formats_table_pairs_into_the_other_folder(repo: Path, cli: Callable) -> None:
    """``nbkit pair`` follows the [formats] table and records no formats of its own."""
    (repo / "jupytext.toml").write_text(LAYOUTS["formats-table"].files["jupytext.toml"])
    write_nb(repo / "notebooks" / "b.ipynb", sample())
    result = cli("pair", "notebooks/b.ipynb")
    assert result.code == 0, result.err
    assert not (repo / "notebooks" / "b.py").exists()
    assert (repo / "scripts" / "b.py").read_text().startswith("# ---")  # jupytext's default
    assert "jupytext" not in read_nb(repo / "notebooks" / "b.ipynb")["metadata"]
    assert_jupytext_changes_nothing(
        repo, LAYOUTS["formats-table"]._replace(notebook="notebooks/b.ipynb")
    )


BAD = {
    "unparseable": ("jupytext.toml", 'formats = "ipynb,py:percent\n', "jupytext.toml"),
    "unknown-format": ("jupytext.toml", 'formats = "ipynb,xyz:percent"\n', "xyz"),
    "unknown-in-table": ("jupytext.toml", '[formats]\n"a/" = "ipynb"\n"b/" = "pyy"\n', "pyy"),
    "unknown-option": ("jupytext.toml", 'formats = "ipynb,py:percent"\nformts = 1\n', "formts"),
    "python-config": (".jupytext.py", 'c.formats = "ipynb,py:percent"\n', ".jupytext.py"),
    "bad-pyproject": ("pyproject.toml", "[tool.jupytext]\nformats = [1]\n", "pyproject.toml"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_jupytext_config_is_one_line_exit_2(repo: Path, cli: Callable, case: str) -> None:
    name, text, needle = BAD[case]
    write_nb(repo / "a.ipynb", sample())
    (repo / name).write_text(text, encoding="utf-8")
    result = cli("sync", "a.ipynb")
    assert result.code == 2, result.out + result.err
    assert_one_line_error(result.err, name, needle)
    assert "hint:" in result.err
    assert not (repo / "a.py").exists()


@pytest.mark.parametrize("form", ["formats-table", "pyproject"])
def test_warm_no_op_reads_the_config_without_jupytext(repo: Path, cli: Callable, form: str) -> None:
    """jupytext's loader runs once per configuration content; a warm no-op sync or hook
    answers from the cache under .git and imports neither jupytext nor nbformat."""
    layout = LAYOUTS[form]
    for name, text in layout.files.items():
        (repo / name).write_text(text, encoding="utf-8")
    write_nb(repo / layout.notebook, make_nb(("markdown", "# T"), "x = 1"))
    jupytext(repo, "--sync", layout.notebook)
    commit_all(repo)
    assert cli("sync").code == 0  # fills the caches
    assert cli("hook", "nbkit", layout.notebook, layout.script).code == 0
    probe = (
        "import sys\nfrom pathlib import Path\nfrom nbkit import config\n"
        "from nbkit.cli.main import main\nfrom nbkit.pairing.paths import pair_of\n"
        f"codes = [main(['sync']), main(['hook', 'nbkit', {layout.notebook!r}, {layout.script!r}])]\n"
        f"pair = pair_of(Path({layout.notebook!r}), config.load('.'))\n"
        "print(codes, pair and pair.script.relative_to(Path.cwd()).as_posix(),"
        " 'jupytext' in sys.modules, 'nbformat' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == f"[0, 0] {layout.script} False False", proc.stderr


def test_nbkit_pairing_keeps_an_existing_jupytext_header(repo: Path, cli: Callable) -> None:
    """A script jupytext wrote before nbkit paired it keeps its header: nbkit records no
    ``-all`` filter, so both tools write the header from then on."""
    write_nb(repo / "a.ipynb", sample())
    jupytext(repo, "--to", "py:percent", "a.ipynb")
    assert cli("pair", "a.ipynb").code == 0
    assert read_nb(repo / "a.ipynb")["metadata"]["jupytext"] == {"formats": "ipynb,py:percent"}
    commit_all(repo)
    edit(repo / "a.ipynb", '"x = 1"', '"x = 10"')
    assert cli("sync").code == 0
    text = (repo / "a.py").read_text(encoding="utf-8")
    assert text.startswith("# ---\n") and "x = 10" in text
    assert_jupytext_changes_nothing(repo, LAYOUTS["notebook-metadata"])


# --- the hook's candidate scripts and review's folding follow the same declared pairing ----

R_META = {
    "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
    "language_info": {"name": "R"},
}
# configuration files, the notebook, its language, and the script jupytext pairs it with
SCRIPT_LAYOUTS = {
    "table-R": (
        {"jupytext.toml": '[formats]\n"notebooks/" = "ipynb"\n"scripts/" = "R:percent"\n'},
        "notebooks/a.ipynb",
        R_META,
        "scripts/a.R",
    ),
    "table-Rmd": (  # .Rmd is no language's suffix: the old hook never looked at it
        {"jupytext.toml": '[formats]\n"notebooks/" = "ipynb"\n"scripts/" = "Rmd"\n'},
        "notebooks/a.ipynb",
        R_META,
        "scripts/a.Rmd",
    ),
    "nested-auto-under-py-root": (  # the root's string form said only .py
        {
            "jupytext.toml": 'formats = "ipynb,py:percent"\n',
            "sub/jupytext.toml": 'formats = "ipynb,auto:percent"\n',
        },
        "sub/a.ipynb",
        R_META,
        "sub/a.R",
    ),
}


@pytest.mark.parametrize("form", list(SCRIPT_LAYOUTS))
def test_git_commit_of_a_script_alone_reaches_its_notebook(
    repo: Path, cli: Callable, form: str
) -> None:
    """A staged script the jupytext configuration that applies to it pairs (a ``[formats]``
    table, a nested file), of a suffix the root's string form does not name, is one of the
    git pre-commit hook's files: its edit is carried to the notebook."""
    files, nb_rel, meta, script_rel = SCRIPT_LAYOUTS[form]
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    write_nb(repo / nb_rel, make_nb(("markdown", "# T"), "x = 1", metadata=meta))
    jupytext(repo, "--sync", nb_rel)
    commit_all(repo)
    assert cli("install").code == 0
    edit(repo / script_rel, "x = 1", "x = 2")
    git(repo, "add", script_rel)
    proc = subprocess.run(
        ["git", "commit", "-q", "-m", "edit"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1 and nb_rel in proc.stderr, proc.stderr
    assert "".join(read_nb(repo / nb_rel)["cells"][1]["source"]) == "x = 2"
    git(repo, "add", nb_rel)
    assert git(repo, "commit", "-q", "-m", "edit") == ""  # now in step: the hook passes
    assert_jupytext_changes_nothing(repo, Layout(files, nb_rel, script_rel, None))


def test_review_folds_a_script_in_the_other_folder(repo: Path, cli: Callable) -> None:
    """In a ``[formats]``-table repository the script lives in scripts/, not beside the
    notebook: review names it on the notebook's entry, and a script changed alone gets the
    note naming notebooks/a.ipynb."""
    layout = LAYOUTS["formats-table"]
    for name, text in layout.files.items():
        (repo / name).write_text(text, encoding="utf-8")
    write_nb(repo / layout.notebook, sample())
    jupytext(repo, "--sync", layout.notebook)
    commit_all(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo / layout.script, "x = 1", "x = 3")
    jupytext(repo, "--sync", layout.script)
    commit_all(repo, "both sides")
    git(repo, "checkout", "-q", "-b", "lone")
    edit(repo / layout.script, "x = 3", "x = 4")
    commit_all(repo, "the script alone")

    both = cli("review", "main...feature", "--format", "json")
    assert both.code == 0, both.err
    data = json.loads(both.out)
    assert [(nb["path"], nb["paired_scripts"]) for nb in data["notebooks"]] == [
        (layout.notebook, [layout.script])
    ]
    assert data["notes"] == []
    alone = json.loads(cli("review", "feature...lone", "--format", "json").out)
    assert alone["notebooks"] == []
    assert [note.split(" (hint")[0] for note in alone["notes"]] == [
        f"{layout.script} changed but its paired notebook {layout.notebook} did not"
    ]
