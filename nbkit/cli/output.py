"""The one way nbkit text reaches a terminal: every piece that may come from a notebook, a
manifest or a file name is escaped first.

Notebook sources and outputs, run manifests, parameter values and file names are repository
data. Printed raw, ``ESC [2J`` clears the screen, ``ESC ]0;...BEL`` retitles the window,
``ESC ]8;;URL`` plants a link, a lone CR overwrites what came before on the line, and bidi
overrides (U+202E...) show text in a different order than it is (Trojan Source). ``safe``
shows each such character as a visible escape (``\\x1b``, ``\\u202e``); tabs, newlines and
line-ending CRLFs stay. Renderers that add their own colours escape each piece with ``safe``
before colouring; everything else is printed through ``say``.
"""

from __future__ import annotations

import re
import sys

# C0 controls but tab and newline, a CR not ending a line, DEL, C1 controls (CSI is U+009B),
# and the bidirectional embedding/override/isolate marks.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str, *, one_line: bool = False) -> str:
    """``text`` with every character that could drive the terminal shown escaped.

    ``one_line``: newlines and tabs too (a message that must stay one line, such as an
    error naming a file whose name holds a newline)."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_shown, text)


def say(text: str, *, err: bool = False, nl: bool = True, one_line: bool = False) -> None:
    """Print ``text`` (stdout, or stderr with ``err``) with ``safe`` applied."""
    from nbkit.cli.handler import write  # no click: the hot entry points print through this

    write(safe(text, one_line=one_line) + ("\n" if nl else ""), sys.stderr if err else None)
