"""The typical commit: five clean, paired notebooks of ~30 cells go through the hooks.

nbkit runs ``clean --check`` and ``sync --check``; the usual alternative runs
``jupytext --sync`` and ``nbstripout --verify``. Both sides start from the same committed
repository, in jupytext's round-trip fixed point, so neither has anything to change.
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
    measure,
    nbkit_has,
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
    clean_only = measure(
        command("nbkit clean --check", [nbkit, "clean", "--check", *nbs], cwd=repo),
        settings,
        setup=setup,
        warmup=True,
    )
    strip_only = measure(
        command("nbstripout --verify", verify, cwd=repo), settings, setup=setup, warmup=True
    )
    if nbkit_has("sync", "--check"):
        both = measure(
            command(
                "nbkit clean --check + sync --check",
                [nbkit, "clean", "--check", *nbs],
                [nbkit, "sync", "--check", *nbs, *pys],
                cwd=repo,
            ),
            settings,
            setup=setup,
            warmup=True,
        )
        theirs = measure(
            command(
                "jupytext --sync + nbstripout --verify",
                [jupytext, "--sync", *nbs],
                verify,
                cwd=repo,
            ),
            settings,
            setup=setup,
            warmup=True,
        )
        rows.append(
            Row(
                FAMILY,
                "5 paired notebooks x 30 cells: clean + sync hooks",
                both,
                theirs,
                TARGET,
                exit_note(both, theirs),
            )
        )
    else:
        rows.append(
            unavailable(
                FAMILY,
                "5 paired notebooks x 30 cells: clean + sync hooks",
                "`nbkit sync --check` does not exist yet",
                TARGET,
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
    log(f"{FAMILY}: nbkit clean --check {clean_only.shown()}, nbstripout {strip_only.shown()}")
    return rows
