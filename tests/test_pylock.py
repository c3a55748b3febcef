"""PEP 751 ``pylock.toml`` as the lock: written by ``nbkit lock --format pylock`` through real
uv from local wheels, read by ``lock --check`` and the lock-check hook, built by ``nbkit env``
with the same integrity rules as requirements.lock (hashes, nothing from elsewhere)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nbkit.env import pylock
from tests.conftest import Result, assert_one_line_error, commit_all, git
from tests.env_helpers import offline_project, uv_cache, vendored, wheelhouse, write_wheel

__all__ = ["offline_project", "uv_cache", "wheelhouse"]  # fixtures used by name

Cli = Callable[..., Result]
Project = Callable[..., Path]
REPO_ROOT = Path(__file__).resolve().parent.parent


def _locked(offline_project: Project, cli: Cli, requirements: str = "nbkitdemo_b\n") -> Path:
    root = offline_project(requirements)
    result = cli("lock", "--format", "pylock")
    assert result.code == 0, result.err
    assert "pylock.toml: written" in result.out
    return root


def _rewrite(root: Path, edit: Callable[[str], str]) -> None:
    """Edit the lock's body and recompute its digest, as an attacker would."""
    lock = pylock.read(root / "pylock.toml")
    assert lock is not None
    fields = {k: v for k, v in lock.header.items() if k not in ("body-sha256", "lock-format")}
    (root / "pylock.toml").write_text(pylock.render(fields, edit(lock.body)))


def test_lock_writes_a_standard_pylock(offline_project: Project, cli: Cli) -> None:
    root = _locked(offline_project, cli)
    text = (root / "pylock.toml").read_text()
    doc = tomllib.loads(text)
    assert doc["lock-version"] == "1.0" and doc["created-by"] == "uv"
    by_name = {p["name"]: p for p in doc["packages"]}
    assert by_name["nbkitdemo-a"]["version"] == "1.1"
    wheel = by_name["nbkitdemo-b"]["wheels"][0]
    assert wheel["path"] == "wheels/nbkitdemo_b-1.0-py3-none-any.whl"  # relative: any clone
    assert len(wheel["hashes"]["sha256"]) == 64
    nbkit = doc["tool"]["nbkit"]
    assert nbkit["input"] == "requirements.in" and len(nbkit["input-sha256"]) == 64
    assert str(root) not in text and not (root / "requirements.lock").exists()
    # later commands find it without being told; relocking changes nothing
    assert cli("lock", "--check").code == 0
    again = cli("lock")
    assert again.code == 0 and "pylock.toml: up to date" in again.out


def test_check_sees_a_stale_or_hand_edited_pylock(offline_project: Project, cli: Cli) -> None:
    root = _locked(offline_project, cli)
    (root / "requirements.in").write_text("nbkitdemo_b\nnbkitdemo_extra\n")
    stale = cli("lock", "--check")
    assert stale.code == 1 and "pylock.toml: stale: requirements.in changed" in stale.err
    assert cli("lock").code == 0 and cli("lock", "--check").code == 0
    text = (root / "pylock.toml").read_text()
    (root / "pylock.toml").write_text(text.replace('version = "1.1"', 'version = "1.0"', 1))
    edited = cli("lock", "--check")
    assert edited.code == 1 and "edited by hand" in edited.err


@pytest.mark.slow  # the lock-check hook through real pre-commit
def test_lock_check_hook_runs_on_a_pylock_change(
    offline_project: Project, cli: Cli, tmp_path: Path
) -> None:
    """The published hook's ``files`` pattern, run by real pre-commit on a commit that only
    changes pylock.toml: the hand edit is caught."""
    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in manifest if h["id"] == "nbkit-lock-check")
    root = _locked(offline_project, cli)
    config = {
        "repos": [
            {
                "repo": "local",
                "hooks": [
                    {
                        "id": hook["id"],
                        "name": hook["name"],
                        "entry": f"{sys.executable} -m nbkit lock --check",
                        "language": "system",
                        "pass_filenames": False,
                        "files": hook["files"],
                    }
                ],
            }
        ]
    }
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    commit_all(root)
    text = (root / "pylock.toml").read_text()
    (root / "pylock.toml").write_text(text.replace('version = "1.1"', 'version = "1.0"', 1))
    git(root, "add", "pylock.toml")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "pylock.toml: edited by hand" in proc.stdout


