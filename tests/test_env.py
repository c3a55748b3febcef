"""nbkit env: a real venv built by uv from the lock, exact sync, a real registered kernel.

Locking is offline (local wheels). ipykernel is not in these locks, so ``nbkit env``
installs it separately: that is the only step allowed to reach the package index, and the
shared uv cache makes it a cache hit after the first time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit.env import lockfile
from nbkit.env import venv as envlib
from nbkit.env.uv import uv_bin
from tests.conftest import REPO_ROOT, Result, assert_one_line_error, git, make_nb, write_nb
from tests.env_helpers import offline_project, uv_cache, wheelhouse, write_wheel

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Cli = Callable[..., Result]
Project = Callable[..., Path]


def _locked(offline_project: Project, cli: Cli, requirements: str) -> Path:
    root = offline_project(requirements)
    assert cli("lock").code == 0
    offline_project(requirements, no_index=False)  # env may fetch ipykernel (install only)
    return root


def _env(root: Path) -> Path:
    """Where `nbkit env` builds the current lock's environment by default."""
    lock = lockfile.read(root / "requirements.lock")
    assert lock is not None
    return root / ".nbkit" / "envs" / lock.hash[:16]


def _venv_python(root: Path) -> str:
    return str(_env(root) / "bin" / "python")


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
    assert str(_kernel_spec(name)["argv"][0]).startswith(str(_env(root)))  # type: ignore[index]
    assert envlib.project_kernel(root) == name
    assert envlib.lock_hash(root) == lock.hash
    assert cli("env", "--print-kernel").out.strip() == name
    assert cli("env", "--check").code == 0

    again = cli("env")
    assert again.code == 0 and "already matches the lock" in again.out

    out = _run_in_kernel(name, "import sys, nbkitdemo_b; print(sys.prefix)")
    assert out.strip() == str(_env(root))
    # opened in Jupyter (not started by nbkit run), the kernel still has nbkit.record
    out = _run_in_kernel(name, "import nbkit; print(nbkit.__nbkit_shim__, callable(nbkit.record))")
    assert out.strip() == "True True"


@pytest.mark.slow
def test_env_syncs_exactly_and_keeps_one_environment_per_lock(
    offline_project: Project, cli: Cli
) -> None:
    root = _locked(offline_project, cli, "nbkitdemo_b\n")
    assert cli("env").code == 0
    old, old_env = cli("env", "--print-kernel").out.strip(), _env(root)
    extra = ["pip", "install", "--quiet", "--python", _venv_python(root), "--no-index"]
    extra += ["--find-links", _wheels(root), "nbkitdemo_extra"]
    subprocess.run([uv_bin(), *extra], check=True)
    check = cli("env", "--check")
    assert check.code == 1
    shown = old_env.relative_to(root).as_posix()
    assert check.err.strip().splitlines() == [f"{shown}: nbkitdemo-extra==1.0 is not in the lock"]

    offline_project("nbkitdemo_a<1.1\n")
    assert cli("lock").code == 0
    offline_project("nbkitdemo_a<1.1\n", no_index=False)
    assert envlib.project_kernel(root) is None  # the lock moved on
    assert "no environment" in cli("env", "--check").err

    result = cli("env", "--offline")  # ipykernel comes from the warm uv cache
    assert result.code == 0, result.err
    new = cli("env", "--print-kernel").out.strip()
    assert new != old and envlib.project_kernel(root) == new and _env(root) != old_env
    assert _installed(root) == "1.0"
    assert cli("env", "--check").code == 0
    kernels = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels"
    assert (kernels / old).exists() and (kernels / new).exists()  # the old env still works
    assert (root / ".nbkit" / "envs" / ".gitignore").read_text().endswith("*\n")
    assert git(root, "status", "--porcelain", "--untracked-files=all", ".nbkit") == ""

    # A configured venv is synced in place: the other lock's packages and kernel go.
    (root / "nbkit.toml").write_text((root / "nbkit.toml").read_text() + 'venv = "runenv"\n')
    assert cli("env", "--offline").code == 0
    offline_project("nbkitdemo_b\n")
    assert cli("lock").code == 0
    offline_project("nbkitdemo_b\n", no_index=False)
    (root / "nbkit.toml").write_text((root / "nbkit.toml").read_text() + 'venv = "runenv"\n')
    assert cli("env", "--offline").code == 0
    assert not (kernels / new).exists()  # same venv, older lock: would not start
    assert cli("env", "--check").code == 0


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
    text = lock.read_text()
    assert "nbkitdemo-a==1.1 " in text
    lock.write_text(text.replace("nbkitdemo-a==1.1 ", "nbkitdemo-a==1.0 "))  # still a hashed pin
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


