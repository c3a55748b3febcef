"""Helpers shared by the hook, install, pre-commit and init tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import make_nb

PY = sys.executable


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
