"""A cloned repository cannot choose where packages come from without the user's consent.

Each test commits a project whose config names an index or a find-links folder, clones it
the way a user would, and runs ``nbkit lock`` / ``nbkit env`` in the clone. The index named
is a closed loopback port: had uv been asked, the error would be a network error; a refusal
names the config file and ``--trust-index`` instead, and nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import commit_all, git, run_nbkit
from tests.env_helpers import uv_cache, vendored, wheelhouse

__all__ = ["uv_cache", "wheelhouse"]  # fixtures used by name

EVIL_INDEX = "http://127.0.0.1:9/simple"  # port 9 (discard): nothing listens on loopback


def _clone(origin: Path, tmp_path: Path) -> Path:
    commit_all(origin)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def _one_error(stderr: str, file: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("hint:"), stderr
    assert file in lines[0] and "Traceback" not in stderr
    return lines[0]


def _env_without_uv_index() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "UV_INDEX_URL",
            "UV_DEFAULT_INDEX",
            "UV_INDEX",
            "UV_EXTRA_INDEX_URL",
            "UV_FIND_LINKS",
        )
    }


def test_repository_index_needs_consent(repo: Path, tmp_path: Path, uv_cache: str) -> None:
    (repo / "nbkit.toml").write_text(f'[env]\nindex_url = "{EVIL_INDEX}"\n')
    (repo / "requirements.in").write_text("nbkitdemo_a\n")
    clone = _clone(repo, tmp_path)
    base = _env_without_uv_index()

    refused = run_nbkit("lock", cwd=clone, env=base)
    assert refused.returncode == 2
    line = _one_error(refused.stderr, "nbkit.toml")
    assert EVIL_INDEX in line and "--trust-index" in refused.stderr
    assert "cannot be reached" not in refused.stderr  # uv was never asked
    assert not (clone / "requirements.lock").exists()

    # consent: --trust-index, or the same index set by the user in uv's own variable
    for args, env in (
        (["--trust-index"], base),
        ([], {**base, "UV_INDEX_URL": EVIL_INDEX}),
        ([], {**base, "UV_INDEX": f"mine={EVIL_INDEX}"}),
    ):
        proc = run_nbkit("lock", *args, cwd=clone, env=env)
        assert proc.returncode == 2 and "cannot be reached" in proc.stderr, proc.stderr
        assert "127.0.0.1:9" in proc.stderr  # uv was asked, with the repository's index


def test_command_line_index_wins_over_the_repository(
    repo: Path, tmp_path: Path, wheelhouse: Path, uv_cache: str
) -> None:
    (repo / "nbkit.toml").write_text(f'[env]\nindex_url = "{EVIL_INDEX}"\n')
    (repo / "requirements.in").write_text("nbkitdemo_a\n")
    clone = _clone(repo, tmp_path)
    own = ["--index-url", "https://pypi.org/simple", "--find-links", str(wheelhouse)]
    proc = run_nbkit("lock", *own, "--offline", cwd=clone, env=_env_without_uv_index())
    assert proc.returncode == 0, proc.stderr
    assert "packages from index: https://pypi.org/simple (command line)" in proc.stderr
    assert f"packages from find-links: {wheelhouse} (command line)" in proc.stderr


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("../wheels", "outside the repository"),
        ("ABSOLUTE", "outside the repository"),
        ("linked", "outside the repository"),
        (".git/objects", "points into .git"),
    ],
)
def test_find_links_must_stay_inside_the_repository(
    repo: Path, tmp_path: Path, wheelhouse: Path, uv_cache: str, where: str, needle: str
) -> None:
    outside = tmp_path / "wheels"  # beside the clone: ../wheels from inside it
    vendored(tmp_path, wheelhouse)
    if where == "linked":  # a committed symlink that leads out of the repository
        (repo / "linked").symlink_to(outside)
    link = str(outside) if where == "ABSOLUTE" else where
    (repo / "nbkit.toml").write_text(f"[env]\nfind_links = [{link!r}]\nno_index = true\n")
    (repo / "requirements.in").write_text("nbkitdemo_a\n")
    clone = _clone(repo, tmp_path)
    for extra in ([], ["--trust-index"]):  # a path is never the index's consent to give
        refused = run_nbkit("lock", *extra, cwd=clone)
        assert refused.returncode == 2
        line = _one_error(refused.stderr, "nbkit.toml")
        assert needle in line, line
        assert not (clone / "requirements.lock").exists()


def test_wheels_inside_the_repository_are_used_and_shown(
    repo: Path, tmp_path: Path, wheelhouse: Path, uv_cache: str
) -> None:
    name = vendored(repo, wheelhouse)
    (repo / "nbkit.toml").write_text(f"[env]\nfind_links = [{name!r}]\nno_index = true\n")
    (repo / "requirements.in").write_text("nbkitdemo_a\n")
    clone = _clone(repo, tmp_path)
    proc = run_nbkit("lock", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert "packages from index: none (no_index) (nbkit.toml)" in proc.stderr
    assert "packages from find-links: wheels (nbkit.toml)" in proc.stderr
    assert "nbkitdemo-a==1.1" in (clone / "requirements.lock").read_text()


def test_uv_config_committed_in_the_repository_needs_consent(
    repo: Path, tmp_path: Path, wheelhouse: Path, uv_cache: str
) -> None:
    """uv reads uv.toml / [tool.uv] of the folder it runs in by itself: the same rule."""
    name = vendored(repo, wheelhouse)
    (repo / "nbkit.toml").write_text(f"[env]\nfind_links = [{name!r}]\nno_index = true\n")
    (repo / "requirements.in").write_text("nbkitdemo_a\n")
    (repo / "uv.toml").write_text(f'extra-index-url = ["{EVIL_INDEX}"]\n')
    clone = _clone(repo, tmp_path)
    refused = run_nbkit("lock", cwd=clone, env=_env_without_uv_index())
    assert refused.returncode == 2
    assert EVIL_INDEX in _one_error(refused.stderr, "uv.toml")


def test_env_refuses_a_repository_index_before_installing(
    repo: Path, tmp_path: Path, wheelhouse: Path, uv_cache: str
) -> None:
    name = vendored(repo, wheelhouse)
    (repo / "nbkit.toml").write_text(f"[env]\nfind_links = [{name!r}]\nno_index = true\n")
    (repo / "requirements.in").write_text("nbkitdemo_a\n")
    assert run_nbkit("lock", cwd=repo).returncode == 0
    # the lock is right; a later commit points installs at another index
    (repo / "nbkit.toml").write_text(
        f'[env]\nfind_links = [{name!r}]\nindex_url = "{EVIL_INDEX}"\n'
    )
    clone = _clone(repo, tmp_path)
    refused = run_nbkit("env", cwd=clone, env=_env_without_uv_index())
    assert refused.returncode == 2
    assert EVIL_INDEX in _one_error(refused.stderr, "nbkit.toml")
    assert not (clone / ".nbkit" / "envs").exists()
