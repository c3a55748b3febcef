"""Commands that merge notebooks: the git merge driver and the repair of broken merges."""

from __future__ import annotations

from pathlib import Path

import click

from nbkit.cli.hot import cell_list
from nbkit.cli.output import say
from nbkit.errors import NbkitError, UsageError, shown, with_hint


@click.command(name="merge-driver")
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    help="Also write a JSON report of conflicts and notes to this file.",
)
@click.argument("base", type=click.Path(dir_okay=False))
@click.argument("ours", type=click.Path(dir_okay=False))
@click.argument("theirs", type=click.Path(dir_okay=False))
@click.argument("path", required=False)
def merge_driver(report: str | None, base: str, ours: str, theirs: str, path: str | None) -> int:
    """Merge three versions of a notebook for git, writing the result over OURS.

    Git calls this with %O %A %B %P (base, ours, theirs, the file's path). Cell edits,
    moves, additions and deletions merge; outputs and metadata never conflict; a real source
    conflict is marked inside the cell, so the file stays a valid notebook. Exit 0 when clean,
    1 while conflicts remain, 2 when a side is not a readable notebook (ours is left alone).

    \b
    Set-up (what `nbkit install` writes):
      git config merge.nbkit.driver "nbkit merge-driver %O %A %B %P"
      echo '*.ipynb merge=nbkit' >> .gitattributes
    \b
    Example:
      nbkit merge-driver base.ipynb ours.ipynb theirs.ipynb nb.ipynb --report conflicts.json
    """
    from nbkit.cli.hot import merge_driver as run_driver

    return run_driver(base, ours, theirs, path, report)


@click.command()
@click.option("--ours", is_flag=True, help="Settle every conflict with our side.")
@click.option("--theirs", is_flag=True, help="Settle every conflict with their side.")
@click.argument("notebooks", nargs=-1, required=True, type=click.Path(dir_okay=False))
def resolve(ours: bool, theirs: bool, notebooks: tuple[str, ...]) -> int:
    """Repair notebooks broken by <<<<<<< / ======= / >>>>>>> markers in their JSON.

    While git still holds the merge (before `git add`), the merge is redone from git's copies
    of base, ours and theirs; afterwards both sides are read out of the markers and merged.
    Either way the notebook becomes valid and the remaining conflicts are marked inside the
    cells they concern; --ours/--theirs settle them (also in a notebook the merge driver
    wrote). A paired notebook's script is then written again from the resolved notebook
    while git lists it as conflicted. Exit 0 when no conflict is left, 1 while conflicts
    are marked in cells, 2 when a file cannot be repaired (it is left unchanged).

    \b
    Examples:
      nbkit resolve analysis.ipynb            repair, keep conflicts marked in cells
      nbkit resolve --theirs analysis.ipynb   repair, taking their side of each conflict
    """
    from nbkit import config
    from nbkit.merge.notebook import MergeSettings
    from nbkit.merge.resolve import resolve_pair

    if ours and theirs:
        raise UsageError("--ours and --theirs exclude each other", hint="choose one side")
    prefer = "ours" if ours else "theirs" if theirs else None
    settings = MergeSettings(prefer=prefer)
    status = 0
    for path in notebooks:
        try:
            done = resolve_pair(path, config.load(Path(path).parent), settings)
        except NbkitError as exc:
            for line in exc.lines():
                say(line, err=True)
            status = max(status, exc.exit_code)
            continue
        shown = _shown(Path(done.path), path)
        say(f"{shown}: {_what(done.how, prefer)}")
        if done.marked:
            say(f"{shown}: conflicts marked in cell(s) {cell_list(done.marked)}")
            status = max(status, 1)
        status = max(status, _script_line(shown, done.script, done.script_how))
    return status


def _shown(path: Path, given: str | None = None) -> str:
    """A path as the user named it, else relative to the current folder when possible."""
    return given if given is not None and Path(given) == path else shown(path)


def _script_line(notebook: str, script: Path | None, how: str | None) -> int:
    """Report what happened to a paired script; 1 when it is left out of step."""
    if script is None or how is None:
        return 0
    name = _shown(script)
    if how == "regenerated":
        say(f"{notebook}: regenerated {name} from the resolved notebook")
    elif how == "pending":
        say(
            f"{notebook}: paired script {name} is written from the notebook once no cell "
            "holds conflict markers (run nbkit resolve again then)"
        )
    elif how == "differs":
        say(
            with_hint(
                f"{notebook}: paired script {name} differs from the notebook",
                "nbkit sync --prefer notebook|script",
            )
        )
        return 1
    return 0


def _what(how: str, prefer: str | None) -> str:
    side = f", taking {prefer} on conflicts" if prefer else ""
    return {
        "stages": f"merged again from git's base, ours and theirs{side}",
        "markers": f"rebuilt from the two sides of the conflict markers{side}",
        "cells": f"settled the conflicts marked in cells{side}",
        "nothing": "no conflict markers in the JSON; nothing to repair",
    }[how]
