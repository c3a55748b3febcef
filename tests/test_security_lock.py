"""Lock integrity: `nbkit env` installs only hashed pins of what the input declared.

The lock's body digest can be recomputed by whoever edits it, so a lock that adds a package
index, a find-links folder, an editable, a URL or an unhashed pin would be installed from
wherever it points. Each such line, added to a real lock from `nbkit lock` with the digest
recomputed, makes `nbkit env` (and `env --check`, `lock --check`) refuse with one line naming
the line, exit 2 for `env`, and nothing built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit import config
from nbkit.env import lockfile
from nbkit.env.requirements import read_input
from nbkit.env.settings import settings
from tests.conftest import Result, assert_one_line_error
from tests.env_helpers import offline_project, uv_cache, wheelhouse, write_wheel
from tests.reliability import count

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Cli = Callable[..., Result]


@pytest.fixture
def locked(offline_project: Callable[..., Path], cli: Cli) -> Path:
    root = offline_project("nbkitdemo_b\n")
    result = cli("lock")
    assert result.code == 0, result.err
    return root


def _tamper(root: Path, line: str) -> int:
    """Append ``line`` to the lock's body and recompute the digest, as an attacker would;
    returns the line number it landed on."""
    path = root / "requirements.lock"
    text = path.read_text()
    body_start = text.index("\n\n") + 2
    body = text[body_start:] + line + "\n"
    head = re.sub(
        r"# nbkit-body-sha256: \w+", f"# nbkit-body-sha256: {lockfile.body_digest(body)}", text
    )[:body_start]
    path.write_text(head + body)
    return (head + body).count("\n")


def _cases(evil: Path) -> dict[str, str]:
    wheel = evil / "nbkitdemo_extra-1.0-py3-none-any.whl"
    return {
        "index-url": "--index-url http://127.0.0.1:9/simple",
        "extra-index-url": "--extra-index-url http://127.0.0.1:9/simple",
        "find-links": f"--find-links {evil}",
        "editable": f"-e {evil}",
        "url": f"nbkitdemo_extra @ file://{wheel}",
        "unhashed pin": "nbkitdemo_extra==1.0",
        "include": "-r evil.txt",
        "trusted-host": "--trusted-host evil.invalid",
        "pin with a URL hash": f"nbkitdemo_extra==1.0 --hash=sha256:{'0' * 64} --index-url x",
    }


CASES = list(_cases(Path("/x")))


def test_a_lock_from_nbkit_lock_is_accepted(locked: Path, cli: Cli) -> None:
    assert cli("lock", "--check").code == 0
    lock = lockfile.read(locked / "requirements.lock")
    assert lock is not None and lock.pins()


@pytest.mark.parametrize("case", CASES)
def test_env_refuses_lock_lines_the_input_did_not_declare(
    locked: Path, tmp_path: Path, cli: Cli, case: str
) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    write_wheel(evil, "nbkitdemo_extra", "1.0")
    line = _cases(evil)[case]
    number = _tamper(locked, line)
    count("attacks")
    result = cli("env")
    assert result.code == 2, result
    assert_one_line_error(result.err, "requirements.lock", f"line {number}", "not a hashed pin")
    assert not (locked / ".venv").exists()


def test_options_the_input_declares_may_stay(locked: Path, cli: Cli) -> None:
    """A line the user wrote in requirements.in (here a trusted host) is theirs to keep."""
    (locked / "requirements.in").write_text("--trusted-host example.invalid\nnbkitdemo_b\n")
    assert cli("lock").code == 0
    _tamper(locked, "--trusted-host example.invalid")
    lock, inp = lockfile.read(locked / "requirements.lock"), read_input(settings(config.load()))
    assert lock is not None and lockfile.foreign_lines(lock, inp) == []
