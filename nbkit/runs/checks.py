"""What ``nbkit rerun`` checks: the recorded inputs in the worktree, and the original run
against the new one (environment, variables, status and failure, metrics, outputs).

Each check returns a ``Check``: a name, ``ok``, and the lines that say what matched or
differed. Manifests are data from the repository: paths in them are checked before use.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import git
from nbkit.errors import BadInput
from nbkit.fsutil import confined, make_folder
from nbkit.runs.compare import OutputComparison, OutputDiff, Tolerance, values_equal
from nbkit.runs.ledger import Run, run_file


@dataclass(frozen=True)
class Difference:
    """One thing that differs, as data (the verdict's causes are built from these, never by
    parsing the detail lines)."""

    what: str  # "input" | "outside" | "unchecked" | "python" | "package" | "variable" | "cell"
    name: str  # a path, a package or variable name, a cell number
    before: Any = None
    after: Any = None  # None for a missing file, an absent package, an unset variable


@dataclass(frozen=True)
class Check:
    """One thing compared: ``ok``, the lines that say what matched or differed, and the
    differences as data."""

    name: str  # "inputs" | "environment" | "status" | "metrics" | "outputs" | "stability"
    ok: bool
    details: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()  # differences expected between runs (times, addresses)
    differences: tuple[Difference, ...] = ()

    def of(self, what: str) -> list[Difference]:
        return [d for d in self.differences if d.what == what]


# ---- inputs ---------------------------------------------------------------------------------


def project_path(rel: str, manifest: Mapping[str, Any], what: str) -> str:
    """A relative path from a manifest, refused when it would leave the project.

    Manifests are data from the repository; one edited to say ``../../x`` must not make a
    rerun read, copy or execute anything outside the worktree."""
    parts = Path(rel).parts
    if not rel or os.path.isabs(rel) or ".." in parts:
        raise BadInput(
            f"the run's {what} path {rel!r} leaves the project; the manifest was edited",
            str(manifest.get("id", "")),
        )
    return rel


class Recorded(NamedTuple):
    """The files a run recorded, by where they are checked."""

    project: dict[str, str]  # path relative to the project -> sha256 (declared inputs too)
    outside: dict[str, str]  # files the kernel read outside the project -> sha256
    unknown: tuple[str, ...]  # read, then changed in a way nbkit could not see: no hash


def recorded_files(manifest: Mapping[str, Any]) -> Recorded:
    """Declared inputs and the files the kernel read, sorted by how they are checked.

    A declared input outside the project is an input like any other (checked where it is);
    a file the kernel read outside the project is checked in place too, but reported on
    its own: it names a cause, without failing a rerun whose results match.
    """
    project: dict[str, str] = {}
    outside: dict[str, str] = {}
    unknown: list[str] = []
    for key in ("files_read", "inputs"):
        for entry in manifest.get(key) or []:
            if not isinstance(entry, dict) or not entry.get("path"):
                continue
            path, digest = str(entry["path"]), entry.get("sha256")
            if not isinstance(digest, str):
                unknown.append(path)
            elif key == "inputs" or not os.path.isabs(path):
                project[path] = digest
            else:
                outside[path] = digest
    return Recorded(project, outside, tuple(unknown))


def _copy_in(source: Path, target: Path) -> None:
    """A copy, not a link: a notebook that writes to a file it read must not reach into the
    user's checkout through the worktree."""
    make_folder(target.parent)
    shutil.copy2(source, confined(target))


def notebook_check(tree: Path, manifest: Mapping[str, Any]) -> Check:
    """The notebook in the worktree is byte for byte the one the run executed."""
    from nbkit.runs.manifest import sha256_file

    rel = project_path(str(manifest.get("notebook") or ""), manifest, "notebook")
    recorded = manifest.get("notebook_sha256")
    try:
        digest = sha256_file(tree / rel)[1]
    except OSError:
        commit = str((manifest.get("git") or {}).get("commit"))[:12]
        raise BadInput(
            f"the run's notebook {rel} is not in commit {commit} (nor in its stored patch)",
            str(manifest.get("id", "")),
        ) from None
    if recorded is None:
        return Check("notebook", True, (f"{rel} (no fingerprint recorded)",))
    if digest != recorded:
        return Check("notebook", False, (f"{rel} differs from the one that ran",))
    return Check("notebook", True, (f"{rel} as it ran (sha256 {digest[:12]})",))


