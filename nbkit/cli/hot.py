"""The entry points git and hooks start per commit or per file, run without click.

``nbkit hook NAME FILES...``, ``nbkit clean [--check] FILES...``, ``nbkit filter-process``,
``nbkit textconv FILE`` and ``nbkit merge-driver BASE OURS THEIRS [PATH]`` start many times a
day, and most calls find nothing to do: importing click would be a large share of such a
call. ``dispatch`` recognises these commands in their plain form (no option other than
``--check``) and runs them here; anything else (``--help``, options, a typo) goes to click,
whose commands call the same functions below.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nbkit.cli.handler import err, run_handled, write
from nbkit.cli.output import safe

if TYPE_CHECKING:
    from nbkit.hooks.commit import HookReport

PUBLISHED_HOOKS = ("nbkit", "clean", "sync", "validate")
RE_ADD = "nbkit: changed {n} file(s); review, re-add and commit again:"


def run(argv: Sequence[str]) -> int | None:
    """The exit code of ``argv`` run here, or None when it is not a hot entry point."""
    command = dispatch(list(argv))
    return None if command is None else run_handled(command)


def dispatch(argv: list[str]) -> Callable[[], int] | None:
    """The hot command ``argv`` asks for, ready to run; None for anything click must parse."""
    if not argv:
        return None
    name, args = argv[0], argv[1:]
    check = name == "clean" and args.count("--check") == 1
    if check:
        args = [a for a in args if a != "--check"]
    if any(a.startswith("-") for a in args):
        return None  # an option, --help, or a path click must see after "--"
    if name == "hook" and args[:1] == ["pre-commit"] and len(args) == 1:
        return pre_commit
    if name == "hook" and args and args[0] in PUBLISHED_HOOKS:
        return lambda: hook(args[0], args[1:])
    if name == "clean":
        return lambda: clean(check, args)
    if name == "filter-process" and not args:
        return filter_process
    if name == "textconv" and len(args) == 1:
        return lambda: textconv(args[0])
    if name == "merge-driver" and len(args) in (3, 4):
        base, ours, theirs, *named = args
        return lambda: merge_driver(base, ours, theirs, named[0] if named else None)
    return None


def show_report(report: HookReport, headline: str = RE_ADD) -> int:
    """Problems first, then the files to re-add; the exit code is the report's status."""
    import shlex

    for message in report.messages:
        err(message)
    if report.modified:
        err(headline.format(n=len(report.modified)))
        for path in report.modified:
            err(f"  {path}")
        to_add = report.to_add or report.modified
        err("  git add -- " + " ".join(shlex.quote(p) for p in to_add))
    return report.status


def hook(name: str, paths: Sequence[str]) -> int:
    """``nbkit hook NAME FILES...``: what pre-commit runs."""
    from nbkit import config
    from nbkit.hooks.commit import run_hook

    return show_report(run_hook(name, tuple(paths), config.load()))


def pre_commit() -> int:
    """``nbkit hook pre-commit``: the git hook, on the staged files."""
    from nbkit import config
    from nbkit.hooks.commit import pre_commit as staged

    return show_report(staged(config.load()))


def clean(check: bool, paths: Sequence[str]) -> int:
    """``nbkit clean [--check] [PATH...]``."""
    from nbkit import config
    from nbkit import selection as nbpaths
    from nbkit.cache import Caches
    from nbkit.clean import clean_files

    cfg = config.load()
    caches = Caches()
    status = 0
    outcomes = clean_files(nbpaths.notebooks(paths, cfg), cfg.clean, check=check, caches=caches)
    for outcome in outcomes:
        if outcome.error is not None:
            err(outcome.error.one_line())
            status = 2
        elif outcome.changed:
            err(f"{outcome.path}: {'needs cleaning' if check else 'cleaned'}")
            if check:
                status = max(status, 1)
    caches.save()
    return status


def filter_process() -> int:
    """``nbkit filter-process``: git's long-running clean filter."""
    from nbkit import config
    from nbkit.cache import Cache
    from nbkit.errors import NbkitError
    from nbkit.hooks.filter import serve
    from nbkit.selection import managed_filter

    try:
        cfg = config.load()
        policy, cache = cfg.clean, Cache.for_root(cfg.root)
        # git names paths relative to the work tree, where it starts the filter
        managed = managed_filter(cfg)
    except NbkitError as exc:
        err(f"nbkit filter: {exc}; notebooks are staged unchanged until it is fixed")
        policy, cache = None, Cache(None)
        managed = lambda pathname: True  # noqa: E731  (nothing is cleaned anyway)

    serve(sys.stdin.buffer, sys.stdout.buffer, policy, cache, err, managed)
    return 0


def textconv(path: str) -> int:
    """``nbkit textconv FILE``: what ``git diff`` shows for a notebook."""
    from nbkit.review.textconv import textconv_text

    write(safe(textconv_text(path)))  # notebook text: escaped before the terminal
    return 0


def cell_list(indexes: list[int]) -> str:
    """1-based cell numbers, the first ten of them."""
    shown = ", ".join(str(k + 1) for k in indexes[:10])
    return shown + (f" and {len(indexes) - 10} more" if len(indexes) > 10 else "")


def merge_driver(
    base: str, ours: str, theirs: str, path: str | None, report: str | None = None
) -> int:
    """``nbkit merge-driver %O %A %B %P``: git's merge driver for notebooks."""
    from nbkit.merge.notebook import merge_files, write_report

    name = path or ours
    result = merge_files(base, ours, theirs, name=name)
    if report:
        write_report(report, result, name)
    cleared = [n for n in result.notes if n.kind == "outputs-cleared"]
    for note in result.notes:
        if note.kind != "outputs-cleared":  # expected, and many: counted below
            where = f"cell {note.cell + 1}: " if note.cell is not None else ""
            err(f"nbkit: {name}: {where}{note.detail}")
    if cleared:
        err(f"nbkit: {name}: outputs cleared in {len(cleared)} cell(s) merged from both sides")
    if not result.conflicts:
        return 0
    cells = cell_list([c.cell for c in result.conflicts])
    err(f"nbkit: {name}: {len(result.conflicts)} conflict(s) marked inside cell(s) {cells}")
    return 1
