"""The wheel carries hooks/ and templates/, and an installed nbkit finds them without a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nbkit import resources
from tests.conftest import REPO_ROOT
from tests.hooks_helpers import copy_package

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
