"""The import check of nbkit lock --check: notebooks and paired scripts vs declared packages."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from nbkit.env.imports import FileImports, is_paired_script, notebook_imports
from tests.conftest import (
    Result,
    assert_one_line_error,
    commit_all,
    git,
    make_nb,
    run_nbkit,
    write_nb,
)
from tests.env_helpers import offline_project, uv_cache, vendored, wheelhouse, write_wheel

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Cli = Callable[..., Result]
Project = Callable[..., Path]


def _nb_bytes(*cells: str, language: str = "python") -> bytes:
    nb = make_nb(*cells)
    nb["metadata"]["kernelspec"]["language"] = language
    return json.dumps(nb).encode()


def test_imports_of_code_cells_skip_magics_shell_and_relative() -> None:
    data = _nb_bytes(
        "%matplotlib inline\nimport numpy as np, os.path\nfrom pandas.io import sql",
        "!pip install lightgbm\nfrom . import sibling\nfrom .pkg import x",
        "%%bash\nimport not_python",
        "%%time\nimport sklearn.linear_model",
        "def f():\n    import torch\n    return torch",
    )
    assert notebook_imports(data, "nb.ipynb") == FileImports(
        ("numpy", "os", "pandas", "sklearn", "torch")
    )


def test_syntax_error_is_reported_per_cell_not_raised() -> None:
    data = _nb_bytes("import numpy", "import (broken", "import scipy")
    result = notebook_imports(data, "nb.ipynb")
    assert result.modules == ("numpy", "scipy")
    assert len(result.errors) == 1 and result.errors[0].startswith("cell 1: syntax error (line 1")


def test_non_python_notebooks_are_not_checked() -> None:
    assert notebook_imports(_nb_bytes("library(ggplot2)", language="R"), "r.ipynb").modules == ()


def test_paired_script_detection() -> None:
    assert is_paired_script(b"# ---\n# jupyter:\n#   jupytext:\n# ---\nimport x\n")
    assert is_paired_script(b"# %%\nimport x\n")
    assert not is_paired_script(b"import x\n\ndef main():\n    pass\n")


def _project(offline_project: Project, requirements: str) -> Path:
    root = offline_project(requirements)
    (root / "requirements.lock").write_text("")  # only import findings are looked at here
    return root


def _import_lines(result: Result) -> list[str]:
    lines = result.err.splitlines()
    return [x for x in lines if "requirements.lock" not in x and not x.startswith("hint:")]


def test_undeclared_imports_one_line_each(offline_project: Project, cli: Cli) -> None:
    root = _project(offline_project, "scikit-learn\nPyYAML>=6\npillow\nnbkitdemo_a\n")
    (root / "helpers").mkdir()
    (root / "helpers" / "__init__.py").write_text("")
    (root / "localmod.py").write_text("VALUE = 1\n")
    write_nb(
        root / "notebooks" / "train.ipynb",
        make_nb(
            "import json, sys\nimport sklearn\nimport yaml\nfrom PIL import Image",
            "import lightgbm\nimport helpers\nimport localmod\nimport nbkitdemo_a",
        ),
    )
    (root / "notebooks" / "train.py").write_text("# %%\nimport lightgbm\n")  # its twin
    (root / "scripts").mkdir()
    (root / "scripts" / "train.py").write_text("# %%\nimport xgboost\n")  # mirrored pair
    (root / "tools").mkdir()
    (root / "tools" / "release.py").write_text("import pytest\n")  # not a paired script
    commit_all(root)
    result = cli("lock", "--check")
    assert result.code == 1
    assert _import_lines(result) == [
        "notebooks/train.ipynb: imports 'lightgbm', not declared in requirements.in",
        "scripts/train.py: imports 'xgboost', not declared in requirements.in",
    ]
    assert "Traceback" not in result.err


def test_syntax_error_cell_is_a_finding(offline_project: Project, cli: Cli) -> None:
    root = _project(offline_project, "nbkitdemo_a\n")
    write_nb(root / "nb.ipynb", make_nb("import nbkitdemo_a", "import (oops"))
    commit_all(root)
    result = cli("lock", "--check")
    assert result.code == 1
    assert _import_lines(result) == [
        "nb.ipynb: cell 1: syntax error (line 1: invalid syntax); its imports were not checked"
    ]


def test_invalid_notebook_is_a_finding_not_a_crash(offline_project: Project, cli: Cli) -> None:
    root = _project(offline_project, "nbkitdemo_a\n")
    (root / "broken.ipynb").write_text("{not json")
    commit_all(root)
    result = cli("lock", "--check")
    assert result.code == 1
    lines = _import_lines(result)
    assert len(lines) == 1 and lines[0].startswith("broken.ipynb: invalid JSON")


def test_import_map_and_ignore_imports_from_config(offline_project: Project, cli: Cli) -> None:
    root = _project(offline_project, "nbkitdemo_a\nmy-internal-dist\n")
    with (root / "nbkit.toml").open("a") as fh:
        fh.write(
            'ignore_imports = ["optional_thing"]\n[env.import_map]\ninternal = "my-internal-dist"\n'
        )
    write_nb(root / "nb.ipynb", make_nb("import internal\nimport optional_thing\nimport other"))
    commit_all(root)
    result = cli("lock", "--check")
    assert _import_lines(result) == ["nb.ipynb: imports 'other', not declared in requirements.in"]


def test_lock_check_gives_one_verdict_with_or_without_a_local_venv(
    offline_project: Project, wheelhouse: Path, tmp_path: Path
) -> None:
    """The import names come from the lock (recorded from the resolved wheels), never from
    whatever a local venv holds: a fresh clone, CI and a laptop with a venv agree."""
    extra = tmp_path / "wheels"
    extra.mkdir()
    write_wheel(extra, "nbkitdemo_provider", "1.0", module="nbkitdemo_mod")  # imblearn's case
    root = offline_project("nbkitdemo-provider\n")
    (root / "nbkit.toml").write_text(
        f"[env]\nfind_links = [{vendored(root, wheelhouse, extra)!r}]\nno_index = true\n"
        'venv = ".venv"\n'  # where the hand-built venv below sits
    )
    locked = run_nbkit("lock", cwd=root)
    assert locked.returncode == 0, locked.stderr
    assert (
        "# nbkit-imports: nbkitdemo_mod=nbkitdemo-provider"
        in (root / "requirements.lock").read_text()
    )
    write_nb(root / "nb.ipynb", make_nb("import nbkitdemo_mod\nimport nbkitdemo_secret"))
    commit_all(root)
    expected = ["nb.ipynb: imports 'nbkitdemo_secret', not declared in requirements.in"]

    def verdict(where: Path) -> list[str]:
        proc = run_nbkit("lock", "--check", cwd=where)  # what the pre-commit hook runs
        return [line for line in (proc.stdout + proc.stderr).splitlines() if "imports" in line]

    assert verdict(root) == expected  # no venv here
    # a local venv whose (stale, hand-built) metadata claims more than the lock records
    info = (
        root / ".venv" / "lib" / "python3.11" / "site-packages" / "nbkitdemo_provider-1.0.dist-info"
    )
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nbkitdemo-provider\nVersion: 1.0\n"
    )
    (info / "top_level.txt").write_text("nbkitdemo_mod\nnbkitdemo_secret\n")
    assert verdict(root) == expected
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    assert verdict(clone) == expected  # a fresh clone, as pre-commit.ci sees it


def test_results_are_cached_by_content(offline_project: Project, cli: Cli) -> None:
    root = _project(offline_project, "nbkitdemo_a\n")
    nb = write_nb(root / "nb.ipynb", make_nb("import nbkitdemo_a"))
    commit_all(root)
    assert _import_lines(cli("lock", "--check")) == []
    cache = json.loads((root / ".git" / "nbkit-cache.json").read_text())
    assert any('"nbkitdemo_a"' in key for key in cache["imports-v1"])
    write_nb(nb, make_nb("import nbkitdemo_a\nimport newdep"))  # new content: read again
    assert _import_lines(cli("lock", "--check")) == [
        "nb.ipynb: imports 'newdep', not declared in requirements.in"
    ]


def test_unreadable_requirements_during_check(offline_project: Project, cli: Cli) -> None:
    root = _project(offline_project, "nbkitdemo_a\n")
    (root / "requirements.in").write_bytes(b"\xff\xfe bad\n")
    result = cli("lock", "--check")
    assert result.code == 2
    assert_one_line_error(result.err, "requirements.in", "UTF-8")


def test_check_imports_neither_jupytext_nor_nbformat_nor_uv(offline_project: Project) -> None:
    root = _project(offline_project, "nbkitdemo_a\n")
    write_nb(root / "nb.ipynb", make_nb("import nbkitdemo_a"))
    commit_all(root)
    code = (
        "import sys\nfrom nbkit.cli.main import main\ncode = main(['lock', '--check'])\n"
        "heavy = [m for m in ('jupytext', 'nbformat', 'uv', 'git') if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.stdout.strip() == "1 []", proc.stdout + proc.stderr  # 1: the lock is empty
