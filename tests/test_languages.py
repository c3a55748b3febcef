"""Notebooks in other languages than Python: ``auto`` pairs each with its language's script
(.R, .jl, .sh, .cpp ...), a language jupytext cannot write is named, and a MyST pair keeps a
markdown cell that ends in a space. No kernel is needed: sync never runs code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_one_line_error, commit_all, git, make_nb, read_nb, write_nb

JUPYTEXT = str(Path(sys.executable).parent / "jupytext")

# kernelspec and language_info as the real kernels write them (IRkernel, IJulia, bash_kernel,
# xeus-cling, gophernotes, evcxr, IJava, kotlin-jupyter).
KERNELS: dict[str, dict[str, Any]] = {
    "R": {
        "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
        "language_info": {"name": "R", "file_extension": ".r", "mimetype": "text/x-r-source"},
    },
    "julia": {
        "kernelspec": {"display_name": "Julia 1.10", "language": "julia", "name": "julia-1.10"},
        "language_info": {"name": "julia", "file_extension": ".jl"},
    },
    "bash": {
        "kernelspec": {"display_name": "Bash", "language": "bash", "name": "bash"},
        "language_info": {"name": "bash", "file_extension": ".sh", "mimetype": "text/x-sh"},
    },
    "cpp": {
        "kernelspec": {"display_name": "C++17", "language": "C++17", "name": "xcpp17"},
        "language_info": {"name": "c++", "file_extension": ".cpp", "version": "17"},
    },
    "go": {
        "kernelspec": {"display_name": "Go", "language": "go", "name": "gophernotes"},
        "language_info": {"name": "go", "file_extension": ".go"},
    },
    "rust": {
        "kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
        "language_info": {"name": "Rust", "file_extension": ".rs"},
    },
    "java": {
        "kernelspec": {"display_name": "Java", "language": "java", "name": "java"},
        "language_info": {"name": "Java", "file_extension": ".jshell"},
    },
    "kotlin": {
        "kernelspec": {"display_name": "Kotlin", "language": "kotlin", "name": "kotlin"},
        "language_info": {"name": "kotlin", "file_extension": ".kt"},
    },
}
# A code cell of each language, with what jupytext takes for a magic where there is one.
CODE = {
    "R": "x <- c(1, 2)\nprint(mean(x))",
    "julia": "using Statistics\nx = [1, 2]\nprintln(mean(x))",
    "bash": "x=1\necho $x",
    "cpp": "%%timeit\nint z = 3;",
    "go": "%go111module on",
    "rust": ':dep serde = "1"\nlet x = 1;',
    "java": "%maven org:a:1\nint x = 1;",
    "kotlin": "val x = 1\nprintln(x)",
}


def lang_nb(lang: str, *extra: Any) -> dict[str, Any]:
    return make_nb(("markdown", "# Title"), CODE[lang], *extra, metadata=KERNELS[lang])


def declare(repo: Path, formats: str = "ipynb,auto:percent") -> None:
    """Pairing declared the way a jupytext user declares it."""
    (repo / "jupytext.toml").write_text(f'formats = "{formats}"\n')


# --- the table agrees with the installed jupytext -------------------------------------------


def test_language_table_is_jupytexts() -> None:
    from jupytext.formats import NOTEBOOK_EXTENSIONS
    from jupytext.languages import _SCRIPT_EXTENSIONS

    from nbkit.pairing import languages, paths

    theirs = {ext: spec["language"] for ext, spec in _SCRIPT_EXTENSIONS.items()}
    assert list(languages.LANGUAGES.items()) == list(theirs.items())  # the order decides too
    assert set(NOTEBOOK_EXTENSIONS) == paths.JUPYTEXT_EXTENSIONS


METADATA = [
    *KERNELS.values(),
    {"kernelspec": {"language": "R"}},  # no language_info: the kernel's language decides
    {"kernelspec": {"language": "octave"}},
    {"kernelspec": {"language": "C#"}},
    {"kernelspec": {"language": "scheme"}},
    {"kernelspec": {"language": "sage"}, "language_info": {"file_extension": ".py"}},
    {"language_info": {"file_extension": ".fs"}},
    {"language_info": {"file_extension": ".C"}},  # ROOT's C++
    {"jupytext": {"main_language": "julia"}},
    {"kernelspec": {"language": "python"}},
    {"kernelspec": {"language": "cobol"}},
    {},
]


@pytest.mark.parametrize("metadata", METADATA)
def test_auto_extension_is_jupytexts(metadata: dict[str, Any]) -> None:
    from jupytext.formats import auto_ext_from_metadata

    from nbkit.pairing import languages

    assert languages.auto_extension(metadata) == auto_ext_from_metadata(metadata)


# --- auto:percent pairs each notebook with its language's script ---------------------------


@pytest.mark.parametrize(
    ("lang", "script"),
    [
        ("R", "a.R"),
        ("julia", "a.jl"),
        ("bash", "a.sh"),
        ("cpp", "a.cpp"),
        ("go", "a.go"),
        ("rust", "a.rs"),
    ],
)
def test_pair_writes_the_languages_script(
    repo: Path, cli: Callable[..., Any], lang: str, script: str
) -> None:
    """The default formats (``ipynb,auto:percent``); magics of C++, Go and Rust kernels come
    back whole, where a .py script commented them out."""
    write_nb(repo / "a.ipynb", lang_nb(lang))
    result = cli("pair", "a.ipynb")
    assert result.code == 0, result.err
    assert sorted(p.name for p in repo.iterdir() if p.is_file()) == sorted(["a.ipynb", script])
    ext = script.split(".")[1]
    assert read_nb(repo / "a.ipynb")["metadata"]["jupytext"]["formats"] == f"ipynb,{ext}:percent"
    assert CODE[lang] in (repo / script).read_text()
    commit_all(repo)
    assert cli("sync", "--check").code == 0
    # jupytext reads the pairing the notebook records and finds both sides in step
    proc = subprocess.run(
        [JUPYTEXT, "--sync", "a.ipynb"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_jupytext_toml_auto_percent_syncs_every_language(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """``formats = "ipynb,auto:percent"`` in jupytext.toml: every sync used to exit 2."""
    declare(repo)
    for lang in ("R", "julia", "bash"):
        write_nb(repo / f"{lang}.ipynb", lang_nb(lang))
    write_nb(repo / "py.ipynb", make_nb("x = 1"))
    commit_all(repo)
    result = cli("sync")
    assert result.code == 0, result.err
    for name in ("R.R", "julia.jl", "bash.sh", "py.py"):
        assert (repo / name).is_file(), result.err
    assert not list(repo.glob("*.auto"))
    commit_all(repo)
    assert cli("sync", "--check").code == 0

    # an edit of the R script comes back into the notebook, found from the script's side
    text = (repo / "R.R").read_text().replace("mean(x)", "median(x)")
    (repo / "R.R").write_text(text)
    result = cli("sync", "R.R")
    assert result.code == 0, result.err
    assert "median(x)" in "".join(read_nb(repo / "R.ipynb")["cells"][1]["source"])


def test_hook_pairs_a_new_r_notebook_with_an_r_script(repo: Path, cli: Callable[..., Any]) -> None:
    (repo / "nbkit.toml").write_text('[tool.nbkit]\nformats = "ipynb,auto:percent"\n')
    write_nb(repo / "a.ipynb", lang_nb("R"))
    result = cli("hook", "nbkit", "a.ipynb")
    assert result.code == 1 and "a.R" in result.err
    assert not (repo / "a.py").exists()
    git(repo, "add", "a.ipynb", "a.R")
    assert cli("hook", "nbkit", "a.ipynb", "a.R").code == 0


def test_init_writes_auto_percent(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("init").code == 0
    assert 'formats = "ipynb,auto:percent"' in (repo / "nbkit.toml").read_text()
    write_nb(repo / "notebooks" / "j.ipynb", lang_nb("julia"))
    result = cli("hook", "nbkit", "notebooks/j.ipynb")  # init's config has auto_pair
    assert result.code == 1 and (repo / "notebooks" / "j.jl").is_file(), result.err


def test_python_project_keeps_its_py_pairs(repo: Path, cli: Callable[..., Any]) -> None:
    """A project paired before auto was the default: notebooks that record ``ipynb,py:
    percent`` keep exactly those files (an R notebook someone paired with a .py included);
    nothing is rewritten and nothing new appears."""
    from nbkit.pairing.convert import script_text, with_pairing

    for name, nb in (("a", make_nb("x = 1")), ("r", lang_nb("R"))):
        paired = with_pairing(nb, "ipynb,py:percent")
        write_nb(repo / f"{name}.ipynb", paired)
        (repo / f"{name}.py").write_text(script_text(paired, "ipynb,py:percent", "py:percent"))
    commit_all(repo)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in repo.glob("*.*") if p.is_file()}
    assert cli("sync", "--check").code == 0
    assert cli("sync").code == 0
    assert cli("hook", "nbkit", "a.ipynb", "a.py", "r.ipynb", "r.py").code == 0
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in repo.glob("*.*") if p.is_file()}
    assert after == before
    assert git(repo, "status", "--porcelain") == ""


# --- languages jupytext cannot pair ---------------------------------------------------------


def test_unsupported_language_is_named_on_pair(repo: Path, cli: Callable[..., Any]) -> None:
    write_nb(repo / "k.ipynb", lang_nb("kotlin"))
    result = cli("pair", "k.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "k.ipynb", "jupytext cannot pair kotlin notebooks", ".kt")
    assert (
        "hint: pair it as md:myst: nbkit pair --format md:myst" in result.err
        and "cell marker" not in result.err
    )
    assert sorted(p.name for p in repo.iterdir() if p.is_file()) == ["k.ipynb"]
    assert cli("pair", "--format", "md:myst", "k.ipynb").code == 0  # the way out works


def test_ijava_is_pointed_at_java_percent(repo: Path, cli: Callable[..., Any]) -> None:
    """IJava says its files are .jshell, which jupytext cannot write; its .java it can."""
    write_nb(repo / "j.ipynb", lang_nb("java"))
    result = cli("pair", "j.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "j.ipynb", "jupytext cannot pair Java notebooks", ".jshell")
    assert "--format java:percent" in result.err
    assert cli("pair", "--format", "java:percent", "j.ipynb").code == 0
    assert CODE["java"] in (repo / "j.java").read_text()


def test_unsupported_language_sync_explicit_fails_project_sync_warns(
    repo: Path, cli: Callable[..., Any]
) -> None:
    declare(repo)
    write_nb(repo / "k.ipynb", lang_nb("kotlin"))
    write_nb(repo / "r.ipynb", lang_nb("R"))
    commit_all(repo)
    explicit = cli("sync", "k.ipynb")
    assert explicit.code == 2
    assert_one_line_error(explicit.err, "k.ipynb", "jupytext cannot pair kotlin notebooks")

    project = cli("sync")  # one such notebook does not stop the others
    assert project.code == 0, project.err
    assert "warning: k.ipynb: jupytext cannot pair kotlin notebooks" in project.err
    assert (repo / "r.R").is_file()


def test_hook_warns_and_passes_on_unsupported_language(repo: Path, cli: Callable[..., Any]) -> None:
    """A hook that blocked every commit over one Kotlin notebook would be worse than none."""
    (repo / "nbkit.toml").write_text("[tool.nbkit]\nauto_pair = true\n")
    write_nb(repo / "k.ipynb", lang_nb("kotlin"))
    git(repo, "add", "k.ipynb")
    result = cli("hook", "nbkit", "k.ipynb")
    assert result.code == 0, result.err
    assert "warning: k.ipynb: jupytext cannot pair kotlin notebooks" in result.err
    assert sorted(p.name for p in repo.iterdir() if p.is_file()) == ["k.ipynb", "nbkit.toml"]


def test_non_python_notebook_in_a_py_script_says_so(repo: Path, cli: Callable[..., Any]) -> None:
    """A C++ notebook paired as py:percent: jupytext comments out its magic in a .py, and
    the refusal now names the language and the format that works, not a cell marker."""
    write_nb(repo / "c.ipynb", lang_nb("cpp"))
    result = cli("pair", "--format", "py:percent", "c.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "c.py", "a c++ notebook in a .py")
    assert "cpp:percent" in result.err and "cell marker" not in result.err
    assert not (repo / "c.py").exists()


# --- MyST and the space that ends a markdown cell ------------------------------------------


def test_myst_keeps_a_markdown_cell_ending_in_a_space(repo: Path, cli: Callable[..., Any]) -> None:
    nb = make_nb(("markdown", "Some text \nmore text  "), "x = 1")
    write_nb(repo / "a.ipynb", nb)
    result = cli("pair", "--format", "md:myst", "a.ipynb")
    assert result.code == 0, result.err
    commit_all(repo)
    before = (repo / "a.ipynb").read_bytes()
    assert cli("sync", "--check").code == 0
    assert (repo / "a.ipynb").read_bytes() == before
    # the space inside the cell is content MyST carries: an edit of it is still an edit
    text = (repo / "a.md").read_text().replace("Some text \n", "Some text\n")
    (repo / "a.md").write_text(text)
    assert cli("sync", "a.md").code == 0
    assert "".join(read_nb(repo / "a.ipynb")["cells"][0]["source"]).startswith("Some text\nmore")


def test_myst_still_refuses_a_lost_line(repo: Path, cli: Callable[..., Any]) -> None:
    """A '+++' line in a markdown cell is a MyST cell break: the round trip would split the
    cell, and that is refused as before."""
    write_nb(repo / "a.ipynb", make_nb(("markdown", "above \n+++\nbelow"), "x = 1"))
    result = cli("pair", "--format", "md:myst", "a.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "a.md", "would not keep every cell")
    assert not (repo / "a.md").exists()


def test_warm_no_op_hook_with_auto_formats_parses_nothing(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """``auto`` needs each notebook's language, kept by content digest like its formats:
    a warm no-op commit of R and Julia pairs still parses no notebook and imports no
    jupytext."""
    import json

    from tests.test_hooks import _COUNTING_PROBE

    (repo / "nbkit.toml").write_text('[tool.nbkit]\nformats = "ipynb,auto:percent"\n')
    write_nb(repo / "r.ipynb", lang_nb("R"))
    write_nb(repo / "j.ipynb", lang_nb("julia"))
    files = ["r.ipynb", "r.R", "j.ipynb", "j.jl"]
    assert cli("hook", "nbkit", "r.ipynb", "j.ipynb").code == 1  # creates the scripts
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


def test_review_folds_in_the_language_script_of_a_mirror_folder(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """``notebooks///ipynb,scripts///auto:percent``: review finds scripts/a.cpp as the C++
    notebook's script, as sync does."""
    import json

    (repo / "nbkit.toml").write_text(
        '[tool.nbkit]\nformats = "notebooks///ipynb,scripts///auto:percent"\n'
    )
    for value in (1, 2):
        nb = make_nb(("markdown", "# T"), f"int a = {value};", metadata=KERNELS["cpp"])
        write_nb(repo / "notebooks" / "a.ipynb", nb)
        result = cli("sync", "--prefer", "notebook", "notebooks/a.ipynb")
        assert result.code == 0, result.err
        commit_all(repo)
    assert (repo / "scripts" / "a.cpp").is_file()
    data = json.loads(cli("review", "HEAD~1..HEAD", "--format", "json").out)
    (nb_entry,) = data["notebooks"]
    assert nb_entry["paired_scripts"] == ["scripts/a.cpp"] and data["notes"] == []