def verify_inputs(root: Path, tree: Path, manifest: Mapping[str, Any]) -> Check:
    """Make the recorded inputs visible in the worktree and check their fingerprints.

    Data is often untracked (too big for git): a file the worktree lacks is copied from the
    user's checkout, where the original run read it.
    """
    from nbkit.runs.manifest import sha256_file

    found: list[Difference] = []
    same = 0
    recorded = recorded_files(manifest)
    for rel, digest in sorted(recorded.project.items()):
        outside = os.path.isabs(rel)  # a declared input outside the project: checked in place
        target = Path(rel) if outside else tree / project_path(rel, manifest, "input")
        if not outside and not target.exists() and (root / rel).is_file():
            _copy_in(root / rel, target)
        now = sha256_file(target)[1] if target.is_file() else None
        if now == digest:
            same += 1
        else:
            found.append(Difference("input", rel, digest, now))
    details = _file_lines(found)
    if same:
        details.append(f"{same} input file{'s' if same != 1 else ''} unchanged")
    details += [f"not checked: {p} (changed during the run)" for p in recorded.unknown]
    if not details:  # say so, rather than print an empty "inputs ok" line
        details.append("none recorded (the run read no project files)")
    unchecked = tuple(Difference("unchecked", p) for p in recorded.unknown)
    return Check("inputs", not found, tuple(details), differences=(*found, *unchecked))


def _file_lines(found: list[Difference]) -> list[str]:
    changed = [f"changed: {d.name}" for d in found if d.after is not None]
    return changed + [f"missing: {d.name}" for d in found if d.after is None]


def outside_check(manifest: Mapping[str, Any]) -> Check | None:
    """Files the run read outside the project, checked where they are (None: there were
    none). Nothing is copied: they are the machine's, not the project's."""
    from nbkit.runs.manifest import sha256_file

    outside = recorded_files(manifest).outside
    if not outside:
        return None
    found: list[Difference] = []
    for path, digest in sorted(outside.items()):
        try:
            now: str | None = sha256_file(Path(path))[1]
        except OSError:
            now = None
        if now != digest:
            found.append(Difference("outside", path, digest, now))
    details = _file_lines(found)
    same = len(outside) - len(found)
    if same:
        details.append(f"{same} file{'s' if same != 1 else ''} outside the project unchanged")
    return Check("outside", not found, tuple(details), differences=tuple(found))


# ---- comparisons ----------------------------------------------------------------------------


