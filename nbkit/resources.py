"""Files nbkit ships beside its code: git hook shims (``hooks/``) and ``templates/``.

In a wheel they live in ``nbkit/_data/`` (force-included by the build, see pyproject); in an
editable checkout they are the top-level folders. Reading goes through importlib.resources so
a user who installed from PyPI, with no checkout, gets the same files.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from nbkit.errors import NbkitError

KINDS = ("hooks", "templates")


def folder(kind: str) -> Traversable:
    """The folder holding the ``kind`` files, wherever this installation keeps it."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}")
    packaged = resources.files("nbkit").joinpath("_data", kind)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise NbkitError(
        f"nbkit's {kind} folder is missing from this installation",
        hint="reinstall nbkit: pip install --force-reinstall nbkit-git",
    )


def names(kind: str) -> list[str]:
    """The file names of ``kind`` (sorted, hidden files left out)."""
    return sorted(
        entry.name
        for entry in folder(kind).iterdir()
        if entry.is_file() and not entry.name.startswith(".")
    )


def read_bytes(kind: str, name: str) -> bytes:
    """One shipped file's bytes; a missing one is a packaging bug, reported plainly."""
    entry = folder(kind).joinpath(name)
    if not entry.is_file():
        raise NbkitError(f"nbkit's {kind}/{name} is missing from this installation")
    return entry.read_bytes()


def read_text(kind: str, name: str) -> str:
    return read_bytes(kind, name).decode("utf-8")


def exists(kind: str, name: str) -> bool:
    return folder(kind).joinpath(name).is_file()
