"""Path confinement: pairing from the repository never names a place outside the work tree.

A notebook's `metadata.jupytext.formats`, a `jupytext.toml` or the project's config may say
`../x//py:percent`, an absolute folder or `.git/hooks/`. Through `nbkit pair`, `nbkit sync`,
a real `git commit` (pre-commit shim) and a real `git checkout` of a hostile branch
(post-checkout re-sync), the pairing is refused with one line naming the notebook and the
path, and nothing is written (docs/pairing-and-sync.md, "Where scripts may go").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.hooks.install import InstallOptions, install
from tests.conftest import assert_one_line_error, commit_all, git, write_nb
from tests.env_helpers import offline_project, uv_cache, wheelhouse
from tests.hooks_helpers import PY, clean_nb, git_env, sh
from tests.security_helpers import Watch

__all__ = ["offline_project", "uv_cache", "wheelhouse"]  # fixtures used by name

SITE = ".local/lib/python3.11/site-packages"


def _hostile_nb(root: Path, name: str, formats: str) -> Path:
    """A clean notebook whose jupytext pairing names ``formats``."""
    return write_nb(root / name, clean_nb("import os") | {"metadata": _meta(formats)})


def _meta(formats: str) -> dict[str, Any]:
    return {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "jupytext": {"formats": formats},
    }


def _watch(tmp_path: Path, repo: Path, *guarded: Path) -> Watch:
    return Watch(tmp_path, repo, tmp_path / "markers", guarded)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def _formats(kind: str, outside: Path) -> tuple[str, str]:
    """A hostile formats string, and what the refusal must name."""
    if kind == "relative":
        return "ipynb,../outside//py:percent", str(outside / "a.py")
    if kind == "absolute":
        return f"ipynb,{outside}//py:percent", str(outside / "a.py")
    return "ipynb,.git/hooks//py:percent", ".git"


@pytest.mark.parametrize("kind", ["relative", "absolute", "git"])
def test_pair_refuses_metadata_naming_a_place_outside(
    repo: Path, tmp_path: Path, outside: Path, cli: Callable[..., Any], kind: str
) -> None:
    formats, named = _formats(kind, outside)
    nb = _hostile_nb(repo, "a.ipynb", formats)
    before = nb.read_bytes()
    hooks = repo / ".git" / "hooks" / "a.py"
    watch = _watch(tmp_path, repo, hooks)
    result = cli("pair", "a.ipynb")
    assert result.code == 2, result
    assert_one_line_error(result.err, "a.ipynb", named, "nothing was written")
    watch.check(f"nbkit pair with {formats}")
    assert nb.read_bytes() == before and not hooks.exists()


@pytest.mark.parametrize("source", ["jupytext.toml", "nbkit.toml", "metadata"])
def test_sync_refuses_config_or_metadata_naming_a_place_outside(
    repo: Path, tmp_path: Path, outside: Path, cli: Callable[..., Any], source: str
) -> None:
    formats = "ipynb,../outside//py:percent"
    if source == "jupytext.toml":
        (repo / "jupytext.toml").write_text(f'formats = "{formats}"\n')
        write_nb(repo / "a.ipynb", clean_nb())
    elif source == "nbkit.toml":
        (repo / "nbkit.toml").write_text(f'[tool.nbkit]\nformats = "{formats}"\n')
        write_nb(repo / "a.ipynb", clean_nb())
    else:
        _hostile_nb(repo, "a.ipynb", formats)
    watch = _watch(tmp_path, repo)
    result = cli("sync", "--prefer", "notebook", "a.ipynb")
    assert result.code == 2, result
    assert_one_line_error(result.err, "a.ipynb", str(outside / "a.py"))
    watch.check(f"nbkit sync with formats from {source}")


def test_git_commit_refuses_a_staged_notebook_pairing_outside(
    repo: Path, tmp_path: Path, outside: Path
) -> None:
    install(InstallOptions(repo, PY))
    _hostile_nb(repo, "a.ipynb", "ipynb,../outside//py:percent")
    git(repo, "add", "a.ipynb")
    watch = _watch(tmp_path, repo)
    proc = sh(repo, "git", "commit", "-m", "hostile pairing", env=git_env())
    assert proc.returncode == 1, proc.stderr  # the hook failed: nothing committed
    assert "a.ipynb" in proc.stderr and str(outside / "a.py") in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    watch.check("git commit of a notebook pairing with ../outside")
    assert git(repo, "rev-list", "--all") == ""


def test_git_checkout_of_a_hostile_branch_drops_nothing_outside(
    repo: Path, tmp_path: Path, outside: Path
) -> None:
    """The branch brings notebooks whose re-sync would write `../outside/a.py` and a
    `usercustomize.py` into the user's site-packages (run at the next Python start)."""
    home = tmp_path / "home"
    (home / SITE).mkdir(parents=True)
    write_nb(repo / "main.ipynb", clean_nb())
    commit_all(repo, "main")
    git(repo, "checkout", "-q", "-b", "hostile")
    _hostile_nb(repo, "a.ipynb", "ipynb,../outside//py:percent")
    _hostile_nb(repo, "usercustomize.ipynb", f"ipynb,../home/{SITE}//py:percent")
    commit_all(repo, "hostile pairings")
    git(repo, "checkout", "-q", "main")
    install(InstallOptions(repo, PY))
    watch = _watch(tmp_path, repo)
    proc = sh(repo, "git", "checkout", "hostile", env=git_env(HOME=str(home)))
    assert "Traceback" not in proc.stderr
    for name, target in (("a.ipynb", outside / "a.py"), ("usercustomize.ipynb", home / SITE)):
        assert name in proc.stderr and str(target) in proc.stderr, proc.stderr
    watch.check("git checkout of a branch pairing outside")
    assert os.listdir(home / SITE) == [] and os.listdir(outside) == []
    assert git(repo, "status", "--porcelain", "--", "*.ipynb", "*.py") == ""  # nor inside


def test_env_refuses_a_venv_setting_outside_the_project(
    offline_project: Callable[..., Path], tmp_path: Path, outside: Path, cli: Callable[..., Any]
) -> None:
    """`[env] venv = "../outside/venv"` from the repository: uv would build over it."""
    repo = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    config = repo / "nbkit.toml"
    config.write_text(config.read_text().replace("[env]\n", '[env]\nvenv = "../outside/venv"\n'))
    watch = _watch(tmp_path, repo)
    result = cli("env")
    assert result.code == 2, result
    assert_one_line_error(result.err, str(outside / "venv"), "outside the project")
    watch.check("nbkit env with venv = ../outside/venv")
    assert os.listdir(outside) == []


def test_env_refuses_a_committed_symlink_on_the_way_to_the_venv(
    offline_project: Callable[..., Path], tmp_path: Path, outside: Path, cli: Callable[..., Any]
) -> None:
    """A repository that commits `.nbkit` as a link to a folder of yours: uv would build the
    run environment there (the default .nbkit/envs/<hash>)."""
    repo = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    (repo / ".nbkit").symlink_to(outside)
    commit_all(repo, "a committed link")
    watch = _watch(tmp_path, repo)
    result = cli("env")
    assert result.code == 2, result
    assert_one_line_error(result.err, ".nbkit", "symlink the repository commits")
    watch.check("nbkit env through a committed .nbkit link")
    assert os.listdir(outside) == []