def _tool_venv(root: Path, wheels: Path) -> Path:
    """A venv where the user installed nbkit, as the README says (a stand-in nbkit-git)."""
    venv = root / ".venv"
    fake = wheels.parent / "tool-wheels"
    fake.mkdir(exist_ok=True)
    write_wheel(fake, "nbkit_git", "0.1.0")
    subprocess.run([uv_bin(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    install = ["pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--no-index"]
    subprocess.run([uv_bin(), *install, "--find-links", str(fake), "nbkit_git"], check=True)
    return venv


def _has_nbkit(venv: Path) -> bool:
    return any(venv.glob("lib/python*/site-packages/nbkit_git-*.dist-info"))


@pytest.mark.slow
def test_env_never_syncs_the_venv_nbkit_is_installed_in(
    offline_project: Project, wheelhouse: Path, cli: Cli
) -> None:
    root = _locked(offline_project, cli, "nbkitdemo_a\n")
    tool = _tool_venv(root, wheelhouse)
    result = cli("env")
    assert result.code == 0, result.err
    assert _has_nbkit(tool) and _installed(root) == "1.1"  # built beside it, in .nbkit/envs
    refused = cli("env", "--path", ".venv")
    assert refused.code == 2
    assert_one_line_error(refused.err, ".venv", "would uninstall nbkit", "hint: leave")
    assert _has_nbkit(tool) and not list(tool.glob("lib/python*/site-packages/nbkitdemo_a*"))


def test_env_refuses_the_interpreter_nbkit_runs_from(
    offline_project: Project, tmp_path: Path, cli: Cli
) -> None:
    root = offline_project("nbkitdemo_a\n")
    assert cli("lock").code == 0
    venv = tmp_path / "tool"
    subprocess.run([uv_bin(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    # nbkit and its dependencies importable, but sys.prefix is the new venv
    path = os.pathsep.join([str(REPO_ROOT), *(p for p in sys.path if "site-packages" in p)])
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "nbkit", "env", "--path", str(venv)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_one_line_error(proc.stderr, "is the environment nbkit runs from", "hint:")
    assert not list(venv.glob("lib/python*/site-packages/nbkitdemo_a*"))


@pytest.mark.slow
def test_template_experiment_records_in_the_locked_kernel_without_nbkit(
    offline_project: Project, cli: Cli
) -> None:
    """The README path: init's template, a lock without nbkit, nbkit env, nbkit run."""
    root = _locked(offline_project, cli, "nbkitdemo_a\n")
    assert cli("init").code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    check = cli("lock", "--check")
    assert check.code == 0, check.err  # `import nbkit` in the template is not undeclared
    assert cli("env").code == 0
    kernel = cli("env", "--print-kernel").out.strip()
    site = next(_env(root).glob("lib/python*/site-packages"))
    assert not [p for p in site.iterdir() if p.name.split("-")[0] in ("nbkit", "nbkit_git")]
    run = cli("run", "notebooks/experiment.ipynb", "-p", "learning_rate=0.5", "--json")
    assert run.code == 0, run.err
    manifest = json.loads(run.out)
    assert manifest["kernel"]["name"] == kernel
    assert manifest["status"] == "succeeded" and isinstance(manifest["metrics"]["score"], float)


@pytest.mark.slow
def test_a_drifted_env_is_rebuilt_by_env_and_named_by_run(
    offline_project: Project, cli: Cli
) -> None:
    root = _locked(offline_project, cli, "nbkitdemo_a\n")
    assert cli("env").code == 0
    downgrade = ["pip", "install", "-q", "--python", _venv_python(root), "--no-index"]
    subprocess.run(
        [uv_bin(), *downgrade, "--find-links", _wheels(root), "nbkitdemo_a==1.0"], check=True
    )
    assert _installed(root) == "1.0"  # the marker still says "built from this lock"
    write_nb(root / "nb.ipynb", make_nb("import nbkitdemo_a\nprint(nbkitdemo_a.VERSION)"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "nb")
    shown = _env(root).relative_to(root).as_posix()
    run = cli("run", "nb.ipynb")
    assert run.code == 0, run.err
    assert f"warning: {shown}: nbkitdemo-a is 1.0, locked 1.1" in run.err

    result = cli("env")
    assert result.code == 0 and "built from the lock" in result.out
    assert _installed(root) == "1.1"
    assert "already matches the lock" in cli("env").out
    assert "warning:" not in cli("run", "nb.ipynb").err


@pytest.mark.slow
def test_universal_lock_serves_every_platform_and_builds_here(
    offline_project: Project, cli: Cli
) -> None:
    """One lock for Linux, macOS and Windows (uv's --universal): the Windows-only package is
    in it under its marker, kept by a relock, and this platform's env leaves it out."""
    requirements = "nbkitdemo_a\nnbkitdemo_extra ; sys_platform == 'win32'\n"
    root = offline_project(requirements)
    assert cli("lock").code == 0
    here = (root / "requirements.lock").read_text()
    assert "nbkitdemo-extra" not in here and "# nbkit-platform: universal" not in here
    assert cli("lock", "--universal").code == 0
    text = (root / "requirements.lock").read_text()
    assert "# nbkit-platform: universal" in text
    assert "nbkitdemo-extra==1.0 ; sys_platform == 'win32'" in text
    assert cli("lock", "--upgrade").code == 0  # a relock keeps it universal
    assert "# nbkit-platform: universal" in (root / "requirements.lock").read_text()
    offline_project(requirements, no_index=False)  # env may fetch ipykernel (install only)
    built = cli("env")
    assert built.code == 0, built.err
    assert _installed(root) == "1.1"
    checked = cli("env", "--check")
    assert checked.code == 0, checked.out + checked.err  # the win32 entry is not "missing"
    assert cli("lock", "--this-platform").code == 0
    assert "nbkit-platform: universal" not in (root / "requirements.lock").read_text()


@pytest.mark.slow
def test_a_uv_project_is_a_lock_source(
    offline_project: Project, wheelhouse: Path, cli: Cli
) -> None:
    """pyproject.toml + uv.lock: `nbkit lock` runs uv lock and exports uv.lock into
    requirements.lock; editing the dependencies makes it stale; `nbkit env` builds it."""
    root = offline_project("")
    (root / "requirements.in").unlink()
    pyproject = '[project]\nname = "demo"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
    (root / "pyproject.toml").write_text(pyproject + 'dependencies = ["nbkitdemo_b"]\n')
    # a new uv project, not locked yet, says so (once uv.lock exists it is found by itself)
    config = (root / "nbkit.toml").read_text().replace("[env]\n", '[env]\ninput = "uv.lock"\n')
    (root / "nbkit.toml").write_text(config)
    result = cli("lock")
    assert result.code == 0, result.err
    assert "from uv.lock (pyproject.toml)" in result.out
    assert "[[package]]" in (root / "uv.lock").read_text()  # uv lock wrote it
    lock = lockfile.read(root / "requirements.lock")
    assert lock is not None and lock.header["platform"] == "universal"
    assert lock.pins() == {"nbkitdemo-a": "1.1", "nbkitdemo-b": "1.0"}
    (root / "nbkit.toml").write_text(config.replace('input = "uv.lock"\n', ""))
    assert cli("lock", "--check").code == 0  # found by itself now
    (root / "pyproject.toml").write_text(
        pyproject + 'dependencies = ["nbkitdemo_b", "nbkitdemo_extra"]\n'
    )
    stale = cli("lock", "--check")
    assert stale.code == 1 and "uv.lock (pyproject.toml) changed" in stale.err
    assert cli("lock").code == 0
    assert "nbkitdemo-extra" in (root / "uv.lock").read_text()
    assert cli("lock", "--check").code == 0
    (root / "nbkit.toml").write_text(
        (root / "nbkit.toml").read_text().replace("no_index = true", "no_index = false")
    )  # env may fetch ipykernel (install only)
    assert cli("env").code == 0
    assert _installed(root) == "1.1"
    checked = cli("env", "--check")
    assert checked.code == 0, checked.out + checked.err
