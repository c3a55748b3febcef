"""``nbkit rerun``: reproduce a recorded run and say whether, and if not why, it differs.

The recorded commit is checked out in a temporary ``git worktree`` (the user's tree and
index are never touched; the worktree is removed afterwards, on failure too), the stored
dirty patch is applied, input fingerprints are verified, the notebook is executed with the
recorded parameters as a new run whose ``parent`` is the original, and the two are compared:
status, metrics within tolerance, outputs cell by cell (images by pixels).

When outputs differ although inputs and environment are the same, the notebook is executed
once more: cells that differ between two identical executions are unseeded randomness.
The checks live in ``runs/checks.py``; the verdict line and likely causes in
``runs/verdict.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbkit import git
from nbkit.errors import BadInput, GitError
from nbkit.fsutil import atomic_write_bytes
from nbkit.runs import artifacts
from nbkit.runs.checks import (
    Check,
    environment_check,
    executed_notebook,
    execution_check,
    kernel_of,
    metrics_check,
    notebook_check,
    outputs_check,
    outside_check,
    variables_check,
    verify_inputs,
)
from nbkit.runs.compare import (
    Tolerance,
    compare_outputs,
)
from nbkit.runs.ledger import Ledger, Run, run_file
from nbkit.runs.verdict import likely_causes, verdict

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
                    "differences": [dataclasses.asdict(d) for d in c.differences],
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


# ---- the rerun ------------------------------------------------------------------------------


def _kernel_for(tree: Path, manifest: Mapping[str, Any], settings: RerunSettings) -> str | None:
    """The kernel to rerun with: the locked environment's, or the recorded one if it is
    still installed, else nbkit's usual choice."""
    if settings.env == "locked":
        return _locked_kernel(tree, manifest)
    from nbkit.runs import kernels

    name = kernel_of(manifest).get("name")
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
    from nbkit.env.settings import settings

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
        return {"manifest": manifest, "nb": executed_notebook(Path(tmp), manifest)}


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
        executed_notebook(original.dir, old),
        executed_notebook(new_run.dir, new),
        settings.tolerance,
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
    first = executed_notebook(new_run.dir, new_run.manifest)
    found = outputs_check(compare_outputs(first, again["nb"], settings.tolerance))
    return Check("stability", found.ok, found.details, differences=found.differences)


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
    artifacts.check_writable(root, ledger.store)  # before any kernel: results need a place
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
    failure = failed[1] if failed else None
    causes = [] if reproduced else likely_causes(checks, stability, original.manifest, failure)
    if patch_lost and not reproduced:
        causes.insert(0, "the run's uncommitted changes were not stored with it")
    report = RerunReport(
        original.id,
        new_run.id,
        reproduced,
        tuple(listed),
        tuple(causes),
        verdict(checks, settings.metrics_only),
    )
    data = json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(new_run.dir / REPORT_FILE, data.encode("utf-8"))
    return report
