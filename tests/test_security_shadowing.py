"""Shadowing: git's entry points into nbkit never import the repository's files.

A cloned repository holds `click.py`, `types.py`, `uuid.py`, `difflib.py`, `tempfile.py` and
an `nbkit.py` in its root; each, if imported, leaves a marker file and fails. Every entry point git or a hook
shim starts is then triggered through the real git command a user types: `git log -p`
(textconv), `git checkout` (post-checkout), `git merge` (merge driver, post-merge), `git add`
(clean filter) and `git commit` (pre-commit shim). None may run the planted code or print a
traceback (see docs/hooks.md, "Which Python runs nbkit").
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from nbkit import config
from nbkit.hooks.install import InstallOptions, install
from nbkit.pairing.sync import resolve_pairs, sync_pairs
from tests.conftest import commit_all, git, read_nb, write_nb
from tests.hooks_helpers import PY, clean_nb, declare_pairing, dirty_nb, git_env, sh
from tests.security_helpers import Watch, plant_code, plant_shadows

HOOKS = ("pre-commit", "post-checkout", "post-merge")


class Hostile(NamedTuple):
    repo: Path
    markers: Path
    tmp: Path

    def watch(self) -> Watch:
        return Watch(self.tmp, self.repo, self.markers)


def _sources(path: Path) -> list[str]:
    return ["".join(cell["source"]) for cell in read_nb(path)["cells"]]


@pytest.fixture
def hostile(repo: Path, tmp_path: Path) -> Hostile:
    """main: a paired notebook plus the planted modules; `script`: only the script edited;
    `notebook`: the notebook's markdown cell edited. nbkit installed last, on main."""
    markers = tmp_path / "markers"
    declare_pairing(repo)
    write_nb(repo / "a.ipynb", clean_nb("x = 1"))
    cfg = config.load(repo)
    sync_pairs(resolve_pairs([repo / "a.ipynb"], cfg), cfg)
    plant_shadows(repo, markers)
    plant_code(repo / "nbkit.py", markers, "nbkit")  # `python -m nbkit` would run this one
    commit_all(repo, "paired, with a click.py and friends")
    git(repo, "checkout", "-q", "-b", "script")
    script = repo / "a.py"
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    commit_all(repo, "script only")
    git(repo, "checkout", "-q", "-b", "notebook", "main")
    nb = read_nb(repo / "a.ipynb")
    nb["cells"][0]["source"] = "# Their title"
    write_nb(repo / "a.ipynb", nb)
    commit_all(repo, "notebook markdown")
    git(repo, "checkout", "-q", "main")
    install(InstallOptions(repo, PY))
    return Hostile(repo, markers, tmp_path)


def _clean_run(proc: Any) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "was imported" not in proc.stderr + proc.stdout, proc.stderr


def test_git_log_p_textconv_imports_nothing_from_the_work_tree(hostile: Hostile) -> None:
    watch = hostile.watch()
    proc = sh(hostile.repo, "git", "log", "-p", "--", "a.ipynb")
    assert proc.returncode == 0, proc.stderr
    _clean_run(proc)
    assert "# notebook:" in proc.stdout and "x = 1" in proc.stdout  # textconv ran
    watch.check("git log -p")


def test_git_checkout_runs_post_checkout_isolated(hostile: Hostile) -> None:
    watch = hostile.watch()
    proc = sh(hostile.repo, "git", "checkout", "-b", "topic")
    assert proc.returncode == 0, proc.stderr
    _clean_run(proc)
    proc = sh(hostile.repo, "git", "checkout", "script")  # the hook re-syncs the notebook
    assert proc.returncode == 0, proc.stderr
    _clean_run(proc)
    assert "re-synced" in proc.stderr
    assert "x = 2" in _sources(hostile.repo / "a.ipynb")
    watch.check("git checkout")


def test_git_merge_runs_the_merge_driver_and_post_merge_isolated(hostile: Hostile) -> None:
    repo = hostile.repo
    nb = read_nb(repo / "a.ipynb")
    nb["cells"][1]["source"] = "x = 10"
    write_nb(repo / "a.ipynb", nb)
    git(repo, "commit", "-q", "--no-verify", "-am", "ours: the code cell")
    watch = hostile.watch()
    proc = sh(repo, "git", "merge", "--no-edit", "notebook")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _clean_run(proc)
    assert _sources(repo / "a.ipynb") == ["# Their title", "x = 10"]  # the driver merged
    watch.check("git merge")