@pytest.mark.parametrize(("fmt", "marker"), [("auto:light", "# +"), ("auto:percent", "# %%")])
def test_auto_with_any_format_name(
    repo: Path, cli: Callable[..., Any], fmt: str, marker: str
) -> None:
    write_nb(repo / "a.ipynb", lang_nb("R", "y <- 2\n\nz <- 3"))  # light: # + ... # -
    result = cli("pair", "--format", fmt, "a.ipynb")
    assert result.code == 0, result.err
    assert marker in (repo / "a.R").read_text()
    recorded = read_nb(repo / "a.ipynb")["metadata"]["jupytext"]["formats"]
    assert recorded == f"ipynb,R:{fmt.split(':')[1]}"


def test_a_notebook_that_names_no_language_pairs_with_py(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """jupytext refuses ``auto`` here ("No language information"); nbkit keeps the .py it
    paired before auto was its default."""
    nb = make_nb("x = 1")
    nb["metadata"] = {}
    write_nb(repo / "a.ipynb", nb)
    assert cli("pair", "a.ipynb").code == 0
    assert (repo / "a.py").is_file()
    assert read_nb(repo / "a.ipynb")["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize(
    ("formats", "resolved"),
    [
        ("ipynb,auto:percent", "ipynb,R:percent"),
        ("ipynb,script", "ipynb,R"),  # jupytext's name for auto
        ("notebooks///ipynb,scripts///auto:percent", "notebooks///ipynb,scripts///R:percent"),
        ("ipynb,.pct.auto:percent", "ipynb,.pct.R:percent"),
        ("ipynb,py:percent", "ipynb,py:percent"),  # written as it was
    ],
)
def test_auto_resolves_in_every_formats_form(formats: str, resolved: str) -> None:
    from jupytext.formats import long_form_multiple_formats, short_form_multiple_formats

    from nbkit.pairing import languages, paths

    r_notebook = languages.language_of(KERNELS["R"])
    assert paths.resolve_formats(formats, r_notebook, "a.ipynb") == resolved
    theirs = short_form_multiple_formats(long_form_multiple_formats(formats, KERNELS["R"]))
    assert paths.parse_formats(theirs) == paths.parse_formats(resolved)  # jupytext agrees


def test_pre_commit_passes_language_scripts_to_the_hooks() -> None:
    """pre-commit picks a hook's files by identify's tags: an edited R, Julia or C++ script
    staged alone must reach nbkit, or its notebook is not synced on commit."""
    import yaml
    from identify import identify

    from nbkit.hooks import origin
    from tests.conftest import REPO_ROOT

    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    hooks = {hook["id"]: set(hook.get("types_or", [])) for hook in manifest}
    assert set(yaml.safe_load(origin.HOOK_TYPES)) == hooks["nbkit"]  # the repo: local form
    for ext in (".R", ".jl", ".sh", ".cpp", ".go", ".rs", ".scala", ".ps1", ".java", ".ts"):
        tags = identify.tags_from_filename(f"a{ext}")
        for hook_id in ("nbkit", "nbkit-sync"):
            assert tags & hooks[hook_id], (ext, hook_id)
        assert tags <= identify.ALL_TAGS


# --- through the real pre-commit ------------------------------------------------------------

import tests.test_precommit as _precommit  # noqa: E402  (its session fixtures, shared)

nbkit_snapshot = _precommit.nbkit_snapshot
pre_commit_home = _precommit.pre_commit_home


@pytest.mark.slow
def test_r_script_edit_reaches_the_notebook_through_pre_commit(
    repo: Path, nbkit_snapshot: tuple[Path, str], pre_commit_home: Path
) -> None:
    """An R notebook paired with a.R by auto:percent; the R script edited and staged alone:
    the real pre-commit passes it to nbkit, which updates the notebook (one more git add)."""
    from tests.hooks_helpers import sh

    source, sha = nbkit_snapshot
    (repo / "nbkit.toml").write_text('[tool.nbkit]\nformats = "ipynb,auto:percent"\n')
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {sha}\n    hooks:\n      - id: nbkit\n"
    )
    write_nb(repo / "a.ipynb", lang_nb("R"))
    git(repo, "add", "-A")
    installed = _precommit._pre_commit(repo, pre_commit_home, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    first = sh(repo, "git", "commit", "-m", "add")
    assert first.returncode == 1 and (repo / "a.R").is_file(), first.stdout + first.stderr
    git(repo, "add", "a.ipynb", "a.R")
    second = sh(repo, "git", "commit", "-m", "add")
    assert second.returncode == 0, second.stdout + second.stderr

    (repo / "a.R").write_text((repo / "a.R").read_text().replace("mean(x)", "median(x)"))
    git(repo, "add", "a.R")
    third = sh(repo, "git", "commit", "-m", "edit the R script")
    assert third.returncode == 1, third.stdout + third.stderr
    assert "median(x)" in "".join(read_nb(repo / "a.ipynb")["cells"][1]["source"])
    git(repo, "add", "a.ipynb")
    fourth = sh(repo, "git", "commit", "-m", "edit the R script")
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert git(repo, "status", "--porcelain") == ""