@pytest.mark.slow  # builds a venv (ipykernel from the warm uv cache)
def test_env_builds_exactly_the_pylock(
    offline_project: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _locked(offline_project, cli)
    offline_project("nbkitdemo_b\n", no_index=False)  # env may fetch ipykernel (install only)
    built = cli("env")
    assert built.code == 0, built.err
    venv = next((root / ".nbkit" / "envs").glob("*/pyvenv.cfg")).parent
    code = "import nbkitdemo_a, nbkitdemo_b; print(nbkitdemo_a.VERSION)"
    proc = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "1.1", proc.stderr
    assert cli("env", "--check").code == 0
    # a wheel swapped under the lock (same name, other bytes): uv checks the pylock's hash
    # (uncached: uv's cache would serve the archive it verified before)
    shutil.rmtree(root / ".nbkit" / "envs")
    write_wheel(root / "wheels", "nbkitdemo_a", "1.1", module="nbkitdemo_other")
    monkeypatch.setenv("UV_NO_CACHE", "1")
    swapped = cli("env")
    assert swapped.code == 2 and "hash mismatch" in swapped.err.lower(), swapped.err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("lock-version = \n", "not valid TOML"),
        ('lock-version = "2.0"\ncreated-by = "x"\n', "lock-version '2.0'"),
        ('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nversion = "1"\n', "packages[0]"),
    ],
)
def test_bad_pylock_is_one_line_exit_2(
    offline_project: Project, cli: Cli, text: str, needle: str
) -> None:
    root = offline_project("nbkitdemo_a\n")
    (root / "pylock.toml").write_text(text)
    for args in (("lock", "--check"), ("env",), ("env", "--check")):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert_one_line_error(result.err, "pylock.toml", needle, "hint:")


ATTACKS: list[tuple[Callable[[str], str], str]] = [
    (  # the same file from another host
        lambda body: body.replace(
            'path = "wheels/nbkitdemo_a-1.1-py3-none-any.whl"',
            'url = "https://evil.example/nbkitdemo_a-1.1-py3-none-any.whl"',
        ),
        "https://evil.example, not the index in use",
    ),
    (  # no hash
        lambda body: body.replace('hashes = { sha256 = "', 'x = { sha256 = "', 1),
        "without a sha256 hash",
    ),
    (  # a file outside the repository
        lambda body: body.replace('path = "wheels/', 'path = "../elsewhere/', 1),
        "outside the repository",
    ),
    (  # a VCS checkout
        lambda body: (
            body + '\n[[packages]]\nname = "evil"\nvcs = { type = "git", url = "https://e.x/r", '
            'commit-id = "0000000000000000000000000000000000000000" }\n'
        ),
        "installs from a vcs source",
    ),
    (  # a folder the input does not declare
        lambda body: body + '\n[[packages]]\nname = "evil"\ndirectory = { path = "." }\n',
        "which the input does not declare",
    ),
]


@pytest.mark.parametrize(("edit", "needle"), ATTACKS)
def test_env_installs_only_hashed_files_from_the_index_or_repository(
    offline_project: Project, cli: Cli, edit: Callable[[str], str], needle: str
) -> None:
    root = _locked(offline_project, cli)
    _rewrite(root, edit)
    assert cli("lock", "--check").code == 0  # the digest was recomputed: looks current
    result = cli("env")
    assert result.code == 2
    assert_one_line_error(result.err, "pylock.toml", needle, "nothing was installed")
    assert not (root / ".nbkit" / "envs").exists()


def test_format_disagreeing_with_the_configured_lock_is_bad_input(
    offline_project: Project, cli: Cli
) -> None:
    root = offline_project("nbkitdemo_a\n")
    config: Any = (root / "nbkit.toml").read_text()
    (root / "nbkit.toml").write_text(config + 'lock = "requirements.lock"\n')
    result = cli("lock", "--format", "pylock")
    assert result.code == 2
    assert_one_line_error(result.err, "nbkit.toml", "not a pylock lock")


def test_a_uv_project_exports_its_lock_as_pylock(
    repo: Path, wheelhouse: Path, uv_cache: str, cli: Cli
) -> None:
    """``uv export --format pylock.toml`` for a uv project (pyproject.toml + uv.lock)."""
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["nbkitdemo_b"]\n\n'
        f"[tool.nbkit.env]\nfind_links = [{vendored(repo, wheelhouse)!r}]\nno_index = true\n"
        'input = "uv.lock"\n'
    )
    result = cli("lock", "--format", "pylock")
    assert result.code == 0, result.err
    doc = tomllib.loads((repo / "pylock.toml").read_text())
    assert doc["tool"]["nbkit"]["platform"] == "universal"
    assert {p["name"]: p["version"] for p in doc["packages"]} == {
        "nbkitdemo-a": "1.1",
        "nbkitdemo-b": "1.0",
    }
    assert cli("lock", "--check").code == 0
    (repo / "uv.lock").write_text((repo / "uv.lock").read_text() + "\n")
    assert cli("lock", "--check").code == 1  # uv.lock changed since
