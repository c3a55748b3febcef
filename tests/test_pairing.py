"""pair: which script pairs with which notebook, jupytext agreement, bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jupytext
import pytest
from jupytext.paired_paths import paired_paths

from nbkit import config
from nbkit.pairing.paths import base_path, full_path, pair_of, parse_formats
from tests.conftest import assert_one_line_error, make_nb, read_nb, write_nb
from tests.pairing_helpers import nb_sources, paired, sample_nb, script_sources, snapshot

FORMATS = [
    ("a.ipynb", "ipynb,py:percent"),
    ("sub/a.ipynb", "ipynb,py:percent"),
    ("a.ipynb", "ipynb,md:myst"),
    ("a.ipynb", "ipynb,myst"),
    ("notebooks/a.ipynb", "notebooks///ipynb,scripts///py:percent"),
    ("notebooks/x/y/a.ipynb", "notebooks///ipynb,scripts///py:percent"),
    ("proj/notebooks/x/a.ipynb", "notebooks///ipynb,scripts///py:percent"),
    ("d/a.ipynb", "ipynb,scripts//py:percent"),
    ("nb/a.ipynb", "nb//ipynb,py//py:percent"),
    ("a.ipynb", "ipynb,.pct.py:percent"),
    ("d/a.ipynb", "ipynb,scripts/nb_/py:light"),
]


@pytest.mark.parametrize(("path", "formats"), FORMATS)
def test_paths_match_jupytext(path: str, formats: str) -> None:
    want = paired_paths(path, "ipynb", formats)[1][0]
    nb_fmt, text_fmt = parse_formats(formats)
    base = base_path(path, nb_fmt)
    assert base is not None
    got = full_path(base, text_fmt)
    assert got == want
    back = base_path(got, text_fmt)
    assert back is not None and full_path(back, nb_fmt) == path


def test_pair_writes_a_headerless_script_jupytext_reads(repo: Path, cli: Callable) -> None:
    write_nb(repo / "analysis.ipynb", sample_nb())
    result = cli("pair", "analysis.ipynb")
    assert result.code == 0, result.err
    assert "analysis.py" in result.err
    text = (repo / "analysis.py").read_text()
    assert text.startswith("# %% [markdown]")
    for churn in ("jupytext_version", "kernelspec", "display_name", "---"):
        assert churn not in text
    assert '# %% tags=["parameters"]' in text
    parsed = jupytext.read(repo / "analysis.py", fmt="py:percent")
    assert [(c.cell_type, c.source) for c in parsed.cells] == nb_sources(repo / "analysis.ipynb")
    # Outputs stay in the notebook, which only gained the pairing metadata.
    nb = read_nb(repo / "analysis.ipynb")
    assert nb["cells"][2]["outputs"][0]["text"] == ["1\n"]
    assert nb["metadata"]["jupytext"] == {
        "formats": "ipynb,py:percent",
        "notebook_metadata_filter": "-all",
    }


def _jupytext_formats(tmp: Path, rel: str, formats: str) -> str:
    """What ``jupytext --set-formats`` records, run on a copy in a scratch folder."""
    from jupytext.cli import jupytext as jupytext_cli

    target = tmp / rel
    write_nb(target, sample_nb())
    jupytext_cli(["--quiet", "--set-formats", formats, str(target)])
    return str(read_nb(target)["metadata"]["jupytext"]["formats"])


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("a.ipynb", "py:percent"),
        ("notebooks/sub/a.ipynb", "notebooks///ipynb,scripts///py:percent"),
    ],
)
def test_metadata_says_what_jupytext_writes(repo: Path, tmp_path: Path, rel: str, fmt: str) -> None:
    pair = paired(repo, rel, fmt)
    formats = fmt if "," in fmt else f"ipynb,{fmt}"
    ours = read_nb(pair.notebook)["metadata"]["jupytext"]["formats"]
    assert ours == _jupytext_formats(tmp_path / "jt", rel, formats)
    # jupytext, given our notebook, writes the very script nbkit wrote.
    nb = jupytext.read(pair.notebook)
    assert jupytext.writes(nb, fmt=pair.fmt) == pair.script.read_text()


def test_pair_myst(repo: Path, cli: Callable) -> None:
    write_nb(repo / "a.ipynb", sample_nb())
    assert cli("pair", "--format", "md:myst", "a.ipynb").code == 0
    text = (repo / "a.md").read_text()
    assert "```{code-cell}" in text and "jupytext_version" not in text
    pair = pair_of(repo / "a.md", config.load(repo))
    assert pair is not None and pair.notebook == repo / "a.ipynb" and pair.fmt == "md:myst"
    assert script_sources(pair) == nb_sources(repo / "a.ipynb")


def test_mirror_folder_from_jupytext_toml(repo: Path, cli: Callable) -> None:
    (repo / "jupytext.toml").write_text('formats = "notebooks///ipynb,scripts///py:percent"\n')
    write_nb(repo / "notebooks" / "sub dir" / "ünï.ipynb", sample_nb())
    result = cli("pair", "notebooks/sub dir/ünï.ipynb")
    assert result.code == 0, result.err
    script = repo / "scripts" / "sub dir" / "ünï.py"
    assert script.is_file()
    pair = pair_of(script, config.load(repo))
    assert pair is not None and pair.notebook == repo / "notebooks" / "sub dir" / "ünï.ipynb"


def test_pyproject_tool_jupytext_formats(repo: Path, cli: Callable) -> None:
    (repo / "pyproject.toml").write_text('[tool.jupytext]\nformats = "ipynb,md:myst"\n')
    write_nb(repo / "a.ipynb", sample_nb())
    assert cli("pair", "a.ipynb").code == 0
    assert (repo / "a.md").is_file() and not (repo / "a.py").exists()


def test_pair_is_idempotent_and_keeps_crlf(repo: Path, cli: Callable) -> None:
    path = write_nb(repo / "a.ipynb", sample_nb())
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert cli("pair", "a.ipynb").code == 0
    first = snapshot(path, repo / "a.py")
    assert b"\r\n" in first[path] and b"\n" not in first[path].replace(b"\r\n", b"")
    assert cli("pair", "a.ipynb").code == 0
    assert snapshot(path, repo / "a.py") == first


def test_existing_different_script_is_a_conflict(repo: Path, cli: Callable) -> None:
    write_nb(repo / "a.ipynb", sample_nb())
    (repo / "a.py").write_text("# %%\nsomething_else = 1\n")
    before = snapshot(repo / "a.ipynb", repo / "a.py")
    result = cli("pair", "a.ipynb")
    assert result.code == 1
    assert_one_line_error(result.err, "a.py", "--prefer")
    assert snapshot(repo / "a.ipynb", repo / "a.py") == before


def test_unpaired_files_have_no_pair(repo: Path) -> None:
    write_nb(repo / "a.ipynb", sample_nb())
    (repo / "tool.py").write_text("print(1)\n")
    cfg = config.load(repo)
    assert pair_of(repo / "a.ipynb", cfg) is None
    assert pair_of(repo / "tool.py", cfg) is None


def test_a_cell_marker_inside_a_cell_is_refused(repo: Path, cli: Callable) -> None:
    write_nb(repo / "a.ipynb", make_nb("x = 1\n# %%\ny = 2"))
    before = snapshot(repo / "a.ipynb", repo / "a.py")
    result = cli("pair", "a.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "a.py", "nothing was written")
    assert snapshot(repo / "a.ipynb", repo / "a.py") == before


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("bad json.ipynb", b'{"cells": [', "invalid JSON"),
        ("ünï.ipynb", b"[1, 2]", "not a notebook"),
        ("crlf.ipynb", b'{\r\n "cells": [\r\n', "invalid JSON"),
        ("script.py", b"print(1)\n", "not a notebook"),
        ("missing.ipynb", None, "no such file"),
    ],
)
def test_pair_bad_input(
    repo: Path, cli: Callable, name: str, content: bytes | None, needle: str
) -> None:
    if content is not None:
        (repo / name).write_bytes(content)
    before = sorted(p.name for p in repo.iterdir())
    result = cli("pair", name)
    assert result.code == 2
    assert_one_line_error(result.err, name, needle)
    assert sorted(p.name for p in repo.iterdir()) == before
    if content is not None:
        assert (repo / name).read_bytes() == content


def test_one_bad_notebook_does_not_stop_the_others(repo: Path, cli: Callable) -> None:
    write_nb(repo / "good.ipynb", sample_nb())
    (repo / "bad.ipynb").write_text("{")
    result = cli("pair", "bad.ipynb", "good.ipynb")
    assert result.code == 2 and "bad.ipynb" in result.err
    assert (repo / "good.py").is_file() and not (repo / "bad.py").exists()


def test_pair_outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)
    write_nb(folder / "a.ipynb", sample_nb())
    assert cli("pair", "a.ipynb").code == 0
    assert (folder / "a.py").is_file()
    assert pair_of(folder / "a.py", config.load(folder)) is not None


def test_commands_and_options_are_documented() -> None:
    from nbkit.cli.pairing import pair, sync

    docs = (Path(__file__).resolve().parent.parent / "docs" / "pairing-and-sync.md").read_text()
    for command in (pair, sync):
        assert command.help and "Examples:" in command.help
        assert f"nbkit {command.name}" in docs
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in docs, (command.name, opt)


def test_a_notebook_jupytext_paired_is_recognised(repo: Path, cli: Callable) -> None:
    from jupytext.cli import jupytext as jupytext_cli

    write_nb(repo / "a.ipynb", sample_nb())
    jupytext_cli(["--quiet", "--set-formats", "ipynb,py:percent", str(repo / "a.ipynb")])
    assert "jupytext_version" in (repo / "a.py").read_text()  # jupytext's own header
    pair = pair_of(repo / "a.py", config.load(repo))
    assert pair is not None and pair.notebook == repo / "a.ipynb"
    assert cli("sync", "--check", "a.py").code == 0  # same cells: in sync despite the header
    script = (repo / "a.py").read_bytes()
    assert cli("pair", "a.ipynb").code == 0
    meta = read_nb(repo / "a.ipynb")["metadata"]["jupytext"]  # jupytext's pairing, untouched:
    assert meta == {"formats": "ipynb,py:percent"}  # no "-all" to strip jupytext's header
    assert (repo / "a.py").read_bytes() == script


def test_working_through_a_symlinked_folder(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable
) -> None:
    (repo / "jupytext.toml").write_text('formats = "notebooks///ipynb,scripts///py:percent"\n')
    write_nb(repo / "notebooks" / "a.ipynb", sample_nb())
    link = tmp_path / "link"
    link.symlink_to(repo)
    monkeypatch.chdir(link)
    assert cli("pair", "notebooks/a.ipynb").code == 0
    assert (repo / "scripts" / "a.py").is_file()
    pair = pair_of(link / "scripts" / "a.py", config.load(link))
    assert pair is not None and pair.notebook.samefile(repo / "notebooks" / "a.ipynb")
    assert cli("sync", "--check", "scripts/a.py").code == 0


# --- one formats parser: the hook, sync and review agree on which file is the script ---------

AGREEMENT = [
    ("a.ipynb", "ipynb,rmarkdown", None, "a.Rmd"),
    ("a.ipynb", "ipynb,myst", None, "a.md"),
    ("notebooks/sub/a.ipynb", "notebooks///ipynb,scripts///Rmd", None, "scripts/sub/a.Rmd"),
    ("d/a.ipynb", "ipynb,scripts//py:percent", None, "d/scripts/a.py"),
    ("a.ipynb", "ipynb,.pct.py:percent", None, "a.pct.py"),
    ("a.ipynb", "ipynb,jl:percent", None, "a.jl"),
    # a notebook's own formats without a comma name no pair: the project's formats apply
    (
        "notebooks/sub/a.ipynb",
        "notebooks///ipynb,scripts///py:percent",
        "py:percent",
        "scripts/sub/a.py",
    ),
]


@pytest.mark.parametrize(("nb_rel", "formats", "own", "script"), AGREEMENT)
def test_hook_sync_and_review_agree_on_the_script(
    repo: Path, nb_rel: str, formats: str, own: str | None, script: str
) -> None:
    from nbkit.hooks.commit import candidates
    from nbkit.pairing.paths import notebook_formats
    from nbkit.review.report import script_candidates

    (repo / "nbkit.toml").write_text(f'formats = "{formats}"\n')
    nb = make_nb("x = 1", metadata={"jupytext": {"formats": own}} if own else None)
    write_nb(repo / nb_rel, nb)
    (repo / script).parent.mkdir(parents=True, exist_ok=True)
    (repo / script).write_text("x = 1\n")
    cfg = config.load(repo)
    pair = pair_of(repo / nb_rel, cfg)  # what sync and the hook pair
    assert pair is not None and pair.script == repo / script
    assert pair_of(repo / script, cfg) == pair  # found from the script's side too
    assert candidates([script], repo, cfg) == [repo / script]  # the hook looks at the script
    review_formats = notebook_formats(read_nb(repo / nb_rel)) or cfg.formats
    assert script in script_candidates(nb_rel, review_formats)  # review folds it in
    assert paired_paths(nb_rel, "ipynb", formats)[1][0] == script  # as jupytext pairs it


@pytest.mark.parametrize(
    ("where", "formats", "named"),
    [
        ("nbkit.toml", "ipynb,scripts///rmarkdown", "nbkit.toml"),  # jupytext refuses it too
        ("nbkit.toml", "ipynb,txt", "nbkit.toml"),
        ("nbkit.toml", "py:percent", "nbkit.toml"),  # no notebook side
        ("jupytext.toml", "ipynb,scripts///rmarkdown", "jupytext.toml"),  # the file to fix
    ],
)
def test_formats_the_parser_refuses_are_bad_input(
    repo: Path, cli: Callable, where: str, formats: str, named: str
) -> None:
    (repo / where).write_text(f'formats = "{formats}"\n')
    write_nb(repo / "a.ipynb", make_nb("x = 1"))
    result = cli("pair", "a.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, named, repr(formats.split(",")[-1]) if "," in formats else "")
    assert "hint:" in result.err
    assert sorted(p.name for p in repo.iterdir()) == sorted([".git", where, "a.ipynb"])


def test_a_lone_jupytext_format_is_no_pairing(repo: Path) -> None:
    (repo / "jupytext.toml").write_text('formats = "md:myst"\n')  # the notebooks are .md files
    write_nb(repo / "a.ipynb", make_nb("x = 1"))
    cfg = config.load(repo)
    assert cfg.formats == config.DEFAULT_FORMATS
    assert pair_of(repo / "a.ipynb", cfg) is None
