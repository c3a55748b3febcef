"""The process entry point: ``python -m nbkit`` and the ``nbkit`` console script.

Ctrl-C must exit 130 without a traceback at any moment, start-up included (DESIGN: exit
codes). So this module imports nothing heavy: the interrupt handling is in place before
click and the command modules are imported, and those imports happen inside it.
"""

from __future__ import annotations

import os
import sys

# A test (or a supervisor) that must not interrupt too early names a file descriptor here;
# the entry point writes one line to it once Ctrl-C is handled, then closes it.
READY_FD = "NBKIT_READY_FD"

# `python -m nbkit` puts the current folder first on sys.path, and the current folder is
# usually a repository: its click.py or difflib.py must not be imported in place of the real
# ones. Dropped before anything else is imported (nbkit itself is already loaded). Modules
# Python imports before this line (runpy's own: types, importlib) cannot be protected here:
# git's entry points run with -I (see nbkit/hooks/install.py), and users can type `nbkit`.
if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]


def run(argv: list[str] | None = None) -> int:
    """Run nbkit in this process and return its exit code."""
    try:
        _signal_ready()
        from nbkit.cli import hot

        args = sys.argv[1:] if argv is None else argv
        code = hot.run(args)  # the entry points git and hooks start: no click
        if code is not None:
            return code
        from nbkit.cli.main import main

        return main(args)
    except KeyboardInterrupt:
        # click, or the error handler itself, may not be imported yet: plain stderr only
        sys.stderr.write("interrupted\n")
        return 130


def entry() -> None:
    sys.exit(run())


def _signal_ready() -> None:
    fd = os.environ.pop(READY_FD, "")
    if not fd.isdigit():
        return
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except OSError:
        pass


if __name__ == "__main__":
    entry()
