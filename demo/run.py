"""`make demo`: the README's path, literally, on a throwaway data-science project.

A clone of this repository; a fresh project with its own venv and nbkit installed from the
clone; the exact .pre-commit-config.yaml `nbkit init` writes, with real `pre-commit install`
and real commits; `nbkit env` in its default place; the template experiment recording with
`nbkit.record` in the locked kernel; a teammate's clone pulling the runs. Every step prints
what it does, the commands with their exit codes, and what came of it; the demo stops (exit
1) at the first result that is not what a user should see. Nothing outside a temporary folder
is touched: git identity, Jupyter kernels and pre-commit's cache live there (uv's package
cache is shared, so installs are quick after the first time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTED = time.monotonic()
STEP = 0


def step(title: str) -> None:
    global STEP
    STEP += 1
    print(f"\n[{STEP:2}] {title}  ({time.monotonic() - STARTED:.0f} s)", flush=True)


def show(text: str, limit: int = 14) -> None:
    lines = text.rstrip().splitlines()
    for line in lines[:limit]:
        print(f"     {line}")
    if len(lines) > limit:
        print(f"     ... ({len(lines) - limit} more lines)")


def sh(
    *cmd: str, cwd: Path, expect: int | None = 0, quiet: bool = False, limit: int = 14
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    shown = " ".join(c if " " not in c else repr(c) for c in cmd)
    print(f"   $ {shown}   -> exit {proc.returncode}", flush=True)
    if not quiet:
        show(proc.stdout + proc.stderr, limit)
    if expect is not None and proc.returncode != expect:
        if quiet:
            show(proc.stdout + proc.stderr, 40)
        sys.exit(f"demo: step {STEP}: '{shown}' exited {proc.returncode}, expected {expect}")
    return proc


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"demo: step {STEP}: expected {what}")
    print(f"   ok: {what}")


def nb_cells(path: Path) -> list[dict[str, object]]:
    cells: list[dict[str, object]] = json.loads(path.read_text())["cells"]
    return cells


def source(cell: dict[str, object]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)  # type: ignore[arg-type]


ANALYSIS = {
    "cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Weekly sales\n"},
        {
            "cell_type": "code",
            "id": "load",
            "metadata": {"ExecuteTime": {"end": "2026-11-02"}},
            "execution_count": 12,
            "source": "sales = [12, 15, 9, 21]\n",
            "outputs": [],
        },
        {
            "cell_type": "code",
            "id": "total",
            "metadata": {"scrolled": True},
            "execution_count": 13,
            "source": "print(sum(sales))\n",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "57\n"}],
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def clean_path() -> str:
    """PATH without the make venv: the project's own venv is what the user activates."""
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != BIN]
    return os.pathsep.join(keep)


