"""nbkit install / uninstall on real repositories: hooks, drivers, attributes, the filter."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbkit import config
from nbkit.hooks.install import InstallOptions, install
from nbkit.pairing.sync import resolve_pairs, sync_pairs
from tests.conftest import (
    REPO_ROOT,
    assert_one_line_error,
    commit_all,
    git,
    make_nb,
    read_nb,
    write_nb,
)
from tests.hooks_helpers import PY, clean_nb, declare_pairing, dirty_nb, git_env, sh

HOOKS = ("pre-commit", "post-checkout", "post-merge")


def snapshot(root: Path) -> dict[str, Any]:
    """Everything install may touch: hook files (bytes and mode), .git/config, attributes."""
    hooks = root / ".git" / "hooks"
    files = {}
    if hooks.is_dir():
        for path in sorted(hooks.iterdir()):
            files[path.name] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    attrs = root / ".gitattributes"
    return {
        "hooks": files,
        "config": (root / ".git" / "config").read_bytes(),
        "attributes": attrs.read_bytes() if attrs.exists() else None,
        "state": (root / ".git" / "nbkit-install.json").exists(),
    }


def test_install_writes_hooks_drivers_attributes_and_is_idempotent(
    repo: Path, cli: Callable[..., Any]
) -> None:
    result = cli("install")
    assert result.code == 0, result.err
    for name in HOOKS:
        hook = repo / ".git" / "hooks" / name
        assert os.access(hook, os.X_OK)
        assert PY in hook.read_text()  # the installing interpreter is written in
    assert git(repo, "config", "diff.nbkit.textconv").strip().endswith("-m nbkit textconv")
    driver = git(repo, "config", "merge.nbkit.driver").strip()
    assert driver.endswith("-m nbkit merge-driver %O %A %B %P")
    assert git(repo, "config", "merge.nbkit.name").strip()
    assert git(repo, "config", "filter.nbkit.process", check=False) == ""  # only with --filter
    assert (repo / ".gitattributes").read_text() == "*.ipynb diff=nbkit merge=nbkit\n"
    assert git(repo, "check-attr", "diff", "--", "a.ipynb") == "a.ipynb: diff: nbkit\n"

    before = snapshot(repo)
    again = cli("install")
    assert again.code == 0
    assert all(line.endswith("unchanged") for line in again.out.splitlines()), again.out
    assert snapshot(repo) == before


def test_uninstall_restores_exactly_what_was_there(repo: Path, cli: Callable[..., Any]) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir()
    foreign = hooks / "post-merge"
    foreign.write_text("#!/bin/sh\necho mine\n")
    foreign.chmod(0o750)
    (repo / ".gitattributes").write_bytes(b"*.csv text\r\n*.png binary")  # CRLF, no final EOL
    git(repo, "config", "diff.nbkit.textconv", "cat")  # a value of the user's own
    before = snapshot(repo)

    assert cli("install", "--filter").code == 0
    assert (hooks / "post-merge.nbkit-orig").read_text() == "#!/bin/sh\necho mine\n"
    assert git(repo, "config", "diff.nbkit.textconv").strip().endswith("textconv")
    attrs = (repo / ".gitattributes").read_bytes()
    assert attrs.startswith(b"*.csv text\r\n*.png binary\r\n")
    assert b"*.ipynb diff=nbkit merge=nbkit\r\n*.ipynb filter=nbkit\r\n" in attrs
    assert cli("install").code == 0  # re-running keeps the first record of what was there

    result = cli("uninstall")
    assert result.code == 0, result.err
    assert snapshot(repo) == before
    assert git(repo, "config", "diff.nbkit.textconv").strip() == "cat"
    assert cli("uninstall").out.strip() == "nothing to remove"


def test_uninstall_removes_the_attributes_file_it_created(
    repo: Path, cli: Callable[..., Any]
) -> None:
    before = snapshot(repo)
    assert cli("install", "--filter").code == 0
    assert cli("uninstall").code == 0
    assert snapshot(repo) == before  # .git/config byte-identical: sections removed too


def test_foreign_hook_is_kept_and_still_runs(repo: Path, cli: Callable[..., Any]) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text('#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/log"\n')
    (hooks / "pre-commit").chmod(0o755)
    write_nb(repo / "a.ipynb", clean_nb())
    commit_all(repo)
    result = cli("install")
    assert result.code == 0 and "pre-commit.nbkit-orig and still runs" in result.out

    write_nb(repo / "a.ipynb", dirty_nb("print('changed')"))
    git(repo, "add", "a.ipynb")
    proc = sh(repo, "git", "commit", "-m", "dirty")
    assert proc.returncode == 1  # nbkit ran after the foreign hook and cleaned the notebook
    assert "a.ipynb" in proc.stderr and "git add" in proc.stderr
    assert (repo / ".git" / "log").read_text() == "ran\n"
    assert read_nb(repo / "a.ipynb")["cells"][1]["outputs"] == []
    git(repo, "add", "a.ipynb")
    proc = sh(repo, "git", "commit", "-m", "clean")
    assert proc.returncode == 0, proc.stderr
    assert (repo / ".git" / "log").read_text() == "ran\nran\n"


def test_failing_foreign_pre_commit_stops_before_nbkit(repo: Path, cli: Callable[..., Any]) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\necho no >&2\nexit 3\n")
    (hooks / "pre-commit").chmod(0o755)
    assert cli("install").code == 0
    path = write_nb(repo / "a.ipynb", dirty_nb())
    data = path.read_bytes()
    git(repo, "add", "a.ipynb")
    proc = sh(repo, "git", "commit", "-m", "x")
    assert proc.returncode != 0 and "no" in proc.stderr
    assert path.read_bytes() == data


def test_refuses_when_core_hooks_path_is_set(repo: Path, cli: Callable[..., Any]) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    before = snapshot(repo)
    result = cli("install")
    assert result.code == 2
    assert_one_line_error(result.err, "core.hooksPath", ".githooks")
    assert "hint:" in result.err
    assert snapshot(repo) == before


def test_uninstall_works_after_core_hooks_path_was_set(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("install").code == 0
    git(repo, "config", "core.hooksPath", ".githooks")
    assert cli("uninstall").code == 0
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_leaves_pre_commit_to_the_framework(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("install").code == 0  # before the project adopted pre-commit
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = cli("install")
    assert result.code == 0 and "left to the pre-commit framework" in result.out
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert (repo / ".git" / "hooks" / "post-checkout").exists()


def test_install_outside_git_is_bad_input(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: Any
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = cli("install")
    assert result.code == 2
    assert_one_line_error(result.err, str(folder), "not inside a git repository")
    assert list(folder.iterdir()) == []


def test_shim_falls_back_to_nbkit_on_path_then_fails_loudly(repo: Path) -> None:
    install(InstallOptions(repo, "/nonexistent/python"))
    write_nb(repo / "a.ipynb", dirty_nb())
    git(repo, "add", "a.ipynb")
    venv_bin = str(Path(PY).parent)
    with_nbkit = git_env(PATH=f"{venv_bin}{os.pathsep}/usr/bin{os.pathsep}/bin")
    proc = sh(repo, "git", "commit", "-m", "x", env=with_nbkit)
    assert proc.returncode == 1 and "git add -- a.ipynb" in proc.stderr  # nbkit from PATH ran
    git(repo, "add", "a.ipynb")
    write_nb(repo / "a.ipynb", dirty_nb())
    git(repo, "add", "a.ipynb")
    without = git_env(PATH=f"/usr/bin{os.pathsep}/bin")
    proc = sh(repo, "git", "commit", "-m", "x", env=without)
    assert proc.returncode == 1
    assert "nbkit: not found" in proc.stderr and "hint:" in proc.stderr


# --- the clean filter -------------------------------------------------------------------------


def test_filter_stages_clean_notebooks_in_one_process(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("install", "--filter").code == 0
    names = [f"nb{i} ü.ipynb" for i in range(4)]
    for name in names:
        write_nb(repo / name, dirty_nb())
    bad = repo / "broken.ipynb"
    bad.write_bytes(b'{"cells": [')
    proc = sh(repo, "git", "add", "--", *names, "broken.ipynb", env=git_env(GIT_TRACE="1"))
    assert proc.returncode == 0, proc.stderr
    starts = [line for line in proc.stderr.splitlines() if "run_command" in line]
    assert len([line for line in starts if "filter-process" in line]) == 1, proc.stderr
    assert "broken.ipynb" in proc.stderr and "staged unchanged" in proc.stderr

    for name in names:
        staged = json.loads(git(repo, "show", f":{name}"))
        assert staged["cells"][1]["outputs"] == [] and staged["cells"][1]["execution_count"] is None
        assert staged["cells"][1]["metadata"] == {"tags": ["parameters"]}
        assert read_nb(repo / name)["cells"][1]["outputs"] != []  # the working file keeps them
    assert git(repo, "show", ":broken.ipynb") == '{"cells": ['  # never lose data
    assert git(repo, "status", "--porcelain", "--", names[0]).startswith("A ")


def test_filter_handles_notebooks_larger_than_one_packet(
    repo: Path, cli: Callable[..., Any]
) -> None:
    assert cli("install", "--filter").code == 0
    big_source = "\n".join(f"value_{i} = {i}  # ü" for i in range(12000))  # ~250 kB
    path = write_nb(repo / "big.ipynb", dirty_nb(big_source, "out\n" * 40000))
    git(repo, "add", "big.ipynb")
    staged = json.loads(git(repo, "show", ":big.ipynb"))
    assert "".join(staged["cells"][1]["source"]) == big_source
    assert staged["cells"][1]["outputs"] == []
    assert len(path.read_bytes()) > 300_000  # the working file keeps its outputs


def test_filter_with_broken_config_stages_unchanged_and_says_why(
    repo: Path, cli: Callable[..., Any]
) -> None:
    assert cli("install", "--filter").code == 0
    path = write_nb(repo / "a.ipynb", dirty_nb())
    (repo / "nbkit.toml").write_text("broken = [\n")
    proc = sh(repo, "git", "add", "a.ipynb")
    assert proc.returncode == 0, proc.stderr  # git add still works
    assert "nbkit.toml" in proc.stderr and "staged unchanged" in proc.stderr
    assert git(repo, "show", ":a.ipynb").encode() == path.read_bytes()


def test_filter_leaves_clean_notebooks_byte_identical(repo: Path, cli: Callable[..., Any]) -> None:
    declare_pairing(repo)
    assert cli("install", "--filter").code == 0
    path = write_nb(repo / "a.ipynb", clean_nb())
    git(repo, "add", "a.ipynb")
    assert git(repo, "show", ":a.ipynb").encode() == path.read_bytes()


# --- post-checkout / post-merge re-sync ----------------------------------------------------


def _branch_with_script_edit(repo: Path, branch: str, value: str) -> None:
    """main: a paired notebook and script; ``branch``: a commit that changed only the script.

    Hooks are installed afterwards, so only the checkout under test runs one (each hook run
    that converts with jupytext costs a Python start plus jupytext's import).
    """
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    cfg = config.load(repo)
    sync_pairs(resolve_pairs([repo / "a.ipynb"], cfg), cfg)
    assert (repo / "a.py").exists()
    commit_all(repo, "paired")
    git(repo, "checkout", "-q", "-b", branch)
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", value))
    git(repo, "commit", "-q", "--no-verify", "-am", "script only")
    git(repo, "checkout", "-q", "main")
    install(InstallOptions(repo, PY))


def test_post_checkout_resyncs_a_branch_where_only_the_script_changed(repo: Path) -> None:
    _branch_with_script_edit(repo, "edit-script", "x = 2")
    assert "x = 1" in read_nb(repo / "a.ipynb")["cells"][1]["source"]
    proc = sh(repo, "git", "checkout", "edit-script")
    assert proc.returncode == 0, proc.stderr
    assert "re-synced" in proc.stderr and "a.ipynb" in proc.stderr
    nb = read_nb(repo / "a.ipynb")
    assert "".join(nb["cells"][1]["source"]) == "x = 2"
    assert nb["cells"][1]["id"] == "cell-1"  # the cell kept its identity
    assert sh(repo, "git", "checkout", "-q", "-b", "again").returncode == 0  # no-op checkout


def test_post_checkout_never_overwrites_uncommitted_edits(repo: Path) -> None:
    _branch_with_script_edit(repo, "edit-script", "x = 2")
    write_nb(repo / "a.ipynb", clean_nb("x = 'local edit'"))  # not committed
    data = (repo / "a.ipynb").read_bytes()
    proc = sh(repo, "git", "checkout", "edit-script")
    assert proc.returncode == 1  # git's checkout happened; nbkit reports the conflict
    assert "--prefer" in proc.stderr
    assert (repo / "a.ipynb").read_bytes() == data


def test_post_merge_resyncs_what_the_merge_brought(repo: Path) -> None:
    _branch_with_script_edit(repo, "other", "x = 3")
    proc = sh(repo, "git", "merge", "-q", "--ff-only", "other")
    assert proc.returncode == 0, proc.stderr
    assert "".join(read_nb(repo / "a.ipynb")["cells"][1]["source"]) == "x = 3"


def test_new_worktree_is_left_exactly_as_committed(repo: Path) -> None:
    """`git worktree add` (nbkit rerun uses one) runs post-checkout with a null old commit."""
    _branch_with_script_edit(repo, "edit-script", "x = 2")
    proc = sh(repo, "git", "worktree", "add", "-q", str(repo.parent / "wt"), "edit-script")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    tree = repo.parent / "wt"
    assert git(tree, "status", "--porcelain") == ""
    assert "x = 1" in "".join(read_nb(tree / "a.ipynb")["cells"][1]["source"])


def test_shim_quotes_an_interpreter_path_with_spaces(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "my env's bin"
    folder.mkdir()
    python = folder / "python"
    python.write_text(f'#!/bin/sh\nexec "{PY}" "$@"\n')
    python.chmod(0o755)
    install(InstallOptions(repo, str(python)))
    assert git(repo, "config", "diff.nbkit.textconv").startswith("'")  # quoted for sh
    write_nb(repo / "a.ipynb", dirty_nb())
    git(repo, "add", "a.ipynb")
    proc = sh(repo, "git", "commit", "-m", "x", env=git_env(PATH=f"/usr/bin{os.pathsep}/bin"))
    assert proc.returncode == 1 and "git add -- a.ipynb" in proc.stderr, proc.stderr


def test_installed_drivers_are_what_git_runs(repo: Path, cli: Callable[..., Any]) -> None:
    """The config install writes reaches nbkit's textconv and merge driver through real git."""
    write_nb(repo / "a.ipynb", make_nb("a = 1", "b = 1"))
    commit_all(repo)
    assert cli("install").code == 0
    commit_all(repo, "attributes")
    git(repo, "checkout", "-q", "-b", "theirs")
    write_nb(repo / "a.ipynb", make_nb("a = 1", "b = 2"))
    git(repo, "commit", "-q", "--no-verify", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    write_nb(repo / "a.ipynb", make_nb("a = 2", "b = 1"))
    diff = git(repo, "diff", "--", "a.ipynb")
    assert '"source"' not in diff and "a = 2" in diff  # textconv text, not JSON
    git(repo, "commit", "-q", "--no-verify", "-am", "ours")
    proc = sh(repo, "git", "merge", "-q", "--no-edit", "theirs")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # different cells: no conflict
    sources = ["".join(c["source"]) for c in read_nb(repo / "a.ipynb")["cells"]]
    assert sources == ["a = 2", "b = 2"]


def test_with_the_filter_the_commit_hook_keeps_working_outputs(
    repo: Path, cli: Callable[..., Any]
) -> None:
    assert cli("install", "--filter").code == 0
    path = write_nb(repo / "a.ipynb", dirty_nb())
    data = path.read_bytes()
    git(repo, "add", "a.ipynb", ".gitattributes")
    proc = sh(repo, "git", "commit", "-m", "with outputs locally")
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == data  # the working copy keeps its outputs
    committed = json.loads(git(repo, "show", "HEAD:a.ipynb"))
    assert committed["cells"][1]["outputs"] == []


def test_filter_process_started_by_hand_is_a_one_line_error(repo: Path) -> None:
    for stdin in ("", "0013not-git-at-all\n0000"):
        proc = subprocess.run(
            [PY, "-m", "nbkit", "filter-process"],
            cwd=repo,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2
        assert_one_line_error(proc.stderr, "filter")
        assert proc.stdout == ""


def test_documented_stash_keeps_outputs_with_the_filter(repo: Path, cli: Callable[..., Any]) -> None:
    """With the clean filter, plain `git stash` + `pop` drops the working copy's outputs (git
    stashes what the filter gives it); docs/hooks.md documents this and the workaround, which
    this test runs as written there."""
    write_nb(repo / "a.ipynb", clean_nb())
    assert cli("install", "--filter").code == 0
    commit_all(repo)
    write_nb(repo / "a.ipynb", dirty_nb(text="kept output\n"))
    assert sh(repo, "git", "stash", "-q").returncode == 0
    assert sh(repo, "git", "stash", "pop", "-q").returncode == 0
    assert b"kept output" not in (repo / "a.ipynb").read_bytes()  # the documented loss
    write_nb(repo / "a.ipynb", dirty_nb(text="kept output\n"))
    docs = (REPO_ROOT / "docs" / "hooks.md").read_text()
    assert "git config alias.stash-outputs '-c filter.nbkit.process= stash'" in docs
    git(repo, "config", "alias.stash-outputs", "-c filter.nbkit.process= stash")
    assert sh(repo, "git", "stash-outputs", "-q").returncode == 0
    assert b"kept output" not in (repo / "a.ipynb").read_bytes()  # stashed
    assert sh(repo, "git", "stash", "pop", "-q").returncode == 0
    assert b"kept output" in (repo / "a.ipynb").read_bytes()
