"""``nbkit rerun``: reproduce a recorded run and say whether, and if not why, it differs.

The recorded commit is checked out in a temporary ``git worktree`` (the user's tree and
index are never touched; the worktree is removed afterwards, on failure too), the stored
dirty patch is applied, input fingerprints are verified, the notebook is executed with the
recorded parameters as a new run whose ``parent`` is the original, and the two are compared:
status, metrics within tolerance, outputs cell by cell (images by pixels).

When outputs differ although inputs and environment are the same, the notebook is executed
once more: cells that differ between two identical executions are unseeded randomness.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import git
from nbkit.errors import BadInput, GitError
from nbkit.fsutil import atomic_write_bytes
from nbkit.runs.compare import (
    OutputComparison,
    OutputDiff,
    Tolerance,
    compare_outputs,
    values_equal,
)
from nbkit.runs.ledger import Ledger, Run, run_file

REPORT_FILE = "rerun.json"  # written next to the new run's manifest (which is write-once)
ENV_MODES = ("current", "locked")


@dataclass(frozen=True)
class RerunSettings:
    env: str = "current"  # "current": this environment; "locked": build it from the lock
    tolerance: Tolerance = field(default_factory=Tolerance)
    twice: bool = False  # always execute twice, to expose unseeded randomness
    timeout: float | None = None
    metrics_only: bool = False  # recorded metrics decide; outputs are reported, not required


@dataclass(frozen=True)
class Check:
    """One thing compared: ``ok`` and the lines that say what matched or differed."""

    name: str  # "inputs" | "environment" | "status" | "metrics" | "outputs" | "stability"
    ok: bool
    details: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()  # differences expected between runs (times, addresses)


@dataclass(frozen=True)
class RerunReport:
    original: str
    new_run: str | None
    reproduced: bool
    checks: tuple[Check, ...]
    causes: tuple[str, ...]  # likely causes of the differences, most likely first
    verdict: str = ""  # which level matched: "metrics reproduced; outputs reproduced"

    def to_json(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "new_run": self.new_run,
            "reproduced": self.reproduced,
            "verdict": self.verdict,
            "checks": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    "details": list(c.details),
                    "volatile": list(c.volatile),
                }
                for c in self.checks
            ],
            "causes": list(self.causes),
        }


# ---- the worktree ---------------------------------------------------------------------------


def _require_commit(root: Path, run: Run) -> str:
    commit = (run.manifest.get("git") or {}).get("commit")
    if not isinstance(commit, str) or not commit:
        raise BadInput(
            f"run {run.id} was recorded outside a git commit; there is nothing to check out",
            run.dir,
        )
    probe = git.run(root, "rev-parse", "-q", "--verify", f"{commit}^{{commit}}", check=False)
    if not probe.strip():
        raise BadInput(
            f"run {run.id} was recorded at commit {commit[:12]}, which no longer exists here "
            "(garbage-collected after a rebase or amend, or recorded in another clone)",
            run.dir,
            hint=f"fetch it (git fetch origin {commit}) or rerun in the clone that made it",
        )
    return commit


@contextlib.contextmanager
def worktree(root: Path, commit: str) -> Iterator[Path]:
    """A detached worktree at ``commit`` in a temp folder; removed however the block ends.

    The folder is under the repository's git directory: invisible to ``git status`` and
    on the same filesystem as the checkout (copies of inputs are cheap there).
    """
    parent = git.git_dir(root) / "nbkit-rerun"
    try:
        parent.mkdir(exist_ok=True)
        holder = Path(tempfile.mkdtemp(prefix="wt-", dir=parent))
    except OSError as exc:
        raise BadInput(f"cannot create a worktree: {exc.strerror or exc}", parent) from None
    path = holder / "worktree"
    try:
        try:  # hooks off: the user's post-checkout hook has no business in a temp tree
            git.run(
                root, "-c", "core.hooksPath=/dev/null",
                "worktree", "add", "--detach", "--quiet", str(path), commit,
            )  # fmt: skip
        except GitError as exc:
            problem = exc.message.split(": ", 1)[-1]
            raise BadInput(f"cannot create a worktree: {problem}", path) from None
        yield path
    finally:
        with contextlib.suppress(GitError):
            git.run(root, "worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(holder, ignore_errors=True)
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty: another rerun may be using it
        with contextlib.suppress(GitError):
            git.run(root, "worktree", "prune", check=False)


def _apply_patch(run: Run, tree: Path) -> str | None:
    """Apply the dirty patch recorded with the run; a line for the report, or None."""
    if not (run.manifest.get("git") or {}).get("dirty"):
        return None
    patch = run_file(run.dir, run.manifest, "patch", "dirty.patch")
    if not patch.is_file():
        return "the run was dirty and its patch is missing: rerunning the commit alone"
    try:
        git.run(tree, "apply", "--whitespace=nowarn", str(patch.resolve()))
    except GitError as exc:
        raise BadInput(f"the recorded dirty patch does not apply: {exc.message}", patch) from None
    untracked = (run.manifest.get("git") or {}).get("untracked") or []
    if untracked:
        return f"applied the recorded uncommitted changes (untracked: {', '.join(untracked)})"
    return "applied the recorded uncommitted changes"


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
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


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

    changed, missing, same = [], [], 0
    recorded = recorded_files(manifest)
    for rel, digest in sorted(recorded.project.items()):
        outside = os.path.isabs(rel)  # a declared input outside the project: checked in place
        target = Path(rel) if outside else tree / project_path(rel, manifest, "input")
        if not outside and not target.exists() and (root / rel).is_file():
            _copy_in(root / rel, target)
        if not target.is_file():
            missing.append(rel)
        elif sha256_file(target)[1] != digest:
            changed.append(rel)
        else:
            same += 1
    details = [f"changed: {p}" for p in changed] + [f"missing: {p}" for p in missing]
    if same:
        details.append(f"{same} input file{'s' if same != 1 else ''} unchanged")
    details += [f"not checked: {p} (changed during the run)" for p in recorded.unknown]
    return Check("inputs", not changed and not missing, tuple(details))


def outside_check(manifest: Mapping[str, Any]) -> Check | None:
    """Files the run read outside the project, checked where they are (None: there were
    none). Nothing is copied: they are the machine's, not the project's."""
    from nbkit.runs.manifest import sha256_file

    outside = recorded_files(manifest).outside
    if not outside:
        return None
    changed, missing = [], []
    for path, digest in sorted(outside.items()):
        try:
            if sha256_file(Path(path))[1] != digest:
                changed.append(path)
        except OSError:
            missing.append(path)
    details = [f"changed: {p}" for p in changed] + [f"missing: {p}" for p in missing]
    same = len(outside) - len(details)
    if same:
        details.append(f"{same} file{'s' if same != 1 else ''} outside the project unchanged")
    return Check("outside", not changed and not missing, tuple(details))


# ---- comparisons ----------------------------------------------------------------------------


def _kernel(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    kernel = manifest.get("kernel")
    return kernel if isinstance(kernel, dict) else {}


def _python(manifest: Mapping[str, Any]) -> Any:
    kernel = _kernel(manifest)
    return kernel.get("python", kernel.get("python_version"))


def environment_check(old: Mapping[str, Any], new: Mapping[str, Any]) -> Check:
    """Python version and package versions of the original kernel and of the rerun's.

    A different kernel name is mentioned but is not a difference by itself: what runs the
    code is the interpreter and its packages.
    """
    diffs: list[str] = []
    old_py, new_py = _python(old), _python(new)
    if old_py != new_py:
        diffs.append(f"python {old_py} -> {new_py}")
    old_pk = _kernel(old).get("packages") or {}
    new_pk = _kernel(new).get("packages") or {}
    for name in sorted(set(old_pk) | set(new_pk)):
        if old_pk.get(name) != new_pk.get(name):
            diffs.append(f"{name} {old_pk.get(name, 'absent')} -> {new_pk.get(name, 'absent')}")
    details = diffs or [f"python {new_py} and {len(new_pk)} packages as recorded"]
    old_name, new_name = _kernel(old).get("name"), _kernel(new).get("name")
    if old_name != new_name:
        details.append(f"kernel {old_name} -> {new_name}")
    return Check("environment", not diffs, tuple(details))


def variables_check(old: Mapping[str, Any], new: Mapping[str, Any]) -> Check:
    """Environment variables that steer numerics or data (``manifest.numeric_env`` and the
    ones ``[tool.nbkit.runs] env`` declares): a difference explains, it does not fail."""
    before, after = old.get("env") or {}, new.get("env") or {}
    diffs = [
        f"{key} {before.get(key, 'unset')} -> {after.get(key, 'unset')}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
    if diffs:
        return Check("variables", False, tuple(diffs))
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
    source = _cell_source(_executed(new_run.dir, new), error.get("cell"))
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
    if comparison.matched:
        line = (
            f"{comparison.outputs_compared} outputs in {comparison.cells_compared} code cells match"
        )
        if volatile:
            line += f" ({len(volatile)} only in volatile text)"
        return Check("outputs", True, (line,), volatile)
    return Check("outputs", False, tuple(_diff_line(d) for d in comparison.diffs), volatile)


def _executed(run_dir: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    from nbkit.notebook import read

    path = run_file(run_dir, manifest, "executed", "executed.ipynb")
    if not path.is_file():
        return {"cells": []}
    return read(path)


# ---- the rerun ------------------------------------------------------------------------------


def _kernel_for(tree: Path, manifest: Mapping[str, Any], settings: RerunSettings) -> str | None:
    """The kernel to rerun with: the locked environment's, or the recorded one if it is
    still installed, else nbkit's usual choice."""
    if settings.env == "locked":
        return _locked_kernel(tree, manifest)
    from nbkit.runs import kernels

    name = _kernel(manifest).get("name")
    if name == kernels.CURRENT or (isinstance(name, str) and name in kernels.installed()):
        return str(name)
    return None