def set_up_environment(tmp: Path) -> None:
    real_cache = Path(os.path.expanduser("~")).joinpath(".cache")
    os.environ.setdefault("UV_CACHE_DIR", str(real_cache / "uv"))  # warm cache from `make`
    os.environ["PATH"] = clean_path()
    os.environ.pop("VIRTUAL_ENV", None)
    os.environ["HOME"] = str(tmp / "home")
    (tmp / "home").mkdir()
    os.environ["JUPYTER_DATA_DIR"] = str(tmp / "jupyter")
    os.environ["PRE_COMMIT_HOME"] = str(tmp / "pre-commit")
    os.environ["GIT_CONFIG_GLOBAL"] = str(tmp / "gitconfig")
    (tmp / "gitconfig").write_text(
        "[user]\n\tname = Dana Scientist\n\temail = dana@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )


def activate(venv: Path) -> None:
    """`. .venv/bin/activate`: this project's venv first on PATH."""
    os.environ["PATH"] = f"{venv / 'bin'}{os.pathsep}{clean_path()}"
    os.environ["VIRTUAL_ENV"] = str(venv)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nbkit-demo-") as tmp_name:
        tmp = Path(tmp_name)
        set_up_environment(tmp)
        demo(tmp)
    print(
        f"\ndemo finished in {time.monotonic() - STARTED:.0f} s: every step gave the expected result"
    )
    return 0


def install_nbkit(project: Path, clone: Path) -> None:
    """README: `python -m venv .venv && . .venv/bin/activate`, `pip install '../nbkit[all]'`."""
    print("   (uv stands in for `python -m venv` and `pip install`: the same install, faster)")
    assert clone == project.parent / "nbkit"  # the README's ../nbkit
    uv = str(BIN / "uv")
    sh(uv, "venv", "-q", "--python", sys.executable, ".venv", cwd=project)
    python = ".venv/bin/python"
    sh(uv, "pip", "install", "-q", "--python", python, "../nbkit[all]", cwd=project, quiet=True)
    activate(project / ".venv")
    (project / ".gitignore").write_text(".venv/\n")


def demo(tmp: Path) -> None:
    print(
        "network: only the package index is reached (uv's cache usually answers); a local"
        " folder stands in for the git server the teammate pulls from"
    )
    step("clone nbkit beside the project, as the README does: git clone <this repository> ../nbkit")
    clone = tmp / "nbkit"
    sh("git", "clone", "-q", str(CHECKOUT), str(clone), cwd=tmp)
    head = sh("git", "rev-parse", "HEAD", cwd=clone, quiet=True).stdout.strip()
    if sh("git", "status", "--porcelain", cwd=CHECKOUT, quiet=True).stdout.strip():
        print("   note: the checkout has uncommitted changes; the clone (and the demo) has HEAD")
    print(f"   nbkit at {head[:12]}")

    repo = tmp / "sales-forecast"
    repo.mkdir()
    step(f"a new data-science project with its own venv, nbkit installed from the clone: {repo}")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    install_nbkit(repo, clone)
    sh("nbkit", "--version", cwd=repo)
    where = shutil.which("nbkit")
    check(where == str(repo / ".venv" / "bin" / "nbkit"), "nbkit runs from the project's venv")

    step("nbkit init: config, a pre-commit config that installs this very nbkit, an experiment")
    sh("nbkit", "init", cwd=repo)
    config = (repo / ".pre-commit-config.yaml").read_text()
    show("\n".join(line for line in config.splitlines() if not line.startswith("#")))
    check(
        f'repo: "{clone}"' in config and f"rev: {head}" in config,
        "the hooks come from the clone at its HEAD commit",
    )
    sh("pre-commit", "install", cwd=repo)
    sh("nbkit", "install", cwd=repo)

    step("first commit: pre-commit builds the hook env from the clone; the hook pairs the template")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "nbkit", cwd=repo, expect=1)
    check((repo / "notebooks" / "experiment.py").is_file(), "notebooks/experiment.py paired")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "nbkit", cwd=repo)

    commits(repo)
    environment(repo)
    experiments(repo)
    teammate(tmp, repo, clone)


