"""Requirement lines read with `packaging` the way pip and uv read them: editable and path
requirements, direct references, options. `nbkit env --check` agrees with what `nbkit env`
just built from such a lock (real uv building real local projects)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nbkit.env.requirements import Declared, EnvSettings, parse_requirement, read_input
from tests.conftest import Result, git, write_nb
from tests.env_helpers import offline_project, uv_cache, wheelhouse
from tests.review_helpers import code, notebook

__all__ = ["offline_project", "uv_cache", "wheelhouse"]

Cli = Callable[..., Result]


def local_project(folder: Path, name: str) -> Path:
    """A source tree with static metadata, built by hatchling (in uv's cache after make venv)."""
    (folder / "src" / name).mkdir(parents=True)
    (folder / "src" / name / "__init__.py").write_text("VALUE = 1\n")
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name.replace("_", "-")}"\nversion = "0.1.0"\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["src/{name}"]\n'
    )
    return folder


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('Bar_Baz[x]==1.0 ; python_version > "3"', Declared("bar-baz", "1.0", marker='python_version > "3"')),
        ("foo>=1,<2 --hash=sha256:abc --hash=sha256:def", Declared("foo", None)),
        ("foo==1.*", Declared("foo", None)),  # a wildcard is not a pin
        (
            "-e git+https://example.invalid/y.git#egg=Qux",
            Declared("qux", None, "git+https://example.invalid/y.git#egg=Qux", True),
        ),
        ("--editable=./pkg", Declared("my-pkg", None, "./pkg", True)),
        ("-e ./pkg", Declared("my-pkg", None, "./pkg", True)),
        ("./pkg", Declared("my-pkg", None, "./pkg")),
        ("my_pkg @ file:///somewhere/pkg", Declared("my-pkg", None, "file:///somewhere/pkg")),
        (
            "https://example.invalid/x-1.0.tar.gz",
            Declared(None, None, "https://example.invalid/x-1.0.tar.gz"),
        ),
        ("--index-url https://example.invalid/simple", None),
    ],
)
def test_requirement_lines(tmp_path: Path, line: str, expected: Declared | None) -> None:
    local_project(tmp_path / "pkg", "my_pkg")
    assert parse_requirement(line, tmp_path, "requirements.in", 1) == expected


def test_includes_editables_and_paths_declare_their_projects(tmp_path: Path) -> None:
    local_project(tmp_path / "libs" / "a", "alpha")
    local_project(tmp_path / "b", "beta")
    (tmp_path / "requirements.in").write_text("-rlibs/more.in\n--editable ./b\n-c c.txt\n")
    (tmp_path / "libs" / "more.in").write_text("-e ./a  # relative to this file\n")
    (tmp_path / "c.txt").write_text("constrained==1\n")
    assert read_input(EnvSettings(root=tmp_path)).names == {"alpha", "beta"}


@pytest.mark.slow
def test_env_check_passes_right_after_env_built_editable_and_path_requirements(
    offline_project: Callable[..., Path], cli: Cli
) -> None:
    requirements = "-e ./localpkg\n./otherpkg\nnbkitdemo_a\n"
    root = offline_project(requirements)
    local_project(root / "localpkg", "localpkg")
    local_project(root / "otherpkg", "otherpkg")
    offline_project(requirements, no_index=False)  # building fetches hatchling (uv's cache)
    locked = cli("lock")
    assert locked.code == 0, locked.err
    assert "3 packages" in locked.out
    built = cli("env")
    assert built.code == 0, built.err
    checked = cli("env", "--check")
    assert checked.code == 0, checked.out + checked.err
    # the import check knows what the local projects provide
    write_nb(root / "nb.ipynb", notebook(code("import localpkg, otherpkg, nbkitdemo_a", cid="a")))
    git(root, "add", "nb.ipynb")  # lock --check reads tracked notebooks
    checked = cli("lock", "--check")
    assert checked.code == 0, checked.out + checked.err
    # and a missing local project is reported as such
    import shutil

    from nbkit import config
    from nbkit.env import lockfile
    from nbkit.env.settings import settings
    from nbkit.env.venv import env_dir

    s = settings(config.load(root))
    lock = lockfile.read(s.lock_path)
    assert lock is not None
    built_at = env_dir(s, lock)
    shutil.rmtree(built_at / "lib")  # nothing installed any more
    (built_at / "lib").mkdir()
    gone = cli("env", "--check")
    assert gone.code == 1 and "localpkg (from ./localpkg) is missing" in gone.out + gone.err
