"""Which notebooks a command works on: the paths given, or the project's configured set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from nbkit import git
from nbkit.config import DEFAULT_LEDGER, Config
from nbkit.errors import BadInput

_SKIP_DIRS = {".ipynb_checkpoints", ".git", ".venv", "venv", "node_modules", "__pycache__"}
_EVERY_NOTEBOOK = ("**/*.ipynb",)


def glob_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A predicate on posix paths relative to the project root, matching as .gitignore does:
    ``data/*.ipynb`` is ``data/a.ipynb`` only, not ``data/sub/b.ipynb``; ``*.ipynb`` (no
    slash) matches at any depth; ``**`` crosses folders; ``!pattern`` re-includes."""
    import pathspec  # not on the no-op hook path unless the project configures globs

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    return lambda rel: bool(spec.match_file(rel))


def walk(folder: Path, pattern: str = "*.ipynb") -> list[Path]:
    """Files matching ``pattern`` below ``folder``, sorted, outside hidden folders and those
    tools fill (virtual environments, caches, node_modules): the one walker for a folder git
    does not describe."""
    found: list[Path] = []
    for path in sorted(folder.rglob(pattern)):
        rel_parts = path.relative_to(folder).parts
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel_parts[:-1]):
            continue
        if path.is_file():
            found.append(path)
    return found


def walk_all(folder: Path | str) -> Iterator[tuple[str, list[str], list[str]]]:
    """Every folder below ``folder`` with its sub-folders and files, skipping nothing: for
    trees nbkit made itself (an unpacked run snapshot), where every file is the run's."""
    yield from os.walk(folder)


def _ledger(config: Config) -> str:
    """The run ledger's folder: its executed notebooks are the evidence of past runs and
    keep their outputs, so nbkit never cleans, syncs or validates them."""
    ledger: str = config.values("runs").get("ledger", DEFAULT_LEDGER)
    return ledger.strip("/")


def managed_filter(config: Config) -> Callable[[str | Path], bool]:
    """A predicate for "nbkit manages this path" (not ``exclude``d, not in the run ledger),
    worked out once (hooks pass hundreds of paths). Paths are absolute or relative to the
    cwd; files outside the project are judged managed."""
    ledger = _ledger(config) + "/"
    excluded = glob_matcher(config.exclude) if config.exclude else None
    root = os.path.abspath(config.root) + os.sep

    def managed(path: str | Path) -> bool:
        full = os.path.abspath(path)
        if not full.startswith(root):
            return True
        rel = full[len(root) :].replace(os.sep, "/")
        return not rel.startswith(ledger) and not (excluded is not None and excluded(rel))

    return managed


def configured_notebooks(config: Config) -> list[Path]:
    """Tracked notebooks matching ``notebooks`` minus ``exclude`` (all on disk outside git)."""
    root = config.root
    if git.toplevel(root) is not None:
        candidates = [root / p for p in git.tracked_files(root, ["*.ipynb"])]
        candidates = [p for p in candidates if p.is_file()]
    else:
        candidates = walk(root)
    managed = managed_filter(config)
    wanted = None if config.notebooks == _EVERY_NOTEBOOK else glob_matcher(config.notebooks)
    result = []
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        if (wanted is None or wanted(rel)) and managed(path):
            result.append(path)
    return result


def notebooks(paths: Sequence[str], config: Config) -> list[Path]:
    """Expand command-line paths: files as given, folders to the notebooks inside them."""
    if not paths:
        return configured_notebooks(config)
    result: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and path.suffix != ".ipynb":
            result.extend(walk(path))
        elif path.exists() or path.is_symlink():
            result.append(path)
        else:
            raise BadInput("no such file", raw)
    managed = managed_filter(config)
    return [p for p in dict.fromkeys(result) if managed(p)]
