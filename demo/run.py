"""`make demo`: nbkit end to end on a throwaway data-science repository.

Every step prints one line saying what it does, the commands it runs with their exit codes,
and what came of it. The demo stops (exit 1) at the first result that is not what a user
should see. Nothing outside a temporary folder is touched: git identity, HOME-level Jupyter
kernels and pre-commit's cache all live in the temp folder.
"""

from __future__ import annotations

import json
import os
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

LOCAL_HOOKS = """\
# The demo runs nbkit's hooks from this virtual environment (language: system) so it needs no
# network; a real project uses the published hooks written by `nbkit init`.
repos:
  - repo: local
    hooks:
      - id: nbkit
        name: nbkit (pair, sync, clean, validate)
        entry: nbkit hook nbkit
        language: system
        types_or: [jupyter, python, markdown]
        require_serial: true
      - id: nbkit-lock-check
        name: nbkit lock --check
        entry: nbkit lock --check
        language: system
        pass_filenames: false
        files: (requirements\\.in|requirements\\.lock|pyproject\\.toml|\\.ipynb|\\.py)$
"""


def set_up_environment(tmp: Path) -> None:
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["HOME"] = str(tmp / "home")
    (tmp / "home").mkdir()
    real_cache = Path(os.path.expanduser("~")).joinpath(".cache")
    os.environ.setdefault("UV_CACHE_DIR", str(real_cache / "uv"))  # warm cache from `make`
    os.environ["JUPYTER_DATA_DIR"] = str(tmp / "jupyter")
    os.environ["PRE_COMMIT_HOME"] = str(tmp / "pre-commit")
    os.environ["GIT_CONFIG_GLOBAL"] = str(tmp / "gitconfig")
    (tmp / "gitconfig").write_text(
        "[user]\n\tname = Dana Scientist\n\temail = dana@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nbkit-demo-") as tmp_name:
        tmp = Path(tmp_name)
        repo = tmp / "sales-forecast"
        repo.mkdir()
        real_home = os.path.expanduser("~")
        set_up_environment(tmp)
        os.environ.setdefault("UV_CACHE_DIR", os.path.join(real_home, ".cache", "uv"))
        demo(repo, tmp)
    print(
        f"\ndemo finished in {time.monotonic() - STARTED:.0f} s: every step gave the expected result"
    )
    return 0


def demo(repo: Path, tmp: Path) -> None:
    step(f"a new data-science repository: {repo}")
    sh("git", "init", "-q", "-b", "main", cwd=repo)

    step("nbkit init scaffolds config, hooks config, attributes and an experiment template")
    sh("nbkit", "init", cwd=repo)
    check((repo / "notebooks" / "experiment.ipynb").is_file(), "an experiment template")
    (repo / ".pre-commit-config.yaml").write_text(LOCAL_HOOKS)
    sh("pre-commit", "install", cwd=repo)
    sh("nbkit", "install", cwd=repo)

    step(
        "nbkit lock pins what the notebooks need (nbkit itself and ipykernel), offline from wheels and uv's cache"
    )
    wheels = tmp / "wheels"
    sh(
        str(BIN / "uv"),
        "build",
        "--wheel",
        "-q",
        "-o",
        str(wheels),
        str(CHECKOUT),
        cwd=repo,
        quiet=True,
    )
    (repo / "requirements.in").write_text("nbkit\nipykernel\n")
    lock = sh("nbkit", "lock", "--find-links", str(wheels), "--offline", cwd=repo, expect=None)
    if lock.returncode != 0:
        print("   (uv's cache lacks something: resolving against the package index instead)")
        sh("nbkit", "lock", "--find-links", str(wheels), cwd=repo)
    lock_text = (repo / "requirements.lock").read_text()
    check(
        "--hash=sha256:" in lock_text and "nbkit-input-sha256" in lock_text,
        "a hashed lock whose header records its input's digest",
    )

    step("nbkit env builds .venv exactly from the lock and registers its Jupyter kernel")
    sh("nbkit", "env", "--find-links", str(wheels), cwd=repo)
    kernel = sh("nbkit", "env", "--print-kernel", cwd=repo).stdout.strip()
    check(kernel.startswith("nbkit-"), f"a kernel named after the project and lock: {kernel}")
    t0 = time.monotonic()
    sh("nbkit", "env", cwd=repo, quiet=True)
    print(f"   a second nbkit env, nothing to do: {time.monotonic() - t0:.2f} s")

    step(
        "commit a notebook with outputs: the hooks pair, clean and validate it, and say what to re-add"
    )
    nb = repo / "notebooks" / "analysis.ipynb"
    nb.write_text(json.dumps(ANALYSIS, indent=2))
    (repo / ".gitignore").write_text(".venv/\n")
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
    page = tmp / "review.html"
    sh("nbkit", "review", "HEAD~3..HEAD", "-o", str(page), cwd=repo)
    check(page.is_file() and page.stat().st_size > 1000, f"a self-contained review page: {page}")

    step("run the experiment twice with different parameters; each run is recorded in the ledger")
    exp = "notebooks/experiment.ipynb"
    sh("nbkit", "run", "--help-notebook", exp, cwd=repo)
    first = sh("nbkit", "run", exp, "-p", "learning_rate=0.05", "--json", cwd=repo, quiet=True)
    run_a = json.loads(first.stdout)["id"]
    second = sh("nbkit", "run", exp, "-p", "learning_rate=0.2", "--json", cwd=repo, quiet=True)
    run_b = json.loads(second.stdout)["id"]
    print(f"   runs {run_a} and {run_b}")
    sh("nbkit", "runs", cwd=repo)

    step("compare the two runs; the --fail-if gate catches a worse score")
    sh("nbkit", "runs", "compare", run_a, run_b, cwd=repo, limit=24)
    gate = sh(
        "nbkit",
        "runs",
        "compare",
        run_a,
        run_b,
        "--fail-if",
        "score < base - 0.01",
        cwd=repo,
        expect=1,
        quiet=True,
    )
    show("\n".join(gate.stdout.splitlines()[-3:] + gate.stderr.splitlines()[-3:]))

    step("sweep a parameter grid on two worker processes")
    sh(
        "nbkit",
        "sweep",
        exp,
        "-p",
        "learning_rate=0.1,0.01",
        "-p",
        "seed=0,1",
        "--workers",
        "2",
        cwd=repo,
        limit=12,
    )

    step("months later: rerun the first run from its recorded commit, in a temporary worktree")
    sh("nbkit", "rerun", run_a, cwd=repo, limit=20)


def edit_cell(nb: Path, index: int, text: str) -> None:
    """Edit a cell and save the notebook the way Jupyter does (nbformat's writer)."""
    import nbformat

    data = nbformat.read(str(nb), as_version=4)
    data.cells[index].source = text
    nbformat.write(data, str(nb))


if __name__ == "__main__":
    sys.exit(main())
