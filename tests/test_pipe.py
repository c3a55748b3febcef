"""The ``pipe`` setting: a formatter run over the script during sync, carried into the notebook.

The formatter is the real ruff (``python -m ruff``, installed with the dev extras); the fault
cases use small real commands. The slow tests run real pre-commit with nbkit's published hook
and a real ruff-format hook next to it, in both orders.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit import config
from tests.conftest import assert_one_line_error, commit_all, git, make_nb, read_nb, write_nb
from tests.hooks_helpers import copy_package, sh
from tests.pairing_helpers import edit_script, snapshot

RUFF = f"{shlex.quote(sys.executable)} -m ruff format -"
RUFF_VERSION = "0.17.6"  # the version the dev environment has, so the two hooks format alike

UNFORMATTED = "x=1\ndef f(a,b):\n  return a+b"
FORMATTED = "x = 1\n\n\ndef f(a, b):\n    return a + b"
RUFF_HOOK_CONFIG = (
    "repos:\n  - repo: local\n    hooks:\n      - id: ruff-format\n        name: ruff\n"
    "        entry: ruff format\n        language: python\n        types: [python]\n"
)
STREAM = {"output_type": "stream", "name": "stdout", "text": "3\n"}


def _nb(*extra: Any, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return make_nb(
        ("markdown", "# Title\n\nSome text"),
        UNFORMATTED,
        {
            "cell_type": "code",
            "source": "print( f(x,2) )",
            "outputs": [STREAM],
            "execution_count": 1,
        },
        *extra,
        metadata=metadata,
    )


def _project(root: Path, pipe: list[str] | None, formats: str = "ipynb,py:percent") -> None:
    lines = ["[tool.nbkit]", f'formats = "{formats}"']
    if pipe is not None:
        lines.append("pipe = [" + ", ".join(f"'{c}'" for c in pipe) + "]")
    (root / "nbkit.toml").write_text("\n".join(lines) + "\n")


def _ruff_check(path: Path) -> bool:
    """Whether the real ruff leaves ``path`` as it is (what a ruff-format hook would do)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(path)],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def _sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in read_nb(path)["cells"]]


def _paired_unformatted(repo: Path, cli: Callable[..., Any], nb: dict[str, Any]) -> None:
    """a.ipynb paired with a.py, both committed unformatted (no pipe yet)."""
    _project(repo, None)
    write_nb(repo / "a.ipynb", nb)
    assert cli("pair", "a.ipynb").code == 0
    commit_all(repo)


def test_sync_formats_both_sides_keeps_outputs_ids_and_markdown(
    repo: Path, cli: Callable[..., Any]
) -> None:
    _paired_unformatted(repo, cli, _nb())
    assert not _ruff_check(repo / "a.py")
    _project(repo, [RUFF])
    result = cli("sync", "a.ipynb")
    assert result.code == 0, result.err
    assert "formatted by" in result.err
    assert _ruff_check(repo / "a.py")  # a ruff-format hook finds nothing to change
    nb = read_nb(repo / "a.ipynb")
    assert _sources(repo / "a.ipynb") == ["# Title\n\nSome text", FORMATTED, "print(f(x, 2))"]
    outputs = nb["cells"][2]["outputs"]
    assert [(o["name"], "".join(o["text"])) for o in outputs] == [("stdout", "3\n")]  # kept
    assert [c["id"] for c in nb["cells"]] == ["cell-0", "cell-1", "cell-2"]
    before = snapshot(repo / "a.ipynb", repo / "a.py")
    again = cli("sync", "a.ipynb")
    assert again.code == 0 and again.err == ""
    assert snapshot(repo / "a.ipynb", repo / "a.py") == before


def test_check_reports_would_format_and_writes_nothing(repo: Path, cli: Callable[..., Any]) -> None:
    _paired_unformatted(repo, cli, _nb())
    _project(repo, [RUFF])
    before = snapshot(repo / "a.ipynb", repo / "a.py")
    result = cli("sync", "--check", "a.ipynb")
    assert result.code == 1 and "would be formatted" in result.err
    assert snapshot(repo / "a.ipynb", repo / "a.py") == before


def test_script_edit_reaches_the_notebook_formatted(repo: Path, cli: Callable[..., Any]) -> None:
    _project(repo, [RUFF])
    write_nb(repo / "a.ipynb", _nb())
    assert cli("pair", "a.ipynb").code == 0
    assert cli("sync", "a.ipynb").code == 0
    commit_all(repo)
    edit_script(repo / "a.py", "print(f(x, 2))", "print( f(x,3) )")
    result = cli("sync", "a.py")
    assert result.code == 0, result.err
    assert "updated from" in result.err and "both sides" in result.err
    assert _sources(repo / "a.ipynb")[2] == "print(f(x, 3))"
    assert "print(f(x, 3))" in (repo / "a.py").read_text() and _ruff_check(repo / "a.py")


