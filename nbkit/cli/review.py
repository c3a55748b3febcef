"""Commands that show notebook changes: diff, review, textconv (git's diff driver)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from nbkit.cli.output import safe, say

if TYPE_CHECKING:
    from nbkit.config import Config
    from nbkit.review.diff import DiffSettings

FORMATS = ("terminal", "markdown", "html", "json")
# Exit codes of `nbkit diff` (see docs/review.md): sources changed -> 1; outputs or
# metadata only -> 0, or this with --exit-code-outputs.
EXIT_OUTPUTS_ONLY = 4


class _PathsAfterDashDash(click.Command):
    """Keep what follows ``--`` apart (paths), as ``git diff [REV [REV]] -- PATH...`` does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["nbkit.selection"] = tuple(args[cut + 1 :])
            args = args[:cut]
        return super().parse_args(ctx, args)


def _emit(text: str, output: str | None, color: bool = False, fmt: str = "terminal") -> None:
    """Print or write a report. The terminal renderer escapes each notebook-derived piece
    itself (it adds colours of its own); every other format is escaped whole on stdout, and
    Markdown in a file too (a pull-request comment: no bidi tricks)."""
    if output is None:
        if fmt == "terminal":
            click.echo(text, nl=False, color=color)  # click strips colours it was not told of
        else:
            say(text, nl=False)
        return
    from nbkit.fsutil import atomic_write_text

    atomic_write_text(output, safe(text) if fmt == "markdown" else text)
    say(f"nbkit: report written to {output}", err=True)


def _color(flag: bool | None, output: str | None, fmt: str) -> bool:
    """Colour for a terminal report: ``--color/--no-color`` when given; else only on a
    terminal, and never when NO_COLOR is set to anything (https://no-color.org)."""
    import os

    if fmt != "terminal":
        return False
    if flag is not None:
        return flag
    return output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _settings(context: int) -> tuple[Config, DiffSettings]:
    """The project's config and the diff settings its clean policy implies."""
    from nbkit import config
    from nbkit.review.diff import DiffSettings

    cfg = config.load()
    return cfg, DiffSettings.from_policy(cfg.clean, context=context)


