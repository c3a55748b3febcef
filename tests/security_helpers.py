"""Helpers for the attack tests: what a hostile repository plants, and what must not happen.

Each attack test builds a ``Watch`` before the git or nbkit command that would trigger the
attack and calls ``watch.check()`` after it. The check counts the attack and what it caused
(files written outside the repository, planted code that ran) into the reliability figures
that ``make test`` prints, then asserts both are zero.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.reliability import count

# Modules a project may well have in its root (with no attacker), and one an attacker picks.
SHADOWED = ("click", "types", "uuid", "difflib", "tempfile")

MARKER_CODE = """\
import os
with open(os.path.join({folder!r}, {name!r}), "w") as fh:
    fh.write("ran")
raise SystemExit("the repository's {name}.py was imported")
"""


def plant_code(path: Path, markers: Path, name: str) -> Path:
    """A Python file that, if it ever runs, leaves ``markers/name`` and fails loudly."""
    markers.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MARKER_CODE.format(folder=str(markers), name=name))
    return path


def plant_shadows(root: Path, markers: Path, names: tuple[str, ...] = SHADOWED) -> None:
    """``click.py``, ``types.py``... in the work tree root, each leaving a marker if imported."""
    for name in names:
        plant_code(root / f"{name}.py", markers, name)


def _files(top: Path, skip: tuple[Path, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(top):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in files:
            path = here / name
            try:
                data = path.read_bytes() if not path.is_symlink() else os.readlink(path).encode()
            except OSError:
                data = b"<unreadable>"
            found[str(path)] = hashlib.sha256(data).hexdigest()
    return found


class Watch:
    """Everything under ``outside`` except the repository (and the marker folder), as it was.

    ``outside`` is the test's tmp_path: it holds the repository, the fake home and the
    files an attack aims at, so any file created or changed there outside the repository is
    a write that escaped it; ``guarded`` adds files inside ``.git``, ``skip`` leaves out
    folders the test itself changes (the upstream repository). Markers are files planted
    code leaves when it runs."""

    def __init__(
        self,
        outside: Path,
        repo: Path,
        markers: Path,
        guarded: tuple[Path, ...] = (),
        skip: tuple[Path, ...] = (),
    ) -> None:
        self.outside, self.repo, self.markers, self.guarded = outside, repo, markers, guarded
        self.skip = (repo, markers, *skip)
        self.before = self._snapshot()

    def _snapshot(self) -> dict[str, str]:
        found = _files(self.outside, self.skip)
        for path in self.guarded:  # files inside .git an attack aims at (git writes the rest)
            if os.path.lexists(path):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    def escaped(self) -> list[str]:
        after = self._snapshot()
        return sorted(p for p, h in after.items() if self.before.get(p) != h)

    def executed(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir()) if self.markers.is_dir() else []

    def check(self, context: str = "") -> None:
        """Count this attack and its effects, then require there were none."""
        escaped, executed = self.escaped(), self.executed()
        count("attacks")
        count("outside_writes", len(escaped))
        count("code_executed", len(executed))
        assert not executed, f"{context}: the repository's code ran: {executed}"
        assert not escaped, f"{context}: files written outside the repository: {escaped}"


# What a notebook, a manifest or a file name may carry to drive a terminal: clear screen,
# window title (OSC 0, BEL-terminated), a hyperlink (OSC 8, ST-terminated), a lone CR, a
# bidi override and an 8-bit CSI.
TERMINAL_ATTACK = (
    "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.invalid/\x1b\\click\x1b]8;;\x1b\\"
    "\rover\u202eevil\x9b31m"
)
_RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def assert_inert(text: str, context: str) -> None:
    """``text`` (what a command printed) carries none of ``TERMINAL_ATTACK`` raw, and shows
    it escaped (so the test sees the text was printed, not dropped)."""
    count("attacks")
    raw = [ch for ch in _RAW if ch in text] + (["\\r"] if "\r" in text.replace("\r\n", "") else [])
    assert not raw, f"{context}: raw {raw} reached the terminal: {text!r}"
    assert "\\x1b[2J" in text, f"{context}: the attack text was not shown at all: {text!r}"
