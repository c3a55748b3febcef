"""Run the uv binary and turn its failures into one-line errors a user can act on.

uv is found through the ``uv`` Python package (the ``env`` extra), imported lazily so the
commit hooks never pay for it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from nbkit.errors import BadInput, MissingDependency

_NETWORK_HINTS = (
    "error sending request",
    "tcp connect error",
    "dns error",
    "failed to lookup address",
    "network is unreachable",
    "connection refused",
    "timed out",
    "could not connect",
)
_URL_RE = re.compile(r"https?://[^\s)`'\"]+")


def uv_bin() -> str:
    """The uv executable: the ``uv`` package's binary, else one on PATH."""
    try:
        from uv import find_uv_bin
    except ImportError:
        found = shutil.which("uv")
        if found is None:
            raise MissingDependency(
                "environments need uv, which is not installed",
                hint="pip install 'nbkit-git[env]'",
            ) from None
        return found
    return str(find_uv_bin())


def version() -> str:
    """uv's version number, e.g. ``0.5.1``."""
    out = run(["--version"], cwd=Path.cwd(), path=None, what="uv --version")
    parts = out.split()
    return parts[1] if len(parts) > 1 else out.strip()


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    path: str | Path | None,
    what: str,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``uv args`` and return stdout; a failure raises ``BadInput`` naming ``path``."""
    full_env = {**os.environ, "NO_COLOR": "1", "UV_NO_PROGRESS": "1", **(env or {})}
    try:
        proc = subprocess.run(
            [uv_bin(), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env=full_env,
            check=False,
        )
    except OSError as exc:
        raise BadInput(f"cannot run uv: {exc.strerror or exc}", path) from None
    if proc.returncode != 0:
        raise failure(proc.stderr, path, what)
    return proc.stdout


def paragraph(stderr: str) -> tuple[str, str | None]:
    """uv's error as one line, and uv's own hint (if any) as another."""
    reasons: list[str] = []
    hints: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or line.startswith("^"):
            continue
        if line.startswith("hint:"):
            hints.append(line[len("hint:") :].strip())
            continue
        for prefix in ("error:", "cause:", "Caused by:", "×", "╰─▶", "help:"):
            if line.startswith(prefix):
                line = line[len(prefix) :].strip()
        if line and line not in reasons:
            reasons.append(line)
    reason = "; ".join(reasons) or "uv failed without a message"
    return reason, (" ".join(hints) or None)


def failure(stderr: str, path: str | Path | None, what: str) -> BadInput:
    """The error to raise for a failed uv call: network, parse, or resolution failure."""
    reason, hint = paragraph(stderr)
    lowered = stderr.lower()
    if any(h in lowered for h in _NETWORK_HINTS):
        url = _URL_RE.search(stderr)
        where = f" ({url.group(0)})" if url else ""
        return BadInput(
            f"{what} needs the package index, which cannot be reached{where}",
            path,
            hint="check the network; or use --find-links DIR --no-index, or --offline "
            "with a warm uv cache",
        )
    if "couldn't parse requirement" in lowered or "failed to parse" in lowered:
        return BadInput(f"cannot parse: {reason}", path, hint=hint)
    return BadInput(f"{what} failed: {reason}", path, hint=hint)
