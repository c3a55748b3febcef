"""Commands that keep notebooks clean and valid: clean, validate."""

from __future__ import annotations

import click

from nbkit.cli import hot
from nbkit.cli.output import say


def _echo(line: str) -> None:
    say(line, err=True)


@click.command()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a notebook needs cleaning.")
@click.argument("paths", nargs=-1, type=click.Path())
def clean(check: bool, paths: tuple[str, ...]) -> int:
    """Strip outputs, execution counts and volatile metadata from notebooks.

    Cell ids, tags (e.g. `parameters`), kernelspec and language name are kept; the policy
    comes from [tool.nbkit.clean]. With no PATH: every tracked notebook.

    \b
    Examples:
      nbkit clean                      clean every tracked notebook
      nbkit clean --check nb.ipynb     exit 1 if nb.ipynb has outputs
    """
    return hot.clean(check, paths)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
def validate(paths: tuple[str, ...]) -> int:
    """Check notebooks: JSON, nbformat schema, conflict markers, duplicate ids, output size.

    Each problem is printed as one line `path: problem`; exit 1 when any is found.

    \b
    Examples:
      nbkit validate                   check every tracked notebook
      nbkit validate notebooks/        check the notebooks in a folder
    """
    from nbkit import config
    from nbkit import selection as nbpaths
    from nbkit.cache import Caches
    from nbkit.validate import validate_file

    cfg = config.load()
    caches = Caches()
    status = 0
    for path in nbpaths.notebooks(paths, cfg):
        cache = caches.for_file(path)
        for problem in validate_file(path, max_output_bytes=cfg.max_output_bytes, cache=cache):
            _echo(str(problem))
            status = 1
    caches.save()
    return status
