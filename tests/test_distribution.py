"""The distribution is "nbkit-git": every install line, pin and lock rule we write says so.

"nbkit" on the package index is another author's project (with its own ``nbkit`` command
and module): nothing nbkit writes or tells a user to type may resolve to it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit import DISTRIBUTION
from nbkit.env.imports import FileImports, undeclared
from nbkit.errors import MissingDependency, require
from tests.conftest import REPO_ROOT, Result, assert_one_line_error
from tests.env_helpers import offline_project, uv_cache, wheelhouse

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Project = Callable[..., Path]
Cli = Callable[..., Result]

# `pip install ... nbkit` / `nbkit[extra]` / `nbkit==1`: the bare name, not nbkit-git.
_BARE = re.compile(r"(?<![\w./-])nbkit(?![\w-])")
_INSTALL = re.compile(r"(?:pip install |additional_dependencies:)([^#|\n]*)")


def _written_by_us() -> list[Path]:
    """Every file whose text a user reads or nbkit writes into a project."""
    files = [REPO_ROOT / "README.md", REPO_ROOT / "Makefile", REPO_ROOT / "demo" / "run.py"]
    files += sorted((REPO_ROOT / "docs").glob("*.md"))
    files += sorted(p for p in (REPO_ROOT / "templates").iterdir() if p.is_file())
    files += sorted((REPO_ROOT / "nbkit").rglob("*.py"))
    return files


def test_the_distribution_name_is_ours() -> None:
    doc = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert doc["project"]["name"] == DISTRIBUTION == "nbkit-git"
    assert doc["project"]["scripts"] == {"nbkit": "nbkit.__main__:entry"}  # the command stays
    for extra, reqs in doc["project"]["optional-dependencies"].items():
        for req in reqs:
            assert not _BARE.match(req), f"[{extra}] {req}"


def test_every_install_line_names_the_distribution() -> None:
    bad = []
    for path in _written_by_us():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _INSTALL.finditer(line):
                if _BARE.search(match.group(1)):
                    bad.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert bad == []


def test_missing_extra_hint_names_the_distribution() -> None:
    with pytest.raises(MissingDependency) as caught:
        require("nbkit_no_such_module", "review", "the review")
    assert caught.value.hint == "pip install 'nbkit-git[review]'"


def test_lock_refuses_the_other_projects_nbkit(offline_project: Project, cli: Cli) -> None:
    root = offline_project("nbkit\nnbkitdemo_a\n")
    result = cli("lock")
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.in", "another project's package", "nbkit-git")
    assert "hint:" in result.err
    assert not (root / "requirements.lock").exists()
    check = cli("lock", "--check")
    assert check.code == 1
    assert "requirements.in: names 'nbkit', another project's package" in check.err


def test_import_nbkit_is_provided_by_the_distribution(tmp_path: Path) -> None:
    found = undeclared(
        {"nb.ipynb": FileImports(("nbkit",))},
        declared=frozenset({"nbkit-git"}),
        label="requirements.in",
        local=set(),
        ignore=(),
        import_map={},
        recorded={},  # nothing recorded at lock time: the built-in table decides
    )
    assert found == []


def test_the_kernel_shim_gives_nbkit_record_without_nbkit(tmp_path: Path) -> None:
    """-I -S: no site-packages at all, so no nbkit (nor IPython) is importable."""
    from nbkit.recording import kernel_shim

    code = kernel_shim() + "import nbkit\nnbkit.record('score', 0.5)\nprint(nbkit.__nbkit_shim__)\n"
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["score = 0.5", "True"]


def test_an_installed_nbkit_wins_over_the_shim(tmp_path: Path) -> None:
    from nbkit.recording import kernel_shim

    code = kernel_shim() + "import nbkit\nprint(hasattr(nbkit, '__nbkit_shim__'), nbkit.__file__)\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("False ") and proc.stdout.strip().endswith("__init__.py")


def test_lock_check_accepts_import_nbkit_undeclared(tmp_path: Path) -> None:
    found = undeclared(
        {"nb.ipynb": FileImports(("nbkit", "nbkitdemo_zz"))},
        declared=frozenset(),
        label="requirements.in",
        local=set(),
        ignore=(),
        import_map={},
        recorded={},  # nothing recorded at lock time: the built-in table decides
    )
    assert [f.message for f in found] == ["imports 'nbkitdemo_zz', not declared in requirements.in"]
