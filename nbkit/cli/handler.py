"""The one error handler: every outcome of a command becomes one of nbkit's exit codes.

No click here: the hot entry points (``nbkit.cli.hot``) run through this handler without
importing click; ``nbkit.cli.main`` maps click's own exceptions, then calls it too.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import TextIO

from nbkit import __version__
from nbkit.cli.output import safe
from nbkit.errors import NbkitError

# What click.echo strips from text written to a pipe or a file (CSI sequences).
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def write(text: str, stream: TextIO | None = None) -> None:
    """Write as click.echo does: escape sequences dropped unless ``stream`` is a terminal."""
    stream = stream or sys.stdout
    if not stream.isatty():
        text = _ANSI.sub("", text)
    stream.write(text)
    stream.flush()


def err(line: str) -> None:
    """One line on stderr; file names and messages quote repository data, so escaped
    (``nbkit.cli.output``), newlines included."""
    write(safe(line, one_line=True) + "\n", sys.stderr)


def crash_log(exc: BaseException) -> str:
    folder = os.environ.get("NBKIT_LOG_DIR") or tempfile.gettempdir()
    path = os.path.join(folder, f"nbkit-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log")
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"nbkit {__version__}, Python {sys.version}, {sys.platform}\n")
            fh.write(f"argv: {sys.argv!r}\n\n")
            fh.write("".join(traceback.format_exception(exc)))
    except OSError:
        return "(could not write a log)"
    return path


def run_handled(command: Callable[[], int]) -> int:
    """Run ``command`` and map its outcome to an exit code (see DESIGN: exit codes)."""
    try:
        return command()
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except NbkitError as exc:
        for line in exc.lines():
            err(f"nbkit: {line}" if not line.startswith("hint:") else line)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:
        log = crash_log(exc)
        err(f"nbkit: internal error: {type(exc).__name__}: {exc} (details in {log})")
        return 3
