"""``nbkit lock --check``: is the lock up to date, and is every import declared?

Never resolves and never imports jupytext or nbformat: digests are compared and imports
are read with ``ast``, so the commit hook stays well under a second.
"""

from __future__ import annotations

from pathlib import Path

from nbkit import git
from nbkit.cache import Cache
from nbkit.config import Config
from nbkit.env import lockfile
from nbkit.env.imports import Finding, is_paired_script, local_modules, scan, undeclared
from nbkit.env.requirements import foreign, read_input
from nbkit.env.settings import EnvSettings
from nbkit.selection import configured_notebooks, walk


def _python_files(root: Path) -> list[str]:
    """The project's .py files (tracked ones in a git repository)."""
    if git.toplevel(root) is not None:
        return git.tracked_files(root, ["*.py"])
    return sorted(path.relative_to(root).as_posix() for path in walk(root, "*.py"))


def _read_all(root: Path, rels: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for rel in rels:
        try:
            files[rel] = (root / rel).read_bytes()
        except OSError:
            continue  # deleted in the work tree: nothing to import
    return files


def check(s: EnvSettings, cfg: Config) -> list[Finding]:
    """Everything wrong with the lock and the imports (empty: all good).

    A paired script next to its notebook is not read again: the notebook speaks for both.
    """
    inp = read_input(s)
    lock = lockfile.read(s.lock_path)
    findings = [Finding(s.lock, problem) for problem in lockfile.problems(lock, inp, s.python)]
    problem = foreign(inp)
    if problem:
        findings.append(Finding(inp.label, problem))
    py_files = _python_files(s.root)
    notebooks = [p.relative_to(s.root).as_posix() for p in configured_notebooks(cfg)]
    files = _read_all(s.root, notebooks)
    scripts = _read_all(s.root, py_files)
    twins = {rel[: -len(".ipynb")] for rel in notebooks}  # a script beside its notebook
    files.update(
        {
            rel: data
            for rel, data in scripts.items()
            if rel[: -len(".py")] not in twins and is_paired_script(data)
        }
    )
    cache = Cache.for_root(s.root)
    scanned = scan(files, cache)
    cache.save()
    findings += undeclared(
        scanned,
        declared=inp.names,
        label=inp.label,
        local=local_modules(py_files),
        ignore=s.ignore_imports,
        import_map=s.import_map,
        recorded=lock.provides() if lock is not None else {},
    )
    return findings