def commits(repo: Path) -> None:
    step(
        "commit a notebook with outputs: the hooks pair, clean and validate it, and say what to re-add"
    )
    nb = repo / "notebooks" / "analysis.ipynb"
    nb.write_text(json.dumps(ANALYSIS, indent=2))
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "analysis", cwd=repo, expect=1)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "analysis", cwd=repo)
    check((repo / "notebooks" / "analysis.py").is_file(), "the paired script notebooks/analysis.py")
    cells = nb_cells(nb)
    check(all(c.get("outputs", []) == [] for c in cells), "no outputs committed")
    check([c["id"] for c in cells] == ["title", "load", "total"], "cell ids unchanged")

    step("edit the script in an editor; nbkit sync brings the notebook along (the hooks would too)")
    script = repo / "notebooks" / "analysis.py"
    script.write_text(
        script.read_text().replace("sales = [12, 15, 9, 21]", "sales = [12, 15, 9, 21, 30]")
    )
    sh("nbkit", "sync", cwd=repo)
    check("30]" in source(nb_cells(nb)[1]), "the notebook's cell now has the script's edit")
    sh("git", "commit", "-q", "-am", "one more week", cwd=repo)

    step("edit both sides differently: sync refuses, writes nothing, and names the way out")
    script.write_text(script.read_text().replace("print(sum(sales))", "print(max(sales))"))
    edit_cell(nb, 2, "print(min(sales))\n")
    before = (nb.read_bytes(), script.read_bytes())
    sh("nbkit", "sync", cwd=repo, expect=1)
    check((nb.read_bytes(), script.read_bytes()) == before, "neither file was touched")
    sh("nbkit", "sync", "--prefer", "script", str(nb.relative_to(repo)), cwd=repo)
    check("max(sales)" in source(nb_cells(nb)[2]), "--prefer script settled it")
    sh("git", "commit", "-q", "-am", "max", cwd=repo)

    step("two branches edit different cells; git merges the notebook through nbkit's driver")
    sh("git", "checkout", "-q", "-b", "forecast", cwd=repo)
    edit_cell(nb, 1, "sales = [12, 15, 9, 21, 30, 28]\n")
    sh("nbkit", "sync", cwd=repo, quiet=True)
    sh("git", "commit", "-q", "-am", "forecast: another week", cwd=repo)
    sh("git", "checkout", "-q", "main", cwd=repo)
    edit_cell(nb, 0, "# Weekly sales (audited)\n")
    sh("nbkit", "sync", cwd=repo, quiet=True)
    sh("git", "commit", "-q", "-am", "main: audited title", cwd=repo)
    sh("git", "merge", "--no-edit", "-q", "forecast", cwd=repo)
    cells = nb_cells(nb)
    check(
        "audited" in source(cells[0]) and "28]" in source(cells[1]),
        "both edits in the merged notebook",
    )
    sh("nbkit", "validate", str(nb.relative_to(repo)), cwd=repo)

    step("review the merged branch as a pull request: Markdown for the PR comment, an HTML page")
    sh("nbkit", "review", "main~1...forecast", "--format", "markdown", cwd=repo, limit=18)
    page = repo.parent / "review.html"
    sh("nbkit", "review", "HEAD~3..HEAD", "-o", str(page), cwd=repo)
    check(page.is_file() and page.stat().st_size > 1000, f"a self-contained review page: {page}")


def environment(repo: Path) -> None:
    step("nbkit lock pins what the notebooks need: ipykernel (nbkit.record needs no nbkit there)")
    (repo / "requirements.in").write_text("ipykernel\n")
    sh("nbkit", "lock", cwd=repo)
    lock = repo / "requirements.lock"
    pins = [line for line in lock.read_text().splitlines() if "==" in line]
    check(
        "--hash=sha256:" in lock.read_text() and not any(p.startswith("nbkit") for p in pins),
        f"a hashed lock of {len(pins)} packages, nbkit not among them",
    )
    sh("nbkit", "lock", "--check", cwd=repo)
    print("   ok: the template's `import nbkit` is not reported as undeclared")

    step("nbkit env builds the run environment in .nbkit/envs/<lock hash>, never in .venv")
    sh("nbkit", "env", cwd=repo)
    kernel = sh("nbkit", "env", "--print-kernel", cwd=repo).stdout.strip()
    check(
        kernel.startswith("nbkit-sales-forecast-"),
        f"a kernel named after project and lock: {kernel}",
    )
    envs = [p for p in (repo / ".nbkit" / "envs").iterdir() if p.is_dir()]
    check(
        len(envs) == 1 and envs[0].name.startswith(kernel.rsplit("-", 1)[1]),
        f"the environment {envs[0].relative_to(repo)}",
    )
    sh("nbkit", "--version", cwd=repo, quiet=True)
    sh("pre-commit", "--version", cwd=repo, quiet=True)
    print("   ok: nbkit and pre-commit are still installed in .venv")
    t0 = time.monotonic()
    again = sh("nbkit", "env", cwd=repo, quiet=True)
    took = time.monotonic() - t0
    check(
        "already matches the lock" in again.stdout,
        f"a second nbkit env does nothing ({took:.2f} s)",
    )
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "lock", cwd=repo)
    status = sh("git", "status", "--porcelain", cwd=repo, quiet=True).stdout
    check(status == "", "a clean tree (.nbkit/envs is git-ignored)")