def test_git_add_runs_the_clean_filter_isolated(hostile: Hostile) -> None:
    repo = hostile.repo
    install(InstallOptions(repo, PY, with_filter=True))
    write_nb(repo / "b.ipynb", dirty_nb())
    watch = hostile.watch()
    proc = sh(repo, "git", "add", "b.ipynb")
    assert proc.returncode == 0, proc.stderr
    _clean_run(proc)
    staged = json.loads(git(repo, "show", ":b.ipynb"))
    assert staged["cells"][1]["outputs"] == []  # the filter ran
    watch.check("git add (filter)")


def test_git_commit_runs_the_pre_commit_shim_isolated(hostile: Hostile) -> None:
    repo = hostile.repo
    write_nb(repo / "a.ipynb", dirty_nb("x = 1"))
    git(repo, "add", "a.ipynb")
    watch = hostile.watch()
    proc = sh(repo, "git", "commit", "-m", "outputs")
    _clean_run(proc)
    assert proc.returncode == 1 and "git add -- a.ipynb" in proc.stderr, proc.stderr
    watch.check("git commit")


def test_python_variables_of_whoever_runs_git_bring_nothing_in(hostile: Hostile) -> None:
    """PYTHONPATH=., PYTHONSTARTUP and PYTHONUSERBASE pointing into the work tree."""
    repo = hostile.repo
    startup = plant_code(repo / "startup.py", hostile.markers, "startup")
    user_site = repo / "ub" / "lib" / "python3.11" / "site-packages"
    plant_code(user_site / "usercustomize.py", hostile.markers, "usercustomize")
    env = git_env(PYTHONPATH=f".:{repo}", PYTHONSTARTUP=str(startup), PYTHONUSERBASE="ub")
    watch = hostile.watch()
    for command in (("log", "-p", "-1", "--", "a.ipynb"), ("checkout", "-q", "-b", "t2")):
        proc = sh(repo, "git", *command, env=env)
        assert proc.returncode == 0, proc.stderr
        _clean_run(proc)
    watch.check("PYTHON* variables")


def _downgrade(repo: Path) -> None:
    """Put back what `nbkit install` wrote before it isolated the interpreter."""
    for name in HOOKS:
        hook = repo / ".git" / "hooks" / name
        if hook.exists():
            hook.write_text(hook.read_text().replace(" -I -m nbkit", " -m nbkit"))
    for key in ("diff.nbkit.textconv", "merge.nbkit.driver", "filter.nbkit.process"):
        value = git(repo, "config", "--local", key, check=False).strip()
        if value:
            git(repo, "config", "--local", key, value.replace(f"{shlex.quote(PY)} -I ", f"{PY} "))


def test_reinstall_upgrades_old_shims_and_driver_config(hostile: Hostile, cli: Any) -> None:
    repo = hostile.repo
    _downgrade(repo)
    proc = sh(repo, "git", "log", "-p", "-1", "--", "a.ipynb")
    assert list(hostile.markers.iterdir()), proc.stderr  # the old form was open (nbkit.py ran)
    for marker in hostile.markers.iterdir():
        marker.unlink()

    result = cli("install")
    assert result.code == 0, result.err
    assert ".git/hooks/post-checkout: updated" in result.out
    assert "diff.nbkit.textconv: set to" in result.out and " -I -m nbkit textconv" in result.out
    watch = hostile.watch()
    proc = sh(repo, "git", "log", "-p", "-1", "--", "a.ipynb")
    _clean_run(proc)
    proc = sh(repo, "git", "checkout", "-q", "-b", "after-upgrade")
    assert proc.returncode == 0, proc.stderr
    _clean_run(proc)
    watch.check("after nbkit install upgraded an old install")


def test_nbkit_typed_by_hand_in_the_repository(hostile: Hostile) -> None:
    """The console script never puts the current folder on sys.path; `python -m nbkit`
    drops it before importing anything (runpy's own modules, types and importlib, are
    imported before nbkit can act, and a `nbkit.py` is nbkit itself to `python -m`:
    docs/hooks.md says to type `nbkit`)."""
    repo = hostile.repo
    (repo / "types.py").unlink()
    (repo / "nbkit.py").unlink()
    watch = hostile.watch()
    for argv in ([str(Path(PY).parent / "nbkit")], [PY, "-m", "nbkit"]):
        proc = sh(repo, *argv, "textconv", "a.ipynb")
        assert proc.returncode == 0, proc.stderr
        _clean_run(proc)
        assert "x = 1" in proc.stdout
    watch.check("nbkit by hand")
