"""Helpers shared by the hook, install, pre-commit and init tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT, make_nb

PY = sys.executable
# What a build or a pre-commit install of nbkit reads from the checkout.
PACKAGE_PATHS = (
    "pyproject.toml",
    "README.md",
    ".pre-commit-hooks.yaml",
    "nbkit",
    "hooks",
    "templates",
)


def copy_package(target: Path) -> Path:
    """Copy the checkout's package files, tracked and new (so uncommitted work is tested too),
    into ``target``: tests build and install from the copy and never touch the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *PACKAGE_PATHS],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for rel in sorted({p.decode() for p in listed.split(b"\0") if p}):
        source = REPO_ROOT / rel
        if source.is_file() and "__pycache__" not in rel:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    return target


def dirty_nb(source: str = "print('hi')", text: str = "hi\n") -> dict[str, Any]:
    """A notebook as Jupyter leaves it: an output, an execution count, volatile metadata."""
    return make_nb(
        {"cell_type": "markdown", "source": "# Title"},
        {
            "cell_type": "code",
            "source": source,
            "metadata": {"ExecuteTime": {"start": "2024-01-01"}, "tags": ["parameters"]},
            "execution_count": 7,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
        },
        metadata={"language_info": {"name": "python", "version": "3.11.7"}},
    )


def clean_nb(source: str = "print('hi')") -> dict[str, Any]:
    return make_nb(
        {"cell_type": "markdown", "source": "# Title"},
        {"cell_type": "code", "source": source, "metadata": {"tags": ["parameters"]}},
    )


def declare_pairing(root: Path, extra: str = "") -> None:
    """Pair every notebook with a py:percent script (the project declares the formats)."""
    (root / "nbkit.toml").write_text(f'[tool.nbkit]\nformats = "ipynb,py:percent"\n{extra}')


def git_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def sh(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command (usually git) as a user would and keep its output for assertions."""
    return subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, env=env, check=False, timeout=600
    )