def test_hook_names_both_files_the_pipe_wrote(repo: Path, cli: Callable[..., Any]) -> None:
    _project(repo, [RUFF])
    write_nb(repo / "a.ipynb", _nb())
    git(repo, "add", "-A")
    first = cli("hook", "nbkit", "a.ipynb")  # creates a.py, formats the notebook's code
    assert first.code == 1
    add_line = [line for line in first.err.splitlines() if "git add --" in line]
    assert add_line and {"a.ipynb", "a.py"} <= set(add_line[0].split())
    assert _sources(repo / "a.ipynb")[1] == FORMATTED and _ruff_check(repo / "a.py")
    git(repo, "add", "-A")
    assert cli("hook", "nbkit", "a.ipynb", "a.py").code == 0


def test_magics_and_other_languages_cells_survive(repo: Path, cli: Callable[..., Any]) -> None:
    magic = "%matplotlib inline\ny=2"
    bash = "%%bash\necho  hi"
    _paired_unformatted(repo, cli, _nb(magic, bash))
    _project(repo, [RUFF])
    assert cli("sync", "a.ipynb").code == 0
    assert _sources(repo / "a.ipynb")[3:] == ["%matplotlib inline\ny = 2", bash]


def test_md_pair_formats_the_code_and_leaves_markdown_alone(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """The script is markdown: only code is taken from the formatter (ruff strips trailing
    spaces in comments, which would break this markdown line break)."""
    _project(repo, None, "ipynb,md:myst")
    write_nb(repo / "a.ipynb", make_nb(("markdown", "line one  \nline two"), UNFORMATTED))
    assert cli("pair", "a.ipynb").code == 0
    commit_all(repo)
    _project(repo, [RUFF], "ipynb,md:myst")
    assert cli("sync", "a.ipynb").code == 0
    assert _sources(repo / "a.ipynb") == ["line one  \nline two", FORMATTED]
    assert (
        "line one  \n" in (repo / "a.md").read_text() and FORMATTED in (repo / "a.md").read_text()
    )


def test_non_python_notebook_is_not_piped(repo: Path, cli: Callable[..., Any]) -> None:
    r_meta = {
        "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
        "language_info": {"name": "R"},
    }
    _project(repo, None, "ipynb,R:percent")
    write_nb(repo / "a.ipynb", make_nb("x<-1", metadata=r_meta))
    assert cli("pair", "a.ipynb").code == 0
    commit_all(repo)
    _project(repo, ["no-such-formatter-nbkit -"], "ipynb,R:percent")
    result = cli("sync", "a.ipynb")
    assert result.code == 0, result.err
    assert _sources(repo / "a.ipynb") == ["x<-1"]


def _write_tool(folder: Path, name: str, body: str) -> str:
    """A small real command (a Python script outside the repository) for the pipe."""
    script = folder / name
    script.write_text("import sys\n" + body)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


@pytest.mark.parametrize(
    "case", ["missing", "fails", "syntax-error", "silent", "joins-cells", "markdown"]
)
def test_a_bad_pipe_is_one_line_exit_2_and_writes_nothing(
    repo: Path, tmp_path: Path, cli: Callable[..., Any], case: str
) -> None:
    extra = {"syntax-error": ("def (",), "markdown": (("markdown", "hard  \nbreak"),)}
    _paired_unformatted(repo, cli, _nb(*extra.get(case, ())))
    command = {
        "missing": "no-such-formatter-nbkit -",
        "fails": _write_tool(tmp_path, "fails.py", "sys.stderr.write('boom\\n'); sys.exit(3)\n"),
        "syntax-error": RUFF,
        "silent": _write_tool(tmp_path, "silent.py", "sys.stdin.read()\n"),
        "joins-cells": _write_tool(
            tmp_path, "joins.py", "sys.stdout.write(sys.stdin.read().replace('# %%\\n', '', 1))\n"
        ),
        "markdown": RUFF,  # ruff strips the trailing spaces of a markdown line break
    }[case]
    _project(repo, [command])
    before = snapshot(repo / "a.ipynb", repo / "a.py")
    result = cli("sync", "a.ipynb")
    assert result.code == 2, result.err
    assert_one_line_error(result.err, "a.py", "hint:")
    if case in ("missing", "fails", "syntax-error", "silent"):
        assert "pipe command" in result.err
    assert snapshot(repo / "a.ipynb", repo / "a.py") == before


@pytest.mark.parametrize("value", ['"ruff \'format"', "3", '[""]'])
def test_an_invalid_pipe_setting_is_exit_2(repo: Path, cli: Callable[..., Any], value: str) -> None:
    (repo / "nbkit.toml").write_text(f"[tool.nbkit]\npipe = {value}\n")
    write_nb(repo / "a.ipynb", _nb())
    result = cli("sync", "a.ipynb")
    assert result.code == 2
    assert_one_line_error(result.err, "nbkit.toml", "'pipe' must be")


def test_placeholder_is_the_scripts_path(
    repo: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    seen = tmp_path / "argv.txt"
    tool = _write_tool(
        tmp_path,
        "argv.py",
        f"open({str(seen)!r}, 'a').write(' '.join(sys.argv[1:]))\nsys.stdout.write(sys.stdin.read())\n",
    )
    (repo / "sub").mkdir()
    _paired_unformatted(repo, cli, _nb())
    git(repo, "mv", "a.ipynb", "sub/a.ipynb")
    git(repo, "mv", "a.py", "sub/a.py")
    commit_all(repo)
    _project(repo, [f"{tool} --stdin-filename {{}} -"])
    assert cli("sync", "sub/a.ipynb").code == 0
    assert seen.read_text() == "--stdin-filename sub/a.py -"


def test_warm_hook_does_not_run_the_pipe_until_the_pipe_changes(
    repo: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """The no-op commit answers from the cache; the cache is keyed on the pipe setting."""
    runs = tmp_path / "runs.txt"
    counting = _write_tool(
        tmp_path,
        "counting.py",
        f"open({str(runs)!r}, 'a').write('run\\n')\nsys.stdout.write(sys.stdin.read())\n",
    )
    _project(repo, [counting])
    write_nb(repo / "a.ipynb", make_nb("x = 1"))
    assert cli("pair", "a.ipynb").code == 0
    git(repo, "add", "-A")
    first = cli("hook", "nbkit", "a.ipynb", "a.py")
    assert first.code == 0, first.err
    assert runs.read_text().count("run") == 1
    warm = cli("hook", "nbkit", "a.ipynb", "a.py")
    assert warm.code == 0 and runs.read_text().count("run") == 1  # not run again
    _project(repo, [f"{counting} --changed"])
    changed = cli("hook", "nbkit", "a.ipynb", "a.py")
    assert changed.code == 0 and runs.read_text().count("run") == 2


def test_checkout_hook_never_runs_the_pipe(
    repo: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """A checkout or merge must not run a command the (possibly foreign) branch names: the
    re-sync after checkout syncs without the pipe; the next commit formats."""
    runs = tmp_path / "runs.txt"
    counting = _write_tool(
        tmp_path,
        "counting.py",
        f"open({str(runs)!r}, 'a').write('run\\n')\nsys.stdout.write(sys.stdin.read())\n",
    )
    _paired_unformatted(repo, cli, _nb())
    old = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "theirs")
    _project(repo, [counting])
    edit_script(repo / "a.py", "print( f(x,2) )", "print( f(x,5) )")  # the notebook not synced
    new = commit_all(repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "theirs")
    result = cli("hook", "post-checkout", old, new, "1")
    assert result.code == 0 and "re-synced" in result.err  # the notebook follows the script...
    assert _sources(repo / "a.ipynb")[2] == "print( f(x,5) )"
    assert not runs.exists()  # ...without running the branch's pipe


def test_conflict_names_the_formatter_hook_and_the_pipe(
    repo: Path, cli: Callable[..., Any]
) -> None:
    (repo / ".pre-commit-config.yaml").write_text(RUFF_HOOK_CONFIG)
    _project(repo, None)
    write_nb(repo / "a.ipynb", _nb())
    assert cli("pair", "a.ipynb").code == 0
    (repo / "a.py").write_text((repo / "a.py").read_text().replace("x=1", "x = 1"))
    (repo / ".git" / "nbkit-cache.json").unlink(missing_ok=True)  # nothing agreed
    result = cli("sync", "a.ipynb")
    assert result.code == 1
    assert "ruff-format hook" in result.err and 'pipe = ["ruff format -"]' in result.err


@pytest.mark.parametrize("where", ["nbkit.toml", "pyproject.toml"])
def test_init_sets_the_pipe_matching_an_existing_formatter_hook(
    repo: Path, cli: Callable[..., Any], where: str
) -> None:
    (repo / ".pre-commit-config.yaml").write_text(RUFF_HOOK_CONFIG)
    if where == "pyproject.toml":
        (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    result = cli("init")
    assert result.code == 0, result.err
    assert "pipe set for the ruff-format hook" in result.out + result.err
    assert config.load(repo).values("")["pipe"] == (("ruff", "format", "-"),)


def test_init_writes_no_pipe_without_a_formatter_hook(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("init").code == 0
    assert "pipe" not in config.load(repo).values("")


# --- real pre-commit, real ruff hook ---------------------------------------------------------


@pytest.fixture(scope="module")
def nbkit_rev(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> tuple[Path, str]:
    """A git repo holding the package as it is now, for pre-commit to install nbkit's hook."""
    target = copy_package(tmp_path_factory.mktemp("nbkit-pipe-snapshot"))
    env = {
        **os.environ,
        "HOME": str(session_home),
        "GIT_CONFIG_GLOBAL": str(session_home / ".gitconfig"),
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=target, env=env, check=True, capture_output=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=target,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return target, sha


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home-pipe")


def _hooks_config(source: Path, sha: str, nbkit_first: bool) -> str:
    nbkit = (
        f"  - repo: {source}\n    rev: {sha}\n    hooks:\n      - id: nbkit\n"
        f"        additional_dependencies: [ruff=={RUFF_VERSION}]\n"
    )
    ruff = (
        "  - repo: local\n    hooks:\n      - id: ruff-format\n        name: ruff format\n"
        "        entry: ruff format\n        language: python\n"
        f"        additional_dependencies: [ruff=={RUFF_VERSION}]\n        types: [python]\n"
    )
    return "repos:\n" + (nbkit + ruff if nbkit_first else ruff + nbkit)


def _commit(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return sh(repo, "git", "commit", "-m", "work", env={**os.environ, "PRE_COMMIT_HOME": str(home)})


def _set_up(repo: Path, rev: tuple[Path, str], home: Path, nbkit_first: bool, pipe: bool) -> None:
    (repo / ".pre-commit-config.yaml").write_text(_hooks_config(*rev, nbkit_first))
    _project(repo, ["ruff format -"] if pipe else None)
    commit_all(repo, "config")
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _second_attempt_passes(repo: Path, home: Path) -> None:
    first = _commit(repo, home)
    assert first.returncode == 1, first.stdout + first.stderr
    git(repo, "add", "-A")
    second = _commit(repo, home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.slow
@pytest.mark.parametrize("nbkit_first", [True, False], ids=["nbkit-first", "ruff-first"])
def test_formatter_hook_converges_with_pipe(
    repo: Path, nbkit_rev: tuple[Path, str], pre_commit_home: Path, nbkit_first: bool
) -> None:
    _set_up(repo, nbkit_rev, pre_commit_home, nbkit_first, pipe=True)
    write_nb(repo / "a.ipynb", _nb())  # a new notebook, code unformatted
    git(repo, "add", "a.ipynb")
    _second_attempt_passes(repo, pre_commit_home)
    assert _sources(repo / "a.ipynb")[1] == FORMATTED

    edit_script(repo / "a.py", "print(f(x, 2))", "print( f(x,4) )")  # the script edited
    git(repo, "add", "a.py")
    _second_attempt_passes(repo, pre_commit_home)
    assert _sources(repo / "a.ipynb")[2] == "print(f(x, 4))"

    nb = read_nb(repo / "a.ipynb")  # the notebook edited, as in Jupyter
    nb["cells"][2]["source"] = "y=f( x,5 )"
    write_nb(repo / "a.ipynb", nb)
    git(repo, "add", "a.ipynb")
    _second_attempt_passes(repo, pre_commit_home)
    assert "y = f(x, 5)" in (repo / "a.py").read_text()


@pytest.mark.slow
def test_formatter_hook_without_pipe_names_the_fix(
    repo: Path, nbkit_rev: tuple[Path, str], pre_commit_home: Path
) -> None:
    """Without a pipe the pair settles only while nbkit's cache remembers the agreed state
    (the 3rd or 4th attempt); from a fresh clone it is a conflict, which names the formatter
    hook and the setting that fixes it."""
    _set_up(repo, nbkit_rev, pre_commit_home, nbkit_first=True, pipe=False)
    write_nb(repo / "a.ipynb", _nb())
    git(repo, "add", "a.ipynb")
    assert _commit(repo, pre_commit_home).returncode == 1  # nbkit writes a.py
    git(repo, "add", "-A")
    second = _commit(repo, pre_commit_home)  # ruff reformats a.py
    assert second.returncode == 1 and "hook id: ruff-format" in second.stdout + second.stderr
    git(repo, "add", "-A")
    (repo / ".git" / "nbkit-cache.json").unlink()  # as in a fresh clone or on CI
    third = _commit(repo, pre_commit_home)
    output = third.stdout + third.stderr
    assert third.returncode == 1, output
    assert "ruff-format hook" in output and 'pipe = ["ruff format -"]' in output
