"""nbkit env: a real venv built by uv from the lock, exact sync, a real registered kernel.

Locking is offline (local wheels). ipykernel is not in these locks, so ``nbkit env``
installs it separately: that is the only step allowed to reach the package index, and the
shared uv cache makes it a cache hit after the first time.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit.env import lockfile
from nbkit.env import venv as envlib
from nbkit.env.uv import uv_bin
from tests.conftest import Result, assert_one_line_error
from tests.env_helpers import offline_project, uv_cache, wheelhouse

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Cli = Callable[..., Result]
Project = Callable[..., Path]


def _locked(offline_project: Project, cli: Cli, requirements: str) -> Path:
    root = offline_project(requirements)
    assert cli("lock").code == 0
    offline_project(requirements, no_index=False)  # env may fetch ipykernel (install only)
    return root


def _venv_python(root: Path) -> str:
    return str(root / ".venv" / "bin" / "python")


def _installed(root: Path) -> str:
    code = "import nbkitdemo_a, sys; print(nbkitdemo_a.VERSION)"
    proc = subprocess.run([_venv_python(root), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr


def _kernel_spec(name: str) -> dict[str, object]:
    spec = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / name / "kernel.json"
    result: dict[str, object] = json.loads(spec.read_text())
    return result


def _run_in_kernel(name: str, code: str) -> str:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name=name, startup_timeout=120)
    try:
        outputs: list[str] = []
        client.execute_interactive(
            code,
            timeout=120,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
        )
        return "".join(outputs)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.slow
def test_env_builds_venv_and_registers_a_working_kernel(offline_project: Project, cli: Cli) -> None:
    root = _locked(offline_project, cli, "nbkitdemo_b\n")
    lock = lockfile.read(root / "requirements.lock")
    assert lock is not None
    name = f"nbkit-repo-{lock.hash[:8]}"
    assert envlib.project_kernel(root) is None

    result = cli("env")
    assert result.code == 0, result.err
    assert f"built from the lock; kernel {name}" in result.out
    assert "ipykernel is not in the lock" in result.err
    assert _installed(root) == "1.1"
    assert str(_kernel_spec(name)["argv"][0]).startswith(str(root / ".venv"))  # type: ignore[index]
    assert envlib.project_kernel(root) == name
    assert envlib.lock_hash(root) == lock.hash
    assert cli("env", "--print-kernel").out.strip() == name
    assert cli("env", "--check").code == 0

    again = cli("env")
    assert again.code == 0 and "already matches the lock" in again.out

    out = _run_in_kernel(name, "import sys, nbkitdemo_b; print(sys.prefix)")
    assert out.strip() == str(root / ".venv")


@pytest.mark.slow
def test_env_syncs_exactly_and_renames_the_kernel(offline_project: Project, cli: Cli) -> None:
    root = _locked(offline_project, cli, "nbkitdemo_b\n")
    assert cli("env").code == 0
    old = cli("env", "--print-kernel").out.strip()
    extra = ["pip", "install", "--quiet", "--python", _venv_python(root), "--no-index"]
    extra += ["--find-links", _wheels(root), "nbkitdemo_extra"]
    subprocess.run([uv_bin(), *extra], check=True)
    check = cli("env", "--check")
    assert check.code == 1
    assert check.err.strip().splitlines() == [".venv: nbkitdemo-extra==1.0 is not in the lock"]
    assert envlib.project_kernel(root) == old  # extras do not change the marker

    offline_project("nbkitdemo_a<1.1\n")
    assert cli("lock").code == 0
    offline_project("nbkitdemo_a<1.1\n", no_index=False)
    assert envlib.project_kernel(root) is None  # the lock moved on
    diff = cli("env", "--check")
    assert diff.code == 1
    assert ".venv: nbkitdemo-a is 1.1, locked 1.0" in diff.err
    assert ".venv: nbkitdemo-b==1.0 is not in the lock" in diff.err

    result = cli("env", "--offline")  # ipykernel comes from the warm uv cache
    assert result.code == 0, result.err
    new = cli("env", "--print-kernel").out.strip()
    assert new != old and envlib.project_kernel(root) == new
    assert _installed(root) == "1.0"
    assert cli("env", "--check").code == 0  # nbkitdemo_b and the extra were removed
    kernels = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels"
    assert not (kernels / old).exists() and (kernels / new).exists()


def _wheels(root: Path) -> str:
    import tomllib

    table = tomllib.loads((root / "nbkit.toml").read_text())
    return str(table["env"]["find_links"][0])


def test_env_without_a_lock_is_bad_input(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_a\n")
    result = cli("env")
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.lock")
    assert not (root / ".venv").exists()


def test_env_refuses_a_stale_or_hand_edited_lock(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    (root / "requirements.in").write_text("nbkitdemo_b\n")
    stale = cli("env")
    assert stale.code == 1
    assert_one_line_error(stale.err, "requirements.lock", "stale")
    assert cli("lock").code == 0
    lock = root / "requirements.lock"
    lock.write_text(lock.read_text() + "nbkitdemo-extra==1.0\n")
    edited = cli("env")
    assert edited.code == 1
    assert_one_line_error(edited.err, "requirements.lock", "edited by hand")
    assert not (root / ".venv").exists()


def test_env_refuses_to_replace_a_folder_that_is_not_a_venv(
    offline_project: Project, cli: Cli
) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    (root / "data").mkdir()
    (root / "data" / "precious.csv").write_text("1,2\n")
    result = cli("env", "--path", "data")
    assert result.code == 2
    assert_one_line_error(result.err, "data", "not a virtual environment")
    assert (root / "data" / "precious.csv").read_text() == "1,2\n"


@pytest.fixture(autouse=True)
def _ci_needs_uv() -> None:
    """No silent skip: these tests need uv, which the env extra provides."""
    assert Path(uv_bin()).exists()


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("NBKIT_NETWORK_TESTS") != "1", reason="set NBKIT_NETWORK_TESTS=1 to use PyPI"
)
def test_env_with_ipykernel_in_the_lock(repo: Path, uv_cache: str, cli: Cli) -> None:
    (repo / "requirements.in").write_text("ipykernel\n")
    assert cli("lock").code == 0
    result = cli("env")
    assert result.code == 0, result.err
    assert "note:" not in result.err  # nothing installed beside the lock
    assert cli("env", "--check").code == 0