def _env_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nbkit" / "envs"


def _locked_kernel(tree: Path, manifest: Mapping[str, Any]) -> str:
    """Build (or reuse) the environment locked at the run's commit; its kernel's name.

    The venv lives in a cache keyed by the lock's hash, outside the temporary worktree, so
    the next rerun at any commit with the same lock reuses it.
    """
    from nbkit import config
    from nbkit.env import lockfile
    from nbkit.env import venv as env
    from nbkit.env.requirements import settings

    s = settings(config.load(tree))
    lock = lockfile.read(s.lock_path)
    if lock is None:
        raise BadInput(
            f"--env locked: the run's commit has no environment lock ({s.lock})",
            str(manifest.get("id", "")),
            hint="rerun with --env current; the report names any package drift",
        )
    result = env.ensure(s, _env_cache() / lock.hash[:16])
    return result.kernel


def _execute(ledger: Ledger, request: Any) -> Run:
    """Execute into a new run folder of the user's ledger (not the worktree's)."""
    from nbkit.runs.execute import EXECUTED, execute_to_dir

    run_id, run_dir = ledger.new_run_dir()
    try:
        manifest = execute_to_dir(request, run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # no manifest: not a run
        raise
    return ledger.write(run_id, manifest, run_dir / EXECUTED)


def _second_execution(request: Any) -> dict[str, Any]:
    """The same execution again, outside the ledger: only its outputs are needed."""
    from nbkit.runs.execute import execute_to_dir

    with tempfile.TemporaryDirectory(prefix="nbkit-rerun2-") as tmp:
        manifest = execute_to_dir(request, Path(tmp))
        return {"manifest": manifest, "nb": _executed(Path(tmp), manifest)}


def _input_causes(checks: Mapping[str, Check]) -> list[str]:
    causes = []
    if not checks["inputs"].ok:
        names = [
            d.split(": ", 1)[1]
            for d in checks["inputs"].details
            if d.startswith(("changed", "missing"))
        ]
        causes.append(f"changed inputs: {', '.join(names)}")
    outside = checks.get("outside")
    if outside is not None and not outside.ok:
        names = [d.split(": ", 1)[1] for d in outside.details if ": " in d]
        causes.append(f"changed files outside the project: {', '.join(names)}")
    return causes


def _environment_causes(checks: Mapping[str, Check]) -> list[str]:
    causes = []
    env = checks["environment"]
    if not env.ok:
        python = [d for d in env.details if d.startswith("python ")]
        packages = [d for d in env.details if not d.startswith(("python ", "kernel "))]
        if python:
            causes.append(f"different Python: {python[0].removeprefix('python ')}")
        if packages:
            more = f" (+{len(packages) - 3} more)" if len(packages) > 3 else ""
            causes.append(f"package drift: {'; '.join(packages[:3])}{more}")
    variables = checks.get("variables")
    if variables is not None and not variables.ok:
        causes.append(f"different environment variables: {'; '.join(variables.details)}")
    return causes


def _randomness_cause(stability: Check | None) -> list[str]:
    if stability is None or stability.ok:
        return []
    cells = [d.split(":")[0].removeprefix("cell ") for d in stability.details]
    cells = list(dict.fromkeys(c for c in cells if c.isdigit()))  # once per cell
    which = f"cell {cells[0]} differs" if len(cells) == 1 else f"cells {', '.join(cells)} differ"
    return [
        f"unseeded randomness: {which} between two executions with the same inputs and environment"
    ]


def _unexplained(checks: Mapping[str, Check]) -> str:
    """The last resort, with what could not be checked."""
    unchecked = [
        d.removeprefix("not checked: ")
        for d in checks["inputs"].details
        if d.startswith("not checked: ")
    ]
    unchecked += [
        "files read by native code outside the project",
        "the clock",
        "the network",
        "the hardware",
    ]
    return (
        "unexplained: inputs, environment and repeated executions agree; not checked: "
        + ", ".join(unchecked)
    )


def _causes(
    checks: dict[str, Check], stability: Check | None, failure: str | None = None
) -> list[str]:
    """The likely reasons a rerun differed, most specific first; each said once."""
    causes: list[str] = []
    if not checks["notebook"].ok:
        causes.append("the notebook checked out is not the one that ran")
    if failure:
        causes.append(failure)
    causes += _input_causes(checks)
    causes += _environment_causes(checks)
    causes += _randomness_cause(stability)
    if not causes:
        causes.append(_unexplained(checks))
    return list(dict.fromkeys(causes))


def _request(tree: Path, original: Run, commit: str, settings: RerunSettings) -> Any:
    """The original run's request, pointed at the worktree."""
    from nbkit.runs.execute import RunRequest

    old = original.manifest
    return RunRequest(
        notebook=tree / str(old.get("notebook")),
        root=tree,
        parameters=dict(old.get("parameters") or {}),
        kernel=_kernel_for(tree, old, settings),
        timeout=settings.timeout if settings.timeout is not None else old.get("timeout"),
        allow_dirty=True,  # the applied patch and copied inputs are the recorded state
        allow_unknown=True,  # the recorded parameters were accepted when it ran
        inputs=tuple(e["path"] for e in old.get("inputs") or [] if "path" in e),
        commit=commit,
        parent=original.id,
    )


def _compare(original: Run, new_run: Run, settings: RerunSettings) -> dict[str, Check]:
    old, new = original.manifest, new_run.manifest
    outputs = compare_outputs(
        _executed(original.dir, old), _executed(new_run.dir, new), settings.tolerance
    )
    status = (f"{old.get('status')} -> {new.get('status')}",)
    return {
        "environment": environment_check(old, new),
        "variables": variables_check(old, new),
        "status": Check("status", old.get("status") == new.get("status"), status),
        "metrics": metrics_check(old, new, settings.tolerance),
        "outputs": outputs_check(outputs),
    }


def _stability(request: Any, new_run: Run, settings: RerunSettings) -> Check:
    """Execute once more and compare with the first rerun: what differs is randomness."""
    again = _second_execution(request)
    first = _executed(new_run.dir, new_run.manifest)
    found = outputs_check(compare_outputs(first, again["nb"], settings.tolerance))
    return Check("stability", found.ok, found.details)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def verdict(checks: Mapping[str, Check], settings: RerunSettings) -> str:
    """Which level matched, in order of importance: status, recorded metrics, outputs."""
    parts = []
    if not checks["status"].ok:
        parts.append(f"status {checks['status'].details[0]}")
    metrics = checks["metrics"]
    if not metrics.details:
        parts.append("no metrics recorded")
    elif metrics.ok:
        parts.append(f"{_plural(len(metrics.details), 'metric')} reproduced")
    else:
        wrong = sum(1 for d in metrics.details if not d.endswith("(matches)"))
        parts.append(f"{_plural(wrong, 'metric')} differ{'s' if wrong == 1 else ''}")
    outputs = checks["outputs"]
    volatile = len(outputs.volatile)
    if not outputs.ok:
        extra = " (not required: --metrics-only)" if settings.metrics_only else ""
        parts.append(f"outputs differ{extra}")
    elif volatile:
        verb = "differs" if volatile == 1 else "differ"
        parts.append(f"{_plural(volatile, 'output')} {verb} only in volatile text")
    else:
        parts.append("outputs reproduced")
    return "; ".join(parts)


def rerun(ledger: Ledger, run_id: str, settings: RerunSettings) -> RerunReport:
    """Reproduce ``run_id`` in a temporary worktree and report what matched and why not."""
    if settings.env not in ENV_MODES:
        raise BadInput(f"unknown environment mode {settings.env!r}", "--env")
    original = ledger.get(run_id)
    if settings.metrics_only and not original.manifest.get("metrics"):
        raise BadInput(
            f"--metrics-only: run {original.id} recorded no metrics to compare",
            original.dir,
            hint="rerun without --metrics-only to compare its outputs",
        )
    root = ledger.root.resolve()
    commit = _require_commit(root, original)
    top = git.toplevel(root) or root
    with worktree(root, commit) as tree:
        note = _apply_patch(original, tree)
        project = tree / root.relative_to(top.resolve())  # nbkit.toml may be in a subfolder
        checks = {
            "notebook": notebook_check(project, original.manifest),
            "inputs": verify_inputs(root, project, original.manifest),
        }
        outside = outside_check(original.manifest)
        if outside is not None:
            checks["outside"] = outside
        request = _request(project, original, commit, settings)
        new_run = _execute(ledger, request)
        if new_run.status == "interrupted":  # Ctrl-C reached the kernel: stop (exit 130)
            raise KeyboardInterrupt
        checks.update(_compare(original, new_run, settings))
        failed = execution_check(root, original, new_run)
        if failed is not None:
            checks["execution"] = failed[0]
        required = (
            ("status", "metrics") if settings.metrics_only else ("status", "metrics", "outputs")
        )
        differs = not all(checks[k].ok for k in required)
        context = ("notebook", "inputs", "outside", "environment", "variables")
        explained = failed is not None or not all(checks[k].ok for k in context if k in checks)
        stability = None
        if settings.twice or (differs and not explained):
            stability = _stability(request, new_run, settings)
    stable = stability is None or stability.ok or settings.metrics_only
    reproduced = checks["inputs"].ok and not differs and stable
    listed = [*checks.values(), *([stability] if stability else [])]
    patch_lost = note is not None and not note.startswith("applied")
    if note:
        listed.insert(0, Check("commit", not patch_lost, (commit[:12], note)))
    causes = [] if reproduced else _causes(checks, stability, failed[1] if failed else None)
    if patch_lost and not reproduced:
        causes.insert(0, "the run's uncommitted changes were not stored with it")
    report = RerunReport(
        original.id, new_run.id, reproduced, tuple(listed), tuple(causes), verdict(checks, settings)
    )
    data = json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(new_run.dir / REPORT_FILE, data.encode("utf-8"))
    return report
