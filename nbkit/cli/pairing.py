"""Commands that pair notebooks with text scripts and keep the two in step: pair, sync."""

from __future__ import annotations

from pathlib import Path

import click

from nbkit.cli.output import say
from nbkit.errors import NbkitError, shown, with_hint


def _echo(line: str) -> None:
    say(line, err=True)


@click.command()
@click.option(
    "--format",
    "fmt",
    metavar="FMT",
    help="Script format, e.g. auto:percent (the notebook's language: .py, .R, .jl...), "
    "py:percent, md:myst, or a whole formats string such as "
    "'notebooks///ipynb,scripts///py:percent'. Default: the notebook's own pairing, "
    "else the project's formats (ipynb,auto:percent).",
)
@click.argument("notebooks", nargs=-1, required=True, type=click.Path())
def pair(fmt: str | None, notebooks: tuple[str, ...]) -> int:
    """Pair notebooks with text scripts (jupytext) and record the pairing in the notebook.

    The script has no header (no jupytext version, no kernelspec), so it does not churn
    between machines; the notebook's metadata.jupytext says the same formats jupytext
    would, so Jupyter with jupytext keeps the same pair. An existing script with other
    cells is left alone (exit 1; decide with `nbkit sync --prefer`).

    \b
    Examples:
      nbkit pair analysis.ipynb                    writes analysis.py (an R notebook: .R)
      nbkit pair --format md:myst analysis.ipynb   writes analysis.md (MyST)
      nbkit pair --format 'notebooks///ipynb,scripts///py:percent' notebooks/a.ipynb
    """
    from nbkit import config
    from nbkit.pairing.pair import pair_notebook

    cfg = config.load()
    status = 0
    for path in notebooks:  # one bad notebook does not stop the others
        try:
            result = pair_notebook(Path(path), cfg, fmt)
        except NbkitError as exc:
            for line in exc.lines():
                _echo(line if line.startswith("hint:") else f"nbkit: {line}")
            status = max(status, exc.exit_code)
            continue
        _echo(f"{path}: paired with {shown(result.script)} ({result.fmt})")
    return status


@click.command()
@click.option(
    "--prefer",
    type=click.Choice(["notebook", "script"]),
    help="When both sides differ, keep this side and overwrite the other.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a pair is out of step.")
@click.option(
    "--base",
    type=click.Choice(["auto", "index", "HEAD"]),
    default="auto",
    show_default=True,
    help="Which committed snapshot tells which side changed.",
)
@click.argument("paths", nargs=-1, type=click.Path())
def sync(prefer: str | None, check: bool, base: str, paths: tuple[str, ...]) -> int:
    """Bring paired notebooks and scripts in step, without trusting timestamps.

    Each side is compared with the last committed version of the pair: the side that
    changed is copied to the other (a notebook keeps the outputs of cells whose source did
    not change). When both changed, or nothing committed tells, it is a conflict: nothing
    is written and the exit code is 1. PATH may be a notebook or a paired script; with no
    PATH, every paired notebook of the project.

    \b
    Examples:
      nbkit sync                          sync every paired notebook
      nbkit sync analysis.py              after editing the script
      nbkit sync --check                  exit 1 if any pair is out of step
      nbkit sync --prefer script a.ipynb  resolve a conflict: the script wins
    """
    from nbkit import config
    from nbkit import selection as nbpaths
    from nbkit.cache import Caches
    from nbkit.pairing.sync import Files, resolve_pairs, sync_pairs

    cfg = config.load()
    targets = nbpaths.notebooks(paths, cfg)
    cache = Caches().common(targets)  # the files' repository, not the current folder's
    files = Files(cache)
    skipped: list[NbkitError] = []  # the project's notebooks jupytext cannot pair
    pairs = resolve_pairs(targets, cfg, files, skipped if not paths else None)
    for problem in skipped:
        where = f"{shown(problem.path)}: " if problem.path else ""
        _echo(f"warning: {with_hint(where + problem.message, problem.hint)}")
    outcomes = sync_pairs(
        pairs, cfg, prefer=prefer, check=check, base=base, cache=cache, files=files
    )
    cache.save()
    status = 0
    for outcome in outcomes:
        if outcome.action == "in-sync":
            continue
        _echo(outcome.message)
        if outcome.warning:
            _echo(f"warning: {outcome.warning}")
        if outcome.action == "conflict" or outcome.action.startswith("would-"):
            status = 1
    return status
