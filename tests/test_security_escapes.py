"""Terminal escapes: text from notebooks, manifests and file names never drives the terminal.

Each command that prints such text is run the way a user runs it, on input carrying
`tests.security_helpers.TERMINAL_ATTACK` (clear screen, window title, OSC-8 link, a lone CR,
a bidi override, an 8-bit CSI); what it prints must hold none of them raw, and show them
escaped (`\\x1b[2J`). One helper does it: `nbkit/cli/output.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, git, make_nb, run_nbkit, write_nb
from tests.hooks_helpers import PY, git_env, sh
from tests.runs_helpers import experiment, kernel_name
from tests.security_helpers import TERMINAL_ATTACK, assert_inert

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

EVIL = TERMINAL_ATTACK
IDS = ("20250102-030405-abcdef", "20250103-030405-abcdef")


def _manifest(run_id: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "notebook": f"exp{EVIL}.ipynb",
        "status": "failed",
        "error": {"cell": 2, "ename": "ValueError", "evalue": EVIL},
        "started": "2025-01-02T03:04:05.000+00:00",
        "ended": "2025-01-02T03:04:06.000+00:00",
        "parameters": {"lr": EVIL},
        "metrics": {"acc": EVIL, EVIL: 1},
        "git": {"commit": "a" * 40, "branch": EVIL, "dirty": False},
        "kernel": {"name": EVIL},
        "experiment": {"objective": EVIL},
        "files": {"executed": "executed.ipynb"},
    }


@pytest.fixture
def ledger(repo: Path) -> Path:
    for run_id in IDS:
        folder = repo / ".nbkit" / "runs" / run_id
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(_manifest(run_id)))
    commit_all(repo, "runs from a teammate")
    return repo


@pytest.mark.parametrize(
    "args",
    [("runs",), ("runs", "show", IDS[0]), ("runs", "compare", *IDS)],
    ids=["runs", "runs show", "runs compare"],
)
def test_runs_commands_escape_manifest_text(ledger: Path, args: tuple[str, ...]) -> None:
    proc = run_nbkit(*args, cwd=ledger)
    assert proc.returncode == 0, proc.stderr
    assert_inert(proc.stdout + proc.stderr, f"nbkit {' '.join(args)}")


def test_run_escapes_the_error_and_metrics_of_the_notebook(
    repo: Path, experiment: Callable[..., Path]
) -> None:
    evil = json.dumps(EVIL)  # a Python string literal holding the raw characters
    experiment(f"import nbkit\nnbkit.record('note', {evil})", f"raise ValueError({evil})")
    proc = run_nbkit("run", "exp.ipynb", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert "ValueError" in proc.stderr
    assert_inert(proc.stdout + proc.stderr, "nbkit run")


def _history(repo: Path) -> None:
    """Two commits of a notebook whose source, output and path carry the attack."""
    nb = make_nb(f"print({json.dumps(EVIL)})  # {EVIL}")
    write_nb(repo / "a.ipynb", nb)
    commit_all(repo, "one")
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": EVIL}]
    nb["cells"].append({"cell_type": "markdown", "id": "m", "metadata": {}, "source": EVIL})
    write_nb(repo / "a.ipynb", nb)
    commit_all(repo, "two")


def test_git_log_p_textconv_escapes_the_notebook(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("install").code == 0
    _history(repo)
    proc = sh(repo, "git", "-c", "color.ui=never", "log", "-p", "--", "a.ipynb", env=git_env())
    assert proc.returncode == 0, proc.stderr
    assert "# notebook:" in proc.stdout  # textconv ran
    assert_inert(proc.stdout, "git log -p (textconv)")


@pytest.mark.parametrize("fmt", ["markdown", "terminal", "json"])
def test_review_escapes_on_stdout(repo: Path, fmt: str) -> None:
    _history(repo)
    proc = run_nbkit("review", "HEAD~1...HEAD", "--format", fmt, "--outputs", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":  # JSON escapes controls itself; nothing raw either way
        assert not any(ch in proc.stdout for ch in "\x1b\x07\x9b\u202e\r")
        return
    assert_inert(proc.stdout, f"nbkit review --format {fmt}")


def test_review_markdown_file_is_escaped_too(repo: Path) -> None:
    _history(repo)
    proc = run_nbkit("review", "HEAD~1...HEAD", "--format", "markdown", "-o", "r.md", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert_inert((repo / "r.md").read_text(encoding="utf-8"), "review -o r.md")


def test_errors_naming_a_file_escape_its_name(repo: Path) -> None:
    name = f"bad{EVIL.replace('/', '_')}.ipynb"  # no "/" in a file name
    (repo / name).write_text('{"cells": [')
    proc = run_nbkit("clean", name, cwd=repo)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("hint:")]
    assert len(lines) == 1, proc.stderr  # still one line: CR and newlines are escaped
    assert_inert(proc.stderr, "nbkit clean (error naming the file)")


def test_commit_hook_messages_escape_file_names(repo: Path, cli: Callable[..., Any]) -> None:
    from nbkit.hooks.install import InstallOptions, install

    install(InstallOptions(repo, PY))
    name = f"bad{EVIL.replace('/', '_')}.ipynb"  # no "/" in a file name
    (repo / name).write_text('{"cells": [')
    git(repo, "add", "--", name)
    proc = sh(repo, "git", "commit", "-m", "broken", env=git_env())
    assert proc.returncode == 1
    assert_inert(proc.stderr, "git commit (pre-commit shim)")
