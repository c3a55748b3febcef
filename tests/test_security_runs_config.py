"""A cloned repository cannot choose, by itself, where runs are written or sent.

Each test commits a project whose ``[runs]`` config names a place, clones it the way a user
would, and runs nbkit in the clone. ``artifacts`` naming anything but a folder inside the
repository is refused before any kernel starts (one line naming nbkit.toml, a hint, exit 2);
``mlflow`` from the repository is never followed: the run is recorded, one warning says the
setting was ignored. The user's own ``NBKIT_ARTIFACTS`` / ``NBKIT_MLFLOW`` is their consent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import assert_one_line_error, commit_all, git, run_nbkit
from tests.runs_helpers import experiment, kernel_name

__all__ = ["experiment", "kernel_name"]  # fixtures used by name

DEAD = "http://127.0.0.1:9"  # port 9 (discard): nothing listens on loopback


def _mine() -> dict[str, str]:
    """The environment without the user's own consent variables."""
    return {k: v for k, v in os.environ.items() if k not in ("NBKIT_ARTIFACTS", "NBKIT_MLFLOW")}


def _clone(origin: Path, tmp_path: Path, config: str) -> Path:
    (origin / "nbkit.toml").write_text(config)
    commit_all(origin, "config")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def _runs(clone: Path) -> set[str]:
    ledger = clone / ".nbkit" / "runs"
    return {p.name for p in ledger.iterdir() if p.name[0].isdigit()} if ledger.exists() else set()


def _nbkit(clone: Path, *args: str, **env: str) -> tuple[int, str]:
    proc = run_nbkit(*args, cwd=clone, env={**_mine(), **env})
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("ABSOLUTE", "outside the repository"),
        ("../evil", "outside the repository"),
        ("~/.config/evil", "outside the repository"),
        ("linked", "outside the repository"),
        (".git/evil", "inside .git"),
        ("FILE_URL", "a URL, which would receive your executed notebooks"),
        ("s3://attacker-bucket/loot", "a URL, which would receive your executed notebooks"),
    ],
)
def test_a_repository_store_outside_it_is_refused_before_any_kernel(
    repo: Path, tmp_path: Path, experiment: Callable[..., Path], where: str, needle: str
) -> None:
    evil = tmp_path / "evil"  # beside the clone: ../evil from inside it
    experiment("import nbkit\nnbkit.record('x', x)", params="x = 1")
    recorded = run_nbkit("run", "exp.ipynb", cwd=repo, env=_mine())  # a run to rerun, in git
    assert recorded.returncode == 0, recorded.stderr
    if where == "linked":  # a committed symlink that leads out of the repository
        (repo / "linked").symlink_to(evil)
    setting = {"ABSOLUTE": str(evil), "FILE_URL": evil.as_uri()}.get(where, where)
    clone = _clone(repo, tmp_path, f"[runs]\nartifacts = {setting!r}\n")
    [old] = _runs(clone)
    for args in (
        ("run", "exp.ipynb"),
        ("sweep", "exp.ipynb", "-p", "x=1,2"),
        ("rerun", old),
        ("runs", "push"),
        ("runs", "fetch"),
    ):
        code, out = _nbkit(clone, *args)
        assert code == 2, (args, out)
        assert_one_line_error(out, "nbkit.toml", needle, "[tool.nbkit.runs] artifacts")
        assert "say so: NBKIT_ARTIFACTS=" in out.splitlines()[-1]  # the hint line
    assert _runs(clone) == {old}  # no kernel started, nothing half-recorded
    assert not (clone / ".nbkit" / "runs" / "sweeps").exists()
    assert not evil.exists() and not (Path.home() / ".config" / "evil").exists()
    assert not (clone / ".git" / "evil").exists()


def test_consent_and_a_folder_inside_the_repository(
    repo: Path, tmp_path: Path, experiment: Callable[..., Path]
) -> None:
    outside = tmp_path / "team-store"
    experiment("import nbkit\nnbkit.record('x', x)", params="x = 1")
    clone = _clone(repo, tmp_path, f"[runs]\nartifacts = {str(outside)!r}\n")
    # the user's consent: the same value, set by them
    code, out = _nbkit(clone, "run", "exp.ipynb", NBKIT_ARTIFACTS=str(outside))
    assert code == 0, out
    [run_id] = _runs(clone)
    assert json.loads((outside / "runs" / f"{run_id}.json").read_text())
    # a folder inside the repository needs no consent; its writes stay confined
    (clone / "nbkit.toml").write_text('[runs]\nartifacts = "store"\n')
    (clone / ".gitignore").write_text("store/\n")
    commit_all(clone, "an in-repo store")
    code, out = _nbkit(clone, "run", "exp.ipynb")
    assert code == 0, out
    [second] = _runs(clone) - {run_id}
    assert json.loads((clone / "store" / "runs" / f"{second}.json").read_text())
    # a symlink inside that store leading out is not a way around: nothing runs
    escape = tmp_path / "escape"
    escape.mkdir()
    (clone / "store" / "objects").rename(tmp_path / "moved")
    (clone / "store" / "objects").symlink_to(escape)
    code, out = _nbkit(clone, "run", "exp.ipynb")
    assert code == 2, out
    assert_one_line_error(out, "the run artifact store store is not writable", "refusing to write")
    assert list(escape.iterdir()) == [] and _runs(clone) == {run_id, second}


@pytest.mark.parametrize("uri", [DEAD, "FILE"])
def test_a_repository_mlflow_setting_is_ignored_until_the_user_consents(
    repo: Path, tmp_path: Path, experiment: Callable[..., Path], uri: str
) -> None:
    tracking = tmp_path / "mlruns"  # outside the repository
    uri = tracking.as_uri() if uri == "FILE" else uri
    experiment("import nbkit\nnbkit.record('x', x)", params="x = 1")
    clone = _clone(repo, tmp_path, f"[runs]\nmlflow = {uri!r}\n")
    code, out = _nbkit(clone, "sweep", "exp.ipynb", "-p", "x=1,2")
    assert code == 0, out  # the runs are recorded: the export is not the run
    assert len(_runs(clone)) == 2
    warnings = [line for line in out.splitlines() if "warning:" in line]
    assert warnings == [
        f"nbkit: warning: the repository's [tool.nbkit.runs] mlflow = {uri!r} (nbkit.toml) "
        "was ignored: runs are recorded here, not sent to a server the repository names"
    ], out
    assert f"hint: to export there, say so: NBKIT_MLFLOW={uri}" in out
    assert "not exported to MLflow" not in out  # no export was attempted
    assert not tracking.exists()
    if uri != DEAD:
        return
    # consent: the user's own variable; the export is tried (the server is down)
    code, out = _nbkit(clone, "run", "exp.ipynb", NBKIT_MLFLOW=uri)
    assert code == 0, out
    assert f"is recorded but was not exported to MLflow at {uri}" in out
    code, out = _nbkit(clone, "run", "exp.ipynb", NBKIT_MLFLOW="none")
    assert code == 0 and "warning" not in out, out
