"""Commands that wire nbkit into git: hook, install, uninstall, init, filter-process."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nbkit.cli import hot
from nbkit.cli.output import say

RESYNCED = "nbkit: re-synced {n} paired file(s); commit them when ready:"


@click.group(hidden=True)
def hook() -> None:
    """Entry points run by pre-commit (`nbkit hook NAME FILES...`) and by git hooks.

    \b
    Examples:
      nbkit hook nbkit a.ipynb a.py     pair, sync, clean and validate in one pass
      nbkit hook clean a.ipynb          only clean
      nbkit hook post-checkout OLD NEW 1
    """


def _published(name: str, summary: str) -> click.Command:
    @click.argument("paths", nargs=-1, type=click.Path())
    def command(paths: tuple[str, ...]) -> int:
        return hot.hook(name, paths)

    command.__doc__ = f"""{summary}

    Exit 0 when nothing needed doing, 1 when files were changed (re-add them) or a check
    failed, 2 for a file that is not a notebook.

    \b
    Example (what pre-commit runs):
      nbkit hook {name} analysis.ipynb analysis.py
    """
    return hook.command(name)(command)


_published("nbkit", "Pair, sync, clean and validate the given files in one pass.")
_published("clean", "Strip outputs and volatile metadata from the given notebooks.")
_published("sync", "Bring the pairs of the given notebooks or scripts in step.")
_published("validate", "Check the given notebooks are valid.")


@hook.command("pre-commit")
def pre_commit_hook() -> int:
    """The git pre-commit hook installed by `nbkit install`: the combined hook, staged files.

    \b
    Example:
      nbkit hook pre-commit
    """
    return hot.pre_commit()


@hook.command("post-checkout")
@click.argument("old")
@click.argument("new")
@click.argument("flag")
def post_checkout_hook(old: str, new: str, flag: str) -> int:
    """The git post-checkout hook: re-sync the pairs a branch checkout changed.

    \b
    Example (git passes the previous HEAD, the new HEAD and 1 for a branch checkout):
      nbkit hook post-checkout 1a2b3c 4d5e6f 1
    """
    from nbkit import config
    from nbkit.hooks.commit import post_checkout

    return hot.show_report(post_checkout(config.load(), old, new, flag), RESYNCED)


@hook.command("post-merge")
@click.argument("squash", required=False)
def post_merge_hook(squash: str | None) -> int:
    """The git post-merge hook: re-sync the pairs a merge or pull changed.

    \b
    Example:
      nbkit hook post-merge 0
    """
    from nbkit import config
    from nbkit.hooks.commit import post_merge

    return hot.show_report(post_merge(config.load()), RESYNCED)


@click.command()
@click.option(
    "--filter",
    "with_filter",
    is_flag=True,
    help="Also clean notebooks on `git add` (git clean filter): the index gets no outputs.",
)
def install(with_filter: bool) -> int:
    """Install git hooks and notebook diff/merge drivers in this repository.

    Installs the pre-commit hook (unless .pre-commit-config.yaml hands it to the pre-commit
    framework), post-checkout and post-merge hooks that re-sync paired files, configures
    `git diff` and `git merge` for notebooks and adds `*.ipynb diff=nbkit merge=nbkit` to
    .gitattributes. A hook already there is kept and still runs. Safe to run again.

    \b
    Examples:
      nbkit install             hooks, drivers and attributes
      nbkit install --filter    also strip outputs from what `git add` stages
    """
    from nbkit.hooks.install import InstallOptions, repo_root
    from nbkit.hooks.install import install as do_install

    options = InstallOptions(repo_root(Path.cwd()), sys.executable, with_filter)
    for change in do_install(options):
        say(str(change))
    if with_filter:
        _renormalize_hint(options.root)
    return 0


def _renormalize_hint(root: Path) -> None:
    """Notebooks committed with outputs now show as modified: say how to restage them once."""
    from nbkit import config
    from nbkit.hooks.install import unclean_committed
    from nbkit.selection import managed_filter

    cfg = config.load(root)
    found = unclean_committed(root, cfg.clean, managed_filter(cfg))
    if not found:
        return
    # paths come from the repository: untrusted, so no control characters reach the terminal
    found = ["".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in p) for p in found]
    names = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    say(f"{len(found)} committed notebook(s) will now show as modified: {names}")
    say("hint: restage them once through the filter: git add --renormalize . && git commit")


@click.command()
def uninstall() -> int:
    """Remove what `nbkit install` added and restore what was there before.

    Hooks that nbkit moved aside come back, git config values and .gitattributes lines it
    added are removed.

    \b
    Example:
      nbkit uninstall
    """
    from nbkit.hooks.install import repo_root
    from nbkit.hooks.install import uninstall as do_uninstall

    changes = do_uninstall(repo_root(Path.cwd()))
    for change in changes:
        say(str(change))
    if not changes:
        say("nothing to remove")
    return 0


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def init(folder: Path | None) -> int:
    """Scaffold nbkit in a project: config, pre-commit config, attributes, experiment template.

    Writes [tool.nbkit] into pyproject.toml (or nbkit.toml when there is none),
    .pre-commit-config.yaml, .gitattributes and notebooks/experiment.ipynb. Existing files are
    never overwritten; each one skipped is named. An existing .pre-commit-config.yaml gets
    nbkit's hook appended to its repos: list, every other byte kept.

    \b
    Examples:
      nbkit init                set up the current folder
      nbkit init my-project     set up another folder
    """
    from nbkit import DISTRIBUTION
    from nbkit.hooks.init import init as do_init
    from nbkit.hooks.origin import describe, install_origin

    origin = install_origin()
    for step in do_init(folder or Path.cwd(), origin):
        say(str(step))
    say(f"the hooks install nbkit from {describe(origin)}")
    say("next: git add the new files, then `pre-commit install` and `nbkit install`")
    say(f"      (pre-commit comes with [all], or: pip install '{DISTRIBUTION}[hooks]')")
    return 0


@click.command("filter-process", hidden=True)
def filter_process() -> int:
    """git's long-running clean filter for notebooks (set up by `nbkit install --filter`).

    \b
    Example (git starts it; .git/config):
      [filter "nbkit"]
          process = nbkit filter-process
    """
    return hot.filter_process()