def experiments(repo: Path) -> None:
    step("run the template experiment twice in the locked kernel; nbkit.record fills the ledger")
    exp = "notebooks/experiment.ipynb"
    kernel = sh("nbkit", "env", "--print-kernel", cwd=repo, quiet=True).stdout.strip()
    sh("nbkit", "run", "--help-notebook", exp, cwd=repo)
    ids = []
    for rate in ("0.05", "0.2"):
        proc = sh(
            "nbkit", "run", exp, "-p", f"learning_rate={rate}", "--json", cwd=repo, quiet=True
        )
        manifest = json.loads(proc.stdout)
        check(
            manifest["kernel"]["name"] == kernel and "score" in manifest["metrics"],
            f"run {manifest['id']}: kernel {kernel}, score {manifest['metrics'].get('score')}",
        )
        ids.append(manifest["id"])
    sh("nbkit", "runs", cwd=repo)

    step("compare the two runs; the --fail-if gate catches a worse score")
    sh("nbkit", "runs", "compare", *ids, cwd=repo, limit=24)
    gate = sh(
        "nbkit",
        "runs",
        "compare",
        *ids,
        "--fail-if",
        "score < base - 0.01",
        cwd=repo,
        expect=1,
        quiet=True,
    )
    show("\n".join(gate.stdout.splitlines()[-3:] + gate.stderr.splitlines()[-3:]))

    step("sweep a parameter grid on two worker processes")
    grid = ["-p", "learning_rate=0.1,0.01", "-p", "seed=0,1", "--workers", "2"]
    sh("nbkit", "sweep", exp, *grid, cwd=repo, limit=12)

    step("months later: rerun the first run from its recorded commit, in a temporary worktree")
    sh("nbkit", "rerun", ids[0], cwd=repo, limit=20)
    sh("git", "add", ".nbkit/runs", cwd=repo)
    sh("git", "commit", "-q", "-m", "runs", cwd=repo)


def run_count(repo: Path) -> int:
    listed = sh("nbkit", "runs", "--json", cwd=repo, quiet=True).stdout
    return len([line for line in listed.splitlines() if line.strip()])


def teammate(tmp: Path, repo: Path, clone: Path) -> None:
    step("a teammate clones the project, installs nbkit the same way, and sees the team's runs")
    mate = tmp / "teammate"
    sh("git", "clone", "-q", str(repo), str(mate), cwd=tmp)
    install_nbkit(mate, clone)
    sh("pre-commit", "install", cwd=mate)
    sh("nbkit", "install", cwd=mate)
    runs = run_count(repo)
    check(run_count(mate) == runs, f"the teammate lists the same {runs} runs")

    step("Dana records one more run; the teammate pulls it, with nothing left to commit")
    activate(repo / ".venv")
    sh("nbkit", "run", "notebooks/experiment.ipynb", "-p", "seed=7", cwd=repo)
    sh("git", "add", ".nbkit/runs", cwd=repo)
    sh("git", "commit", "-q", "-m", "one more run", cwd=repo)
    activate(mate / ".venv")
    sh("git", "pull", "-q", "--no-rebase", cwd=mate)
    check(run_count(mate) == runs + 1, f"the teammate now lists {runs + 1} runs")
    status = sh("git", "status", "--porcelain", cwd=mate, quiet=True).stdout
    check(status == "", "the pull left nothing to commit")


def edit_cell(nb: Path, index: int, text: str) -> None:
    """Edit a cell and save the notebook the way Jupyter does (nbformat's writer)."""
    import nbformat

    data = nbformat.read(str(nb), as_version=4)
    data.cells[index].source = text
    nbformat.write(data, str(nb))


if __name__ == "__main__":
    sys.exit(main())
