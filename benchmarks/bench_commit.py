"""The typical commit: five clean, paired notebooks of ~30 cells go through the hooks.

nbkit runs what pre-commit runs, its real entry point ``nbkit hook nbkit FILES...`` (pair,
sync, clean and validate in one process); the usual alternative runs ``jupytext --sync`` and
``nbstripout --verify``. Both sides start from the same committed repository, in jupytext's
round-trip fixed point, so neither has anything to change. Each row's two sides alternate.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import corpus
from benchmarks.harness import (
    VENV_BIN,
    Row,
    Settings,
    Target,
    command,
    committed_repo,
    exit_note,
    measure_pair,
    restore_tree,
    tool,
    unavailable,
)

FAMILY = "commit"
TARGET = Target(">= 10x", min_ratio=10)


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    source = corpus.paired_set(settings.corpus_root, count=5, cells=30)
    repo = committed_repo(source, settings.work / "commit")
    setup = restore_tree(source, repo)
    nbs = [p.name for p in sorted(repo.glob("*.ipynb"))]
    pys = [p.replace(".ipynb", ".py") for p in nbs]
    nbkit = VENV_BIN / "nbkit"
    stripout, jupytext = tool("nbstripout"), tool("jupytext")
    if stripout is None or jupytext is None:
        return [unavailable(FAMILY, "5 paired notebooks", "nbstripout or jupytext missing", TARGET)]
    verify = [stripout, "--verify", "--keep-id", *nbs]
    rows: list[Row] = []
    clean_only, strip_only = measure_pair(
        command("nbkit hook clean", [nbkit, "hook", "clean", *nbs], cwd=repo),
        command("nbstripout --verify", verify, cwd=repo),
        settings,
        setup=setup,
        warmup=True,
    )
    hook, theirs = measure_pair(
        command("nbkit hook nbkit", [nbkit, "hook", "nbkit", *nbs, *pys], cwd=repo),
        command(
            "jupytext --sync + nbstripout --verify", [jupytext, "--sync", *nbs], verify, cwd=repo
        ),
        settings,
        setup=setup,
        warmup=True,
    )
    rows.append(
        Row(
            FAMILY,
            "5 paired notebooks x 30 cells: the commit hook (nbkit hook nbkit)",
            hook,
            theirs,
            TARGET,
            exit_note(hook, theirs),
        )
    )
    rows.append(
        Row(
            FAMILY,
            "5 notebooks x 30 cells: clean hook only",
            clean_only,
            strip_only,
            Target(">= 3x", min_ratio=3),
            exit_note(clean_only, strip_only),
        )
    )
    log(f"{FAMILY}: nbkit hook nbkit {hook.shown()}, jupytext + nbstripout {theirs.shown()}")
    return rows
