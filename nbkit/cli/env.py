"""Commands for locked environments: lock, env."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from nbkit.cli.output import say
from nbkit.config import Config
from nbkit.env.settings import EnvSettings

F = TypeVar("F", bound=Callable[..., Any])


def _echo(line: str) -> None:
    say(line, err=True)


def _index_options(func: F) -> F:
    """Where packages come from; the same options on both commands."""
    options = [
        click.option(
            "--find-links",
            "find_links",
            multiple=True,
            metavar="DIR",
            type=click.Path(file_okay=False),
            help="Also look for wheels in DIR (repeatable).",
        ),
        click.option("--no-index", is_flag=True, help="Use only --find-links, not the index."),
        click.option(
            "--index-url", default=None, metavar="URL", help="Package index to use instead of PyPI."
        ),
        click.option("--offline", is_flag=True, help="Use only uv's cache; no network."),
        click.option(
            "--trust-index",
            is_flag=True,
            help="Use the index / find-links URLs the repository's config names (refused "
            "without this: a cloned repository is untrusted).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(
    find_links: tuple[str, ...],
    no_index: bool,
    index_url: str | None,
    offline: bool,
    trust_index: bool,
    cfg: Config | None = None,
) -> EnvSettings:
    from nbkit import config
    from nbkit.env.settings import settings

    s = settings(cfg or config.load())
    return dataclasses.replace(
        s,
        user_find_links=tuple(str(Path(d).resolve()) for d in find_links),
        no_index=s.no_index or no_index,
        user_index_url=index_url,
        offline=s.offline or offline,
        trust_index=trust_index,
    )


def _with_format(s: EnvSettings, cfg: Config, lock_format: str) -> EnvSettings:
    """The lock file ``--format`` names; a configured ``lock`` of the other format is bad input."""
    from nbkit.env.pylock import is_pylock
    from nbkit.env.settings import PYLOCK, REQUIREMENTS_LOCK
    from nbkit.errors import BadInput

    want_pylock = lock_format == "pylock"
    if is_pylock(s.lock) == want_pylock:
        return s
    if "lock" in cfg.values("env"):
        raise BadInput(
            f"[tool.nbkit.env] lock = {s.lock!r} is not a {lock_format} lock",
            cfg.source,
            hint=f"drop --format, or change lock in {cfg.source.name if cfg.source else 'config'}",
        )
    return dataclasses.replace(s, lock=PYLOCK if want_pylock else REQUIREMENTS_LOCK)


def _show_sources(s: EnvSettings) -> None:
    """Say where packages came from and who chose it (after success: a failure stays one
    line, and a refused source is that line)."""
    for source in s.sources():
        _echo(f"packages from {source.describe()}")


@click.command()
@click.option("--check", is_flag=True, help="Resolve nothing; exit 1 if stale or undeclared.")
@click.option("--upgrade", is_flag=True, help="Allow every package to move to its newest version.")
@click.option(
    "--upgrade-package",
    "upgrade_packages",
    multiple=True,
    metavar="NAME",
    help="Allow NAME to move to its newest version (repeatable).",
)
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="Ignore releases after DATE (e.g. 2024-06-01), as if locking back then.",
)
@click.option(
    "--universal/--this-platform",
    "universal",
    default=None,
    help="One lock valid on Linux, macOS and Windows (uv's --universal), or for this "
    "platform only (default: as the existing lock is, else this platform).",
)
@click.option(
    "--format",
    "lock_format",
    type=click.Choice(["requirements", "pylock"]),
    default=None,
    help="The lock file: requirements.lock (uv's hashed requirements) or pylock.toml "
    "(PEP 751). Default: [tool.nbkit.env] lock, else the one the project has.",
)
@_index_options
def lock(
    lock_format: str | None,
    check: bool,
    upgrade: bool,
    upgrade_packages: tuple[str, ...],
    as_of: str | None,
    universal: bool | None,
    find_links: tuple[str, ...],
    no_index: bool,
    index_url: str | None,
    offline: bool,
    trust_index: bool,
) -> int:
    """Lock the declared dependencies (requirements.in or pyproject.toml) with uv.

    Writes requirements.lock (or PEP 751 pylock.toml) with exact versions and hashes; its
    header records the Python version, platform, uv version and the digest of the input.
    With --check nothing is resolved: exit 1 when the lock is missing, stale or edited by
    hand, or when a notebook or paired script imports a module no declared distribution
    provides.

    \b
    Examples:
      nbkit lock                               resolve requirements.in into requirements.lock
      nbkit lock --upgrade-package pandas      let pandas move, keep every other pin
      nbkit lock --check                       the pre-commit check (fast, resolves nothing)
      nbkit lock --find-links wheels/ --no-index   resolve from local wheels only
      nbkit lock --universal                   one lock for Linux, macOS and Windows
      nbkit lock --format pylock               write the standard pylock.toml instead
    """
    from nbkit import config

    cfg = config.load()  # once: `lock --check` runs on every commit
    s = _settings(find_links, no_index, index_url, offline, trust_index, cfg)
    if lock_format is not None:
        s = _with_format(s, cfg, lock_format)
    if check:
        from nbkit.env.check import check as check_lock

        findings = check_lock(s, cfg)
        for finding in findings:
            _echo(str(finding))
        if any(f.path == s.lock for f in findings):
            _echo("hint: nbkit lock")
        return 1 if findings else 0
    from nbkit.env.lock import LockOptions
    from nbkit.env.lock import lock as do_lock

    result = do_lock(s, LockOptions(upgrade, upgrade_packages, as_of, universal))
    state = "written" if result.changed else "up to date"
    say(f"{s.lock}: {state} ({result.packages} packages from {result.input_label})")
    for note in result.notes:
        say(f"note: {note}", err=True)
    _show_sources(s)
    return 0


@click.command()
@click.option(
    "--path",
    "venv",
    metavar="DIR",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the environment lives (default: [tool.nbkit.env] venv, else .nbkit/envs/HASH).",
)
@click.option("--check", is_flag=True, help="Change nothing; list how it differs from the lock.")
@click.option("--print-kernel", is_flag=True, help="Print the kernel name for the current lock.")
@_index_options
def env(
    venv: str | None,
    check: bool,
    print_kernel: bool,
    find_links: tuple[str, ...],
    no_index: bool,
    index_url: str | None,
    offline: bool,
    trust_index: bool,
) -> int:
    """Create or update the run environment from the lock, and register its Jupyter kernel.

    The venv (.nbkit/envs/<lock hash> unless configured) gets exactly the locked packages
    (others are removed); the kernel is named nbkit-<project>-<lock hash>. It is never the
    environment nbkit runs from. When the venv already matches the lock nothing is run.

    \b
    Examples:
      nbkit env                     build the locked environment, register the kernel
      nbkit env --check             exit 1 and list how the environment differs
      nbkit env --print-kernel      the kernel name for a notebook or `nbkit run --kernel`
    """
    from nbkit.env import venv as envlib

    s = _settings(find_links, no_index, index_url, offline, trust_index)
    path = Path(venv).absolute() if venv else None
    if print_kernel:
        say(envlib.kernel_name(s, envlib.current_lock(s)))
        return 0
    if check:
        differences = envlib.differences(s, path)
        for line in differences:
            _echo(line)
        return 1 if differences else 0
    result = envlib.ensure(s, path)
    for note in result.notes:
        _echo(f"note: {note}")
    state = "built from the lock" if result.changed else "already matches the lock"
    say(f"{result.venv}: {state}; kernel {result.kernel}")
    if result.changed:
        _show_sources(s)
    return 0
