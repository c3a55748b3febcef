"""Entry point: a lazily loaded command table and the one error handler.

``nbkit --help`` and the hooks must start fast, so command modules (and the heavy libraries
they use) are imported only when their command runs. The table below carries each command's
one-line help so the command list needs no imports.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from nbkit import __version__
from nbkit.cli import hot
from nbkit.cli.handler import err, run_handled
from nbkit.cli.output import say

# name -> (module, attribute, one-line help, hidden)
COMMANDS: dict[str, tuple[str, str, str, bool]] = {
    # keeping notebooks clean, valid and paired
    "clean": ("nbkit.cli.notebooks", "clean", "Strip outputs and volatile metadata.", False),
    "validate": ("nbkit.cli.notebooks", "validate", "Check notebooks are valid.", False),
    "pair": ("nbkit.cli.pairing", "pair", "Pair notebooks with text scripts.", False),
    "sync": ("nbkit.cli.pairing", "sync", "Bring notebooks and paired scripts in step.", False),
    # hooks and set-up
    "install": ("nbkit.cli.hooks", "install", "Install git hooks and notebook drivers.", False),
    "uninstall": ("nbkit.cli.hooks", "uninstall", "Remove what install added.", False),
    "init": ("nbkit.cli.hooks", "init", "Scaffold nbkit config and templates.", False),
    "hook": ("nbkit.cli.hooks", "hook", "Entry points for pre-commit and git hooks.", True),
    "filter-process": ("nbkit.cli.hooks", "filter_process", "git clean filter process.", True),
    # review and merge
    "diff": ("nbkit.cli.review", "diff", "Show a notebook-aware diff.", False),
    "review": ("nbkit.cli.review", "review", "Report on notebooks changed in a range.", False),
    "comment": ("nbkit.cli.review", "comment", "Post the review on a PR/MR (CI).", False),
    "textconv": ("nbkit.cli.review", "textconv", "Readable text of a notebook for git.", True),
    "merge-driver": ("nbkit.cli.merge", "merge_driver", "git merge driver for notebooks.", True),
    "resolve": ("nbkit.cli.merge", "resolve", "Repair notebooks with conflict markers.", False),
    # environments
    "lock": ("nbkit.cli.env", "lock", "Lock the project's dependencies.", False),
    "env": ("nbkit.cli.env", "env", "Create the environment and kernel from the lock.", False),
    # experiments
    "run": ("nbkit.cli.runs", "run", "Execute a notebook and record the run.", False),
    "runs": ("nbkit.cli.runs", "runs", "List, show and compare recorded runs.", False),
    "rerun": ("nbkit.cli.experiments", "rerun", "Reproduce a recorded run.", False),
    "sweep": ("nbkit.cli.experiments", "sweep", "Run a parameter grid.", False),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command = getattr(importlib.import_module(entry[0]), entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, help_)
            for name, (_m, _a, help_, hidden) in sorted(COMMANDS.items())
            if not hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="nbkit")
def cli() -> None:
    """Jupyter notebooks that behave like source code in git.

    \b
    Examples:
      nbkit clean                 strip outputs from every tracked notebook
      nbkit validate nb.ipynb     check a notebook is valid
    """


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every outcome to nbkit's exit codes (see DESIGN: exit codes).

    The hot entry points run without click (``nbkit.cli.hot``); the rest through click.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    code = hot.run(args)
    return code if code is not None else run_handled(lambda: _click_main(args))


def _click_main(args: list[str]) -> int:
    """click's own outcomes as exit codes; nbkit's errors go on to the one handler."""
    try:
        result: Any = cli.main(args=args, prog_name="nbkit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err("interrupted")
        return 130
    except click.UsageError as exc:
        # One line naming the problem, like every other bad input, plus where to look.
        command = exc.ctx.command_path if exc.ctx is not None else "nbkit"
        err(f"{command}: {exc.format_message()}")
        err(f"hint: {command} --help")
        return 2
    except click.ClickException as exc:
        say(f"Error: {exc.format_message()}", err=True, one_line=True)
        return exc.exit_code
    return int(result or 0)