def _format_for(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one the -o suffix names; a notebook is never a target."""
    from pathlib import Path

    from nbkit.errors import BadInput
    from nbkit.review.render import SUFFIXES

    if output and Path(output).suffix.lower() == ".ipynb":
        raise BadInput(
            "will not write a report over a notebook",
            output,
            hint="name the report e.g. review.md or review.html",
        )
    if fmt:
        return fmt
    return SUFFIXES.get(Path(output).suffix.lower(), "terminal") if output else "terminal"


_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Report format (default: from the -o suffix, else terminal).",
)
_output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report to FILE (atomically) instead of stdout.",
)
_outputs_option = click.option(
    "--outputs",
    "show_outputs",
    is_flag=True,
    help="Show output changes in full, not only one-line summaries.",
)


@click.command(cls=_PathsAfterDashDash)
@_format_option
@_output_option
@_outputs_option
@click.option(
    "--cached",
    "--staged",
    "cached",
    is_flag=True,
    help="Compare the index with REV (default HEAD) instead of the working tree.",
)
@click.option(
    "--exit-code-outputs",
    is_flag=True,
    help=f"Exit {EXIT_OUTPUTS_ONLY} when only outputs or metadata changed (else 0).",
)
@click.option(
    "-U",
    "--unified",
    "context",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="Lines of context around source changes.",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour (default: on a terminal, unless NO_COLOR is set).",
)
@click.argument("args", nargs=-1, metavar="[A.ipynb B.ipynb | REV [REV]] [-- PATH...]")
@click.pass_context
def diff(
    ctx: click.Context,
    fmt: str | None,
    output: str | None,
    show_outputs: bool,
    cached: bool,
    exit_code_outputs: bool,
    context: int,
    color: bool | None,
    args: tuple[str, ...],
) -> int:
    """Show a cell-level diff of notebooks, quiet about execution counts and timings.

    Two files (A.ipynb B.ipynb), or git's sides: no REV = working tree vs index, one REV =
    working tree vs REV, two REVs (or A..B, A...B) = between revisions. Moved cells show as
    moves. Exit 0: no change, or only outputs/metadata changed; 1: sources changed.

    \b
    Examples:
      nbkit diff old.ipynb new.ipynb
      nbkit diff HEAD~1 -- analysis.ipynb
      nbkit diff main feature --format json
    """
    from pathlib import Path

    from nbkit.pairing.paths import formats_resolver
    from nbkit.review import render
    from nbkit.review.report import compare

    fmt = _format_for(fmt, output)
    cfg, settings = _settings(context)
    paths = ctx.meta.get("nbkit.selection", ())
    formats = formats_resolver(cfg)
    report = compare(Path.cwd(), args, paths, cached=cached, settings=settings, formats=formats)
    options = render.RenderOptions(outputs=show_outputs, color=_color(color, output, fmt))
    _emit(render.get(fmt)(report, options), output, options.color)
    if report.sources_changed:
        return 1
    return EXIT_OUTPUTS_ONLY if exit_code_outputs and report.changed else 0


@click.command()
@_format_option
@_output_option
@_outputs_option
@click.option(
    "--max-chars",
    type=click.IntRange(2000),
    default=65536,
    show_default=True,
    help="Markdown: size limit of the report (GitHub's comment limit).",
)
@click.argument("range_spec", metavar="BASE...HEAD")
@click.argument("paths", nargs=-1)
def review(
    fmt: str | None,
    output: str | None,
    show_outputs: bool,
    max_chars: int,
    range_spec: str,
    paths: tuple[str, ...],
) -> int:
    """Report on every notebook changed in a range, e.g. a pull request.

    BASE...HEAD compares HEAD with its merge base with BASE (what a pull request shows);
    BASE..HEAD compares the two commits. Exit 0 once the report is written.

    \b
    Examples:
      nbkit review origin/main...HEAD --format markdown -o review.md
      nbkit review main...feature -o review.html
    """
    from pathlib import Path

    from nbkit.pairing.paths import formats_resolver
    from nbkit.review import render
    from nbkit.review.report import review_range

    fmt = _format_for(fmt, output)
    cfg, settings = _settings(3)
    report = review_range(Path.cwd(), range_spec, paths, settings, formats_resolver(cfg))
    options = render.RenderOptions(
        outputs=show_outputs,
        color=_color(None, output, fmt),
        max_chars=max_chars,
        command=f"nbkit review {range_spec} --format html -o review.html",
    )
    _emit(render.get(fmt)(report, options), output, options.color, fmt)
    return 0


@click.command()
@click.argument("path", type=click.Path())
def textconv(path: str) -> int:
    """Print a notebook as readable text, for git's diff driver.

    A file that is not a readable notebook is printed as it is, after a note, so that
    `git log -p` never stops on one broken commit.

    \b
    Examples:
      git config diff.nbkit.textconv "nbkit textconv"
      echo '*.ipynb diff=nbkit' >> .gitattributes
      nbkit textconv analysis.ipynb
    """
    from nbkit.cli import hot

    return hot.textconv(path)


@click.command()
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab"]),
    default=None,
    help="Where to post (default: the CI this runs in, from its environment).",
)
@click.argument("report", type=click.Path(dir_okay=False))
def comment(forge: str | None, report: str) -> int:
    """Post a Markdown review as the one nbkit comment on the pull or merge request.

    Run in CI after `nbkit review --format markdown -o REPORT`. The first run creates the
    comment; later runs (new pushes) update that same comment, found by a hidden marker.
    GitHub Actions: needs GITHUB_TOKEN with pull-requests write permission. GitLab CI: needs
    a project access token (api scope) in NBKIT_GITLAB_TOKEN, in a merge-request pipeline.

    \b
    Examples:
      nbkit comment review.md                 (in GitHub Actions or GitLab CI)
      nbkit comment --forge gitlab review.md
    """
    from nbkit.errors import BadInput
    from nbkit.review.comments import post_from_env

    try:
        with open(report, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"cannot read the report: {getattr(exc, 'strerror', None) or exc}", report
        ) from None
    posted = post_from_env(text, forge)
    where = f" ({posted.url})" if posted.url else ""
    say(f"nbkit: {posted.action} the review comment{where}", err=True)
    return 0