def kernel_of(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    kernel = manifest.get("kernel")
    return kernel if isinstance(kernel, dict) else {}


def _python(manifest: Mapping[str, Any]) -> Any:
    kernel = kernel_of(manifest)
    return kernel.get("python", kernel.get("python_version"))


def environment_check(old: Mapping[str, Any], new: Mapping[str, Any]) -> Check:
    """Python version and package versions of the original kernel and of the rerun's.

    A different kernel name is mentioned but is not a difference by itself: what runs the
    code is the interpreter and its packages.
    """
    found: list[Difference] = []
    old_py, new_py = _python(old), _python(new)
    if old_py != new_py:
        found.append(Difference("python", "python", old_py, new_py))
    old_pk = kernel_of(old).get("packages") or {}
    new_pk = kernel_of(new).get("packages") or {}
    for name in sorted(set(old_pk) | set(new_pk)):
        if old_pk.get(name) != new_pk.get(name):
            found.append(Difference("package", name, old_pk.get(name), new_pk.get(name)))
    details = [f"{d.name} {_shown(d.before)} -> {_shown(d.after)}" for d in found]
    if not found:
        details = [f"python {new_py} and {len(new_pk)} packages as recorded"]
    old_name, new_name = kernel_of(old).get("name"), kernel_of(new).get("name")
    if old_name != new_name:
        details.append(f"kernel {old_name} -> {new_name}")
    return Check("environment", not found, tuple(details), differences=tuple(found))


def _shown(value: Any, absent: str = "absent") -> str:
    return absent if value is None else str(value)


def variables_check(old: Mapping[str, Any], new: Mapping[str, Any]) -> Check:
    """Environment variables that steer numerics or data (``manifest.numeric_env`` and the
    ones ``[tool.nbkit.runs] env`` declares): a difference explains, it does not fail."""
    before, after = old.get("env") or {}, new.get("env") or {}
    found = [
        Difference("variable", key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
    if found:
        lines = [
            f"{d.name} {_shown(d.before, 'unset')} -> {_shown(d.after, 'unset')}" for d in found
        ]
        return Check("variables", False, tuple(lines), differences=tuple(found))
    same = ", ".join(sorted(after)) if after else "none of the numerics variables set"
    return Check("variables", True, (f"{same}, as recorded",))


_MISSING_FILE = re.compile(r"No such file or directory: '([^']+)'|file '([^']+)'")
_MISSING_MODULE = re.compile(r"No module named '([^'.]+)")


def failure_cause(root: Path, error: Mapping[str, Any]) -> str:
    """The likely cause of a rerun that failed, read from its error: a missing file is an
    input that was not recorded; a missing module is an untracked module or the
    environment."""
    ename, evalue = str(error.get("ename")), str(error.get("evalue"))
    module = _MISSING_MODULE.search(evalue)
    if module and ename in ("ModuleNotFoundError", "ImportError"):
        name = module.group(1)
        for rel in (f"{name}.py", f"{name}/__init__.py"):
            if (root / rel).is_file() and not git.tracked_files(root, [f":(literal){rel}"]):
                return (
                    f"untracked module: {rel} is not in git, so the run's commit lacks it "
                    "(add and commit it, then run again)"
                )
        return (
            f"environment: module {name!r} is not installed in the rerun's kernel "
            "(see the packages above, or rerun with --env locked)"
        )
    missing = _MISSING_FILE.search(evalue)
    if missing or ename == "FileNotFoundError":
        path = (missing.group(1) or missing.group(2)) if missing else evalue
        return (
            f"missing input: {path} is neither in the run's commit nor recorded as read "
            "(declare it with --inputs, or add it to git)"
        )
    first = evalue.splitlines()[0][:200] if evalue else ""
    return f"the rerun failed where the run did not: {ename}: {first}"


def _cell_source(nb: Mapping[str, Any], index: Any) -> list[str]:
    """The first lines of the source cell ``index`` of an executed notebook."""
    from nbkit.notebook import source_text
    from nbkit.runs.outcome import source_cells

    for number, cell in source_cells(dict(nb)):
        if number is not None and number == index:
            lines = source_text(cell).splitlines()
            shown = [f"| {line}" for line in lines[:4]]
            return shown + (["| …"] if len(lines) > 4 else [])
    return []


def execution_check(root: Path, original: Run, new_run: Run) -> tuple[Check, str] | None:
    """When the rerun failed and the run had not failed that way: the cell, its error and
    the likely cause."""
    old, new = original.manifest, new_run.manifest
    error = new.get("error")
    if new.get("status") == "succeeded" or not isinstance(error, dict):
        return None
    before = old.get("error") or {}
    if old.get("status") == new.get("status") and all(
        before.get(k) == error.get(k) for k in ("cell", "ename", "evalue")
    ):
        return None
    where = f"cell {error.get('cell')}" if error.get("cell") is not None else "the kernel"
    evalue = str(error.get("evalue") or "").splitlines()
    line = f"{where} failed: {error.get('ename')}: {evalue[0][:300] if evalue else ''}"
    source = _cell_source(executed_notebook(new_run.dir, new), error.get("cell"))
    return Check("execution", False, (line, *source)), failure_cause(root, error)


def metrics_check(old: Mapping[str, Any], new: Mapping[str, Any], tol: Tolerance) -> Check:
    old_m, new_m = old.get("metrics") or {}, new.get("metrics") or {}
    details, ok = [], True
    for name in sorted(set(old_m) | set(new_m)):
        a, b = old_m.get(name, "absent"), new_m.get(name, "absent")
        if name in old_m and name in new_m and values_equal(a, b, tol):
            details.append(f"{name} = {b!r} (matches)")
        else:
            ok = False
            details.append(f"{name}: {a!r} -> {b!r}")
    return Check("metrics", ok, tuple(details))


def _diff_line(diff: OutputDiff) -> str:
    return f"cell {diff.cell}: {diff.kind}: {diff.detail}" if diff.cell >= 0 else diff.detail


def outputs_check(comparison: OutputComparison) -> Check:
    volatile = tuple(_diff_line(d) for d in comparison.volatile)
    cells = tuple(
        Difference("cell", str(d.cell), d.kind, d.detail) for d in comparison.diffs if d.cell >= 0
    )
    if comparison.matched:
        line = (
            f"{comparison.outputs_compared} outputs in {comparison.cells_compared} code cells match"
        )
        if volatile:
            line += f" ({len(volatile)} only in volatile text)"
        return Check("outputs", True, (line,), volatile)
    lines = tuple(_diff_line(d) for d in comparison.diffs)
    return Check("outputs", False, lines, volatile, cells)


def executed_notebook(run_dir: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    from nbkit.notebook import read

    path = run_file(run_dir, manifest, "executed", "executed.ipynb")
    if not path.is_file():
        return {"cells": []}
    return read(path)
