"""nbkit lock and lock --check: real uv resolving against local wheels, never the network."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit.env import lockfile
from tests.conftest import Result, assert_one_line_error, commit_all, run_nbkit
from tests.env_helpers import offline_project, uv_cache, vendored, wheelhouse

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Project = Callable[..., Path]
Cli = Callable[..., Result]


def _pins(root: Path) -> dict[str, str]:
    lock = lockfile.read(root / "requirements.lock")
    assert lock is not None
    return lock.pins()


def test_lock_pins_with_hashes_and_records_header(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_b\n")
    result = cli("lock")
    assert result.code == 0, result.err
    assert "requirements.lock: written (2 packages from requirements.in)" in result.out
    text = (root / "requirements.lock").read_text()
    assert "nbkitdemo-a==1.1 \\\n    --hash=sha256:" in text
    assert "nbkitdemo-b==1.0 \\\n    --hash=sha256:" in text
    lock = lockfile.read(root / "requirements.lock")
    assert lock is not None
    assert lock.header["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert lock.header["platform"].startswith(sys.platform)
    assert lock.header["uv"][0].isdigit()
    assert lock.header["input"] == "requirements.in"
    assert "# via -r requirements.in" in text  # no temp paths leak into the lock

    mtime = (root / "requirements.lock").stat().st_mtime_ns
    again = cli("lock")
    assert again.code == 0 and "up to date" in again.out
    assert (root / "requirements.lock").stat().st_mtime_ns == mtime
    assert cli("lock", "--check").code == 0


def test_relock_keeps_pins_unless_upgrade(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_a<1.1\n")
    assert cli("lock").code == 0
    assert _pins(root) == {"nbkitdemo-a": "1.0"}
    (root / "requirements.in").write_text("nbkitdemo_a\nnbkitdemo_b\n")
    assert cli("lock").code == 0
    assert _pins(root) == {"nbkitdemo-a": "1.0", "nbkitdemo-b": "1.0"}  # a kept its pin
    assert cli("lock", "--upgrade-package", "nbkitdemo_a").code == 0
    assert _pins(root)["nbkitdemo-a"] == "1.1"
    (root / "requirements.in").write_text("nbkitdemo_a<1.1\n")
    assert cli("lock").code == 0
    (root / "requirements.in").write_text("nbkitdemo_a\n")
    assert cli("lock", "--upgrade").code == 0
    assert _pins(root) == {"nbkitdemo-a": "1.1"}


def test_as_of_is_passed_to_uv_and_recorded(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock", "--as-of", "2024-06-01").code == 0
    lock = lockfile.read(root / "requirements.lock")
    assert lock is not None and lock.header["as-of"] == "2024-06-01"
    bad = cli("lock", "--as-of", "not-a-date")
    assert bad.code == 2
    assert_one_line_error(bad.err, "requirements.in", "not-a-date")


def test_check_reports_missing_stale_and_hand_edited(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_a\n")
    missing = cli("lock", "--check")
    assert missing.code == 1
    assert "requirements.lock: missing" in missing.err and "hint: nbkit lock" in missing.err

    assert cli("lock").code == 0
    (root / "requirements.in").write_text("nbkitdemo_a\nnbkitdemo_b\n")
    stale = cli("lock", "--check")
    assert stale.code == 1
    assert "requirements.lock: stale: requirements.in changed since the lock was made" in stale.err

    assert cli("lock").code == 0
    lock_path = root / "requirements.lock"
    lock_path.write_text(lock_path.read_text().replace("nbkitdemo-a==1.1", "nbkitdemo-a==1.0"))
    edited = cli("lock", "--check")
    assert edited.code == 1
    assert "requirements.lock: edited by hand" in edited.err
    assert "Traceback" not in edited.err


def test_comment_only_change_in_lock_input_is_stale_but_other_files_are_not(
    offline_project: Project, cli: Cli
) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    (root / "README.md").write_text("unrelated\n")
    assert cli("lock", "--check").code == 0
    (root / "requirements.in").write_text("nbkitdemo_a\n-r more.in\n")
    (root / "more.in").write_text("nbkitdemo_b\n")
    assert cli("lock", "--check").code == 1
    assert cli("lock").code == 0
    assert "nbkitdemo-b" in _pins(root)
    (root / "more.in").write_text("nbkitdemo_b\nnbkitdemo_extra\n")  # an included file counts
    assert cli("lock", "--check").code == 1


def test_pyproject_dependencies_and_groups(
    repo: Path, wheelhouse: Path, uv_cache: str, cli: Cli
) -> None:
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["nbkitdemo_a<1.1"]\n'
        '[dependency-groups]\nbase = ["nbkitdemo_a"]\nnotebooks = [{include-group = "base"}, '
        '"nbkitdemo_b"]\n'
        f"[tool.nbkit.env]\nfind_links = [{vendored(repo, wheelhouse)!r}]\nno_index = true\n"
    )
    result = cli("lock")
    assert result.code == 0, result.err
    assert "pyproject.toml [project.dependencies]" in result.out
    assert _pins(repo) == {"nbkitdemo-a": "1.0"}
    assert "/tmp" not in (repo / "requirements.lock").read_text().split("\n\n", 1)[1]
    text = (repo / "pyproject.toml").read_text()
    (repo / "pyproject.toml").write_text(text.replace('version = "0"', 'version = "1"'))
    assert cli("lock", "--check").code == 0  # only the dependencies decide staleness

    (repo / "pyproject.toml").write_text(
        (repo / "pyproject.toml").read_text() + 'input = "pyproject:notebooks"\n'
    )
    stale = cli("lock", "--check")
    assert stale.code == 1 and "made from pyproject.toml [project.dependencies]" in stale.err
    assert cli("lock").code == 0
    assert _pins(repo) == {"nbkitdemo-a": "1.0", "nbkitdemo-b": "1.0"}


def test_unparsable_requirements_is_one_line_and_writes_nothing(
    offline_project: Project, cli: Cli
) -> None:
    root = offline_project("nbkitdemo_a\nnot a requirement ==[\n")
    result = cli("lock")
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.in", "line 2")
    assert not (root / "requirements.lock").exists()
    check = cli("lock", "--check")
    assert check.code == 2
    assert_one_line_error(check.err, "requirements.in", "line 2")


def test_unknown_package_gives_uv_reason_in_one_line(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    before = (root / "requirements.lock").read_bytes()
    (root / "requirements.in").write_text("nbkitdemo_a\nnbkitdemo_does_not_exist\n")
    result = cli("lock")
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.in", "nbkitdemo-does-not-exist", "not found")
    assert (root / "requirements.lock").read_bytes() == before


def test_no_network_says_resolution_needs_the_index(
    offline_project: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # fail at once instead of backing off
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    before = (root / "requirements.lock").read_bytes()
    offline_project("six\n", no_index=False)
    # A closed port on loopback: the index cannot be reached, and nothing leaves the machine.
    result = cli("lock", "--index-url", "http://127.0.0.1:9/simple")
    assert (root / "requirements.lock").read_bytes() == before
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.in", "needs the package index")
    assert "hint:" in result.err
    (root / "requirements.in").write_text("nbkitdemo_a\n")
    assert cli("lock", "--check").code == 0  # --check works without any network


def test_missing_input_is_bad_input(repo: Path, cli: Cli) -> None:
    result = cli("lock", "--check")
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.in")


def test_hook_is_published() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    hooks = {h["id"]: h for h in yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["nbkit-lock-check"]
    assert hook["entry"] == "nbkit lock --check"
    assert hook["pass_filenames"] is False


def test_lock_check_in_a_fresh_process(offline_project: Project) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert run_nbkit("lock", cwd=root).returncode == 0
    commit_all(root)
    proc = run_nbkit("lock", "--check", cwd=root)
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("NBKIT_NETWORK_TESTS") != "1", reason="set NBKIT_NETWORK_TESTS=1 to use PyPI"
)
def test_lock_a_real_package_from_pypi(repo: Path, uv_cache: str, cli: Cli) -> None:
    (repo / "requirements.in").write_text("six==1.16.0\n")
    result = cli("lock")
    assert result.code == 0, result.err
    assert _pins(repo) == {"six": "1.16.0"}


def test_declared_names_from_requirement_lines(tmp_path: Path) -> None:
    from nbkit.env.requirements import read_input
    from nbkit.env.settings import EnvSettings

    (tmp_path / "requirements.in").write_text(
        "# comment\nfoo==1.0 --hash=sha256:abc \\\n    --hash=sha256:def\n"
        'Bar_Baz[x]>=1; python_version > "3"  # trailing comment\n'
        "-e git+https://example.invalid/y.git#egg=qux\n./local_dir\n-c constraints.txt\n"
    )
    (tmp_path / "constraints.txt").write_text("constrained==1\n")
    inp = read_input(EnvSettings(root=tmp_path))
    assert inp.names == {"foo", "bar-baz", "qux"}  # a constraint declares nothing


def test_a_conda_only_project_is_told_what_nbkit_locks(repo: Path, cli: Cli) -> None:
    (repo / "environment.yml").write_text(
        "name: demo\ndependencies:\n  - python=3.11\n  - numpy\n  - pip:\n    - six\n"
    )
    (repo / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")  # tool settings only
    for args in (("lock",), ("lock", "--check")):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert_one_line_error(result.err, "environment.yml", "conda")
        assert "requirements.in" in result.err and "[dependency-groups]" in result.err
        assert "pip:" in result.err
    assert not (repo / "requirements.lock").exists()
