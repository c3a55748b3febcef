"""Each anchor (the tool nbkit is compared with) in its own minimal venv, as its users install it.

A tool timed from nbkit's development environment is not the tool its users run: that
environment holds every extra and dev dependency, and one of them can make the tool's start-up
several times slower (jupytext took 2.38 s there against 0.33 s alone). So each anchor gets
``benchmarks/.tools/<name>/``, created with ``python -m venv`` and ``pip install <pin>`` (pip
compiles bytecode as it installs, as for any user), with a stamp naming the pinned version;
``run.py`` builds the missing ones on first use and reuses them afterwards. pre-commit gets one
too: the commit rows run real ``git commit`` through it, and it builds the hook environments
of both sides itself. nbkit itself gets one as well (``.tools/nbkit``): this checkout installed
editable with ``[all]`` and no dev extras, so the timed ``nbkit`` follows the sources and pays
for no development dependency (nbdime's stack once cost ``nbkit run`` ~4 s of imports); it is
rebuilt when ``pyproject.toml`` changes (the stamp holds its hash). ``tool(name)`` returns an executable from these venvs only, never from
nbkit's venv or ``PATH``: a missing anchor makes its row say so instead of timing another build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from benchmarks.harness import REPO_ROOT, VENV_BIN

TOOLS_ROOT = Path(__file__).resolve().parent / ".tools"
NBKIT_SIDE = ("nbkit-git", "jupytext", "nbformat", "orjson", "click")


class Anchor(NamedTuple):
    """One anchor venv: what pip installs into it and the executables it provides."""

    packages: tuple[str, ...]  # pinned requirements, the first one the anchor itself
    executables: tuple[str, ...]
    watch: tuple[str, ...] = ()  # files of this checkout whose change means a rebuild


# Pinned so two runs compare the same tools; bump with care (the page records them).
ANCHORS: dict[str, Anchor] = {
    "jupytext": Anchor(("jupytext==1.19.6",), ("jupytext",)),
    "nbstripout": Anchor(("nbstripout==0.9.1",), ("nbstripout",)),
    "nbstripout-fast": Anchor(("nbstripout-fast==1.1.2",), ("nbstripout-fast",)),
    "nb-clean": Anchor(("nb-clean==5.0.0",), ("nb-clean",)),
    "nbdime": Anchor(("nbdime==4.0.4",), ("nbdiff", "nbmerge")),
    # papermill executes with a kernel: its users install ipykernel beside it.
    "papermill": Anchor(("papermill==2.7.0", "ipykernel==7.4.0"), ("papermill",)),
    "pre-commit": Anchor(("pre-commit==4.7.0",), ("pre-commit",)),
    "pyinstrument": Anchor(("pyinstrument==5.1.3",), ("pyinstrument",)),
    # nbkit as its users install it: editable, so it follows the checkout's sources.
    "nbkit": Anchor(("-e", f"{REPO_ROOT}[all]"), ("nbkit",), watch=("pyproject.toml",)),
}


def venv_of(name: str) -> Path:
    return TOOLS_ROOT / name


def _stamp(name: str) -> Path:
    return venv_of(name) / ".nbkit-bench-installed"


def _stamp_words(name: str) -> list[str]:
    """What the stamp must say: the packages, and a hash of each watched file."""
    words = list(ANCHORS[name].packages)
    for watched in ANCHORS[name].watch:
        try:
            data = (REPO_ROOT / watched).read_bytes()
        except OSError:
            data = b""
        words.append(f"{watched}:{hashlib.sha256(data).hexdigest()[:16]}")
    return words


def installed(name: str) -> bool:
    """Whether the anchor's venv holds exactly its pinned packages (the stamp says which)."""
    stamp = _stamp(name)
    return stamp.is_file() and stamp.read_text().split() == _stamp_words(name)


def nbkit_venv_bin() -> Path:
    """The ``bin`` of nbkit's own venv once built, else the dev venv's."""
    return venv_of("nbkit") / "bin" if installed("nbkit") else VENV_BIN


def tool(name: str) -> Path | None:
    """An anchor's executable (``nbstripout``, ``nbdiff``...) from its own venv, or None."""
    for anchor, spec in ANCHORS.items():
        if name in spec.executables and installed(anchor):
            exe = venv_of(anchor) / "bin" / name
            return exe if exe.is_file() else None
    return None


def _pip_env() -> dict[str, str]:
    # pip compiles bytecode only when the interpreter may write it.
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def ensure_anchor(name: str) -> str:
    """Create one anchor venv if missing or stale; returns "" or why it could not."""
    if installed(name):
        return ""
    folder = venv_of(name)
    python = folder / "bin" / "python"
    try:
        if not python.is_file():
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(folder)],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *ANCHORS[name].packages,
            ],
            check=True,
            capture_output=True,
            timeout=900,
            env=_pip_env(),
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else [str(exc)]
        return f"{name} venv not built ({tail[0] if tail else exc})"
    _stamp(name).write_text(" ".join(_stamp_words(name)) + "\n")
    return ""


def ensure_tools_venv(names: tuple[str, ...] | None = None) -> str:
    """Build every anchor venv (or ``names``); returns "" or the problems, one a line."""
    problems = [ensure_anchor(name) for name in names or tuple(ANCHORS)]
    return "\n".join(p for p in problems if p)


def _anchor_version(name: str) -> str:
    if not installed(name):
        return "not installed (its rows are not available)"
    if name == "nbkit":
        return "this checkout (editable, [all])"
    return ANCHORS[name].packages[0].split("==", 1)[1]


def versions() -> dict[str, str]:
    """Versions of everything in the table: nbkit's side, each anchor's own venv, git."""
    found: dict[str, str] = {}
    own = {k.lower(): v for k, v in pip_list("nbkit").items()} if installed("nbkit") else {}
    where = "own venv" if own else "dev venv"
    for name in NBKIT_SIDE:
        try:
            found[f"{name} (nbkit {where})"] = own.get(name) or metadata.version(name)
        except metadata.PackageNotFoundError:
            found[f"{name} (nbkit {where})"] = "not installed"
    for name in ANCHORS:
        extra = ANCHORS[name].packages[1:] if name != "nbkit" else ()
        found[f"{name} (own venv{', with ' + ', '.join(extra) if extra else ''})"] = (
            _anchor_version(name)
        )
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    found["git"] = git.stdout.strip().removeprefix("git version ")
    return found


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``/proc/loadavg`` gives them."""
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def machine() -> dict[str, str]:
    """What the figures were measured on; the table means little without it."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "CPU": cpu,
        "cores (nproc)": nproc or "unknown",
        "memory": memory,
        "load average at start (1, 5, 15 min)": load_average(),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "nbkit venv (timed)": str(nbkit_venv_bin().parent.relative_to(REPO_ROOT)),
    }


def pip_list(name: str) -> dict[str, str]:
    """Every package in an anchor venv (to show it is minimal)."""
    proc = subprocess.run(
        [
            str(venv_of(name) / "bin" / "python"),
            "-m",
            "pip",
            "list",
            "--format",
            "json",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return {p["name"]: p["version"] for p in json.loads(proc.stdout)}
    except ValueError:
        return {}
