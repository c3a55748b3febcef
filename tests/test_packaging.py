"""The wheel carries hooks/ and templates/, and an installed nbkit finds them without a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nbkit import resources
from tests.conftest import REPO_ROOT, read_nb, write_nb
from tests.env_helpers import uv_cache
from tests.hooks_helpers import copy_package

__all__ = ["uv_cache"]

SHIPPED = {
    kind: sorted(p.name for p in (REPO_ROOT / kind).iterdir() if not p.name.startswith("."))
    for kind in resources.KINDS
}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once, offline (--no-isolation uses the dev environment's hatchling), from a copy."""
    source = copy_package(tmp_path_factory.mktemp("wheel-source"))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("nbkit_git-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked as pip installs it (no dependencies: the dev env has them)."""
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return site


def test_wheel_contains_hooks_and_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind, files in SHIPPED.items():
        assert files, kind
        for name in files:
            assert f"nbkit/_data/{kind}/{name}" in names


def test_checkout_resources_are_the_top_level_folders() -> None:
    assert Path(str(resources.folder("templates"))) == REPO_ROOT / "templates"
    assert resources.names("hooks") == SHIPPED["hooks"]
    assert b"@NBKIT_PYTHON@" in resources.read_bytes("hooks", "pre-commit")


def _run_installed(site: Path, cwd: Path, *code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, *code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_installed_wheel_finds_its_templates(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import nbkit, nbkit.resources as r;"
        "print(nbkit.__file__); print(r.folder('templates')); print(r.names('templates'))"
    )
    proc = _run_installed(installed, tmp_path, "-c", probe)
    assert proc.returncode == 0, proc.stderr
    module, folder, names = proc.stdout.splitlines()
    assert module.startswith(str(installed))  # the wheel's copy, not the checkout's
    assert folder == str(installed / "nbkit" / "_data" / "templates")
    assert names == str(SHIPPED["templates"])


def test_installed_wheel_scaffolds_and_installs_hooks(installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    init = _run_installed(installed, project, "-m", "nbkit", "init")
    assert init.returncode == 0, init.stderr
    assert (project / "notebooks" / "experiment.ipynb").is_file()
    setup = _run_installed(installed, project, "-m", "nbkit", "install")
    assert setup.returncode == 0, setup.stderr
    assert os.access(project / ".git" / "hooks" / "post-checkout", os.X_OK)


def _run(cwd: Path, *args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_installed_wheel_commit_tour_through_real_pre_commit(
    wheel: Path, tmp_path: Path, uv_cache: str
) -> None:
    """The README path with the built wheel: a fresh venv, `nbkit init`, the exact
    .pre-commit-config.yaml it writes, real `pre-commit install` and real commits."""
    from nbkit.env.uv import uv_bin
    from tests.hooks_helpers import dirty_nb

    venv, project = tmp_path / "venv", tmp_path / "project"
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"), "UV_CACHE_DIR": uv_cache}
    env.pop("VIRTUAL_ENV", None)
    assert (
        _run(tmp_path, uv_bin(), "venv", "-q", "--python", sys.executable, venv, env=env).returncode
        == 0
    )
    # dependencies come from the package index (or uv's cache); nbkit from the wheel
    install = _run(
        tmp_path,
        uv_bin(),
        "pip",
        "install",
        "-q",
        "--python",
        venv / "bin" / "python",
        f"{wheel}[hooks]",
        env=env,
    )
    assert install.returncode == 0, install.stderr
    bin_ = venv / "bin"
    env["PATH"] = f"{bin_}{os.pathsep}{env['PATH']}"  # as after `. .venv/bin/activate`
    project.mkdir()
    assert _run(project, "git", "init", "-q", "-b", "main", env=env).returncode == 0
    init = _run(project, bin_ / "nbkit", "init", env=env)
    assert init.returncode == 0, init.stderr
    assert "pre-commit install" in init.stdout
    config = (project / ".pre-commit-config.yaml").read_text()
    assert "language: system" in config and str(bin_ / "python") in config  # a wheel: this nbkit
    for step in (("pre-commit", "install"), ("nbkit", "install")):
        proc = _run(project, bin_ / step[0], *step[1:], env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def commit(message: str, expect: int) -> str:
        assert _run(project, "git", "add", "-A", env=env).returncode == 0
        proc = _run(project, "git", "commit", "-q", "-m", message, env=env)
        assert proc.returncode == expect, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    assert "notebooks/experiment.py" in commit("nbkit", 1)  # the template gets its script
    commit("nbkit", 0)
    write_nb(project / "analysis.ipynb", dirty_nb())
    assert "analysis.py" in commit("analysis", 1)
    assert read_nb(project / "analysis.ipynb")["cells"][1]["outputs"] == []
    commit("analysis", 0)
    script = project / "analysis.py"
    script.write_text(script.read_text().replace("print('hi')", "print('edited')"))
    assert "analysis.ipynb" in commit("edit the script", 1)
    assert "print('edited')" in "".join(read_nb(project / "analysis.ipynb")["cells"][1]["source"])
    commit("edit the script", 0)
    assert _run(project, "git", "status", "--porcelain", env=env).stdout == ""
    log = _run(project, "git", "log", "-p", "-1", "--", "analysis.ipynb", env=env)
    assert log.returncode == 0 and "print('edited')" in log.stdout  # the textconv driver
