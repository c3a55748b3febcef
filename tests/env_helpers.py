"""Fixtures for environment tests: tiny real wheels in a local folder, so uv resolves offline.

Wheels are written as zip files (METADATA, WHEEL, RECORD with real digests): uv installs
them like any wheel from an index. ``UV_CACHE_DIR`` points at the user's uv cache when it
exists, so installing ipykernel (the only thing that may reach the package index) reuses
what ``make venv`` already downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

# Read at import time, before the per-test fixtures point HOME and XDG_* at a temp folder.
_REAL_UV_CACHE = os.environ.get("UV_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "uv"
)


def write_wheel(
    folder: Path,
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    module: str | None = None,
) -> Path:
    """A pure-Python wheel with one module (``name``, or ``module`` when the distribution
    names it differently) whose ``VERSION`` is ``version``."""
    dist = f"{name}-{version}"
    module = module or name
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}.dist-info/METADATA": metadata,
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: nbkit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist}.dist-info/top_level.txt": f"{module}\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={b64},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nbkitdemo_a 1.0 and 1.1, nbkitdemo_b 1.0 (needs a), nbkitdemo_extra 1.0."""
    folder = tmp_path_factory.mktemp("wheels")
    write_wheel(folder, "nbkitdemo_a", "1.0")
    write_wheel(folder, "nbkitdemo_a", "1.1")
    write_wheel(folder, "nbkitdemo_b", "1.0", ("nbkitdemo_a>=1.0",))
    write_wheel(folder, "nbkitdemo_extra", "1.0")
    return folder


@pytest.fixture
def uv_cache(monkeypatch: pytest.MonkeyPatch) -> str:
    """Share the user's uv cache (downloads happen once, ever), never the test's temp HOME."""
    monkeypatch.setenv("UV_CACHE_DIR", _REAL_UV_CACHE)
    return _REAL_UV_CACHE


def vendored(repo: Path, *folders: Path, name: str = "wheels") -> str:
    """Copy the wheels of ``folders`` into ``repo/NAME`` and return NAME: a repository's
    ``find_links`` must stay inside the repository (a path outside it is refused)."""
    target = repo / name
    target.mkdir(exist_ok=True)
    for folder in folders:
        for wheel in folder.glob("*.whl"):
            shutil.copy2(wheel, target / wheel.name)
    return name


@pytest.fixture
def offline_project(repo: Path, wheelhouse: Path, uv_cache: str) -> Callable[[str], Path]:
    """A git repo whose nbkit.toml resolves only from the local wheels (no index at all),
    copied into the repository's ``wheels/`` folder."""

    def make(requirements: str, *, no_index: bool = True) -> Path:
        (repo / "nbkit.toml").write_text(
            "[env]\n"
            f"find_links = [{vendored(repo, wheelhouse)!r}]\n"
            f"no_index = {'true' if no_index else 'false'}\n"
        )
        (repo / "requirements.in").write_text(requirements)
        return repo

    return make
