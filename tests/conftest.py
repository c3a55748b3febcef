"""Shared fixtures: real git repositories in tmp_path, a guarded home, notebook factories.

Every test runs with HOME, git's global config and Jupyter's folders pointed into a temp
folder, so nothing a test does can touch the real home directory or the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from nbkit.cli.main import main

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = nbkit tests\n\temail = tests@nbkit.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    return home


@pytest.fixture(autouse=True)
def _isolated_env(session_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_home = os.path.expanduser("~")
    monkeypatch.setenv("HOME", str(session_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(session_home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TEMPLATE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(session_home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(session_home / ".local" / "share"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(session_home / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(session_home / "jupyter-config"))
    monkeypatch.setenv("NBKIT_LOG_DIR", str(session_home / "logs"))
    (session_home / "logs").mkdir(exist_ok=True)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PRE_COMMIT"):
        monkeypatch.delenv(var, raising=False)
    before = _home_snapshot(real_home)
    yield
    assert _home_snapshot(real_home) == before, "a test wrote into the real home directory"


def _home_snapshot(home: str) -> set[str]:
    try:
        return {e for e in os.listdir(home) if not e.startswith(".cache")}
    except OSError:
        return set()


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run the real git in ``cwd`` and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository (branch main), also the current directory."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    monkeypatch.chdir(root)
    return root


def commit_all(root: Path, message: str = "commit") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def make_nb(*cells: Any, metadata: dict[str, Any] | None = None, minor: int = 5) -> dict[str, Any]:
    """A notebook dict. Each cell is a dict, or a string (code cell), or ("markdown", src)."""
    built = []
    for index, cell in enumerate(cells):
        if isinstance(cell, str):
            cell = {"cell_type": "code", "source": cell}
        elif isinstance(cell, tuple):
            cell = {"cell_type": cell[0], "source": cell[1]}
        cell = dict(cell)
        cell.setdefault("metadata", {})
        if minor >= 5:
            cell.setdefault("id", f"cell-{index}")
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        built.append(cell)
    meta = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if metadata:
        meta.update(metadata)
    return {"cells": built, "metadata": meta, "nbformat": 4, "nbformat_minor": minor}


def write_nb(path: Path, nb: dict[str, Any]) -> Path:
    """Write the way nbformat does, so a fresh file is already canonical."""
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(nb), str(path))
    return path


def read_nb(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


class Result(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Call the real CLI in-process: ``cli("clean", "--check", path)``."""

    def invoke(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def run_nbkit(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run nbkit as a user does, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "nbkit", *[str(a) for a in args]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(err: str, *needles: str) -> None:
    """Bad input is reported as one line (plus an optional hint line), never a traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if not line.startswith("hint:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in err, err


# --- the edit loop: `make quick` runs `pytest -m "not slow"` ------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts a real kernel is slow: asking for the kernelspec fixture says so.

    Whole slow files (pre-commit, faults, benchmark smoke, browser) mark themselves.
    """
    for item in items:
        if "kernel_name" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


# --- reliability figures: summed across xdist workers, printed at the end ---------


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    from tests.reliability import LOG_ENV

    if not hasattr(config, "workerinput") and LOG_ENV not in os.environ:
        fd, path = tempfile.mkstemp(prefix="nbkit-reliability-", suffix=".jsonl")
        os.close(fd)
        os.environ[LOG_ENV] = path


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from tests.reliability import LOG_ENV, totals

    if hasattr(config, "workerinput"):
        return
    figures = totals(os.environ.get(LOG_ENV, ""))
    if figures:
        terminalreporter.write_line(
            f"reliability: {figures.get('cases', 0)} malformed-input cases tried, "
            f"{figures.get('faults', 0)} faults injected, "
            f"{figures.get('lost', 0)} inputs lost"
        )
    if figures.get("attacks"):  # tests/security_helpers.py: Watch.check
        terminalreporter.write_line(
            f"security: {figures['attacks']} attacks tried, "
            f"{figures.get('outside_writes', 0)} files written outside the repository, "
            f"{figures.get('code_executed', 0)} times the repository's code executed"
        )


# --- the checkout guard: a test run must leave the working tree as it found it ---------------


def _checkout_state() -> set[str]:
    proc = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--ignored=no"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return set(proc.stdout.splitlines()) if proc.returncode == 0 else set()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        session.config.stash[_CHECKOUT_KEY] = _checkout_state()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or _CHECKOUT_KEY not in session.config.stash:
        return
    changed = _checkout_state() ^ session.config.stash[_CHECKOUT_KEY]
    if changed:
        print(f"\nthe test run changed the checkout: {sorted(changed)}", file=sys.stderr)
        session.exitstatus = 1


_CHECKOUT_KEY = pytest.StashKey[set[str]]()
