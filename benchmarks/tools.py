"""The comparison tools live in their own venv (``benchmarks/.tools-venv``), created with pip.

nbstripout, nb-clean, nbstripout-fast and the profiler are what users would use instead of
nbkit or to look inside it; none of them may enter nbkit's own dependencies, so they get a
separate environment that ``run.py`` creates on first use and reuses afterwards.
"""

from __future__ import annotations

import contextlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from benchmarks.harness import REPO_ROOT, TOOLS_BIN, VENV_BIN

TOOLS_VENV = TOOLS_BIN.parent
TOOL_PACKAGES = ("nbstripout", "nb-clean", "nbstripout-fast", "pyinstrument")
NBKIT_SIDE = ("nbkit", "jupytext", "nbformat", "nbdime", "papermill", "orjson", "uv", "click")


def ensure_tools_venv() -> str:
    """Create the tools venv and install the tools; returns "" or why it could not."""
    python = TOOLS_BIN / "python"
    stamp = TOOLS_VENV / ".installed"
    if stamp.is_file() and stamp.read_text().split() == list(TOOL_PACKAGES):
        return ""
    try:
        if not python.is_file():
            subprocess.run(
                [sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True, capture_output=True
            )
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *TOOL_PACKAGES,
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else [str(exc)]
        return f"tools venv not built ({tail[0] if tail else exc})"
    stamp.write_text(" ".join(TOOL_PACKAGES) + "\n")
    return ""


def _tools_versions() -> dict[str, str]:
    python = TOOLS_BIN / "python"
    if not python.is_file():
        return {}
    proc = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        listed = json.loads(proc.stdout)
    except ValueError:
        return {}
    wanted = {p.replace("_", "-") for p in TOOL_PACKAGES}
    return {p["name"]: p["version"] for p in listed if p["name"].replace("_", "-") in wanted}


def versions() -> dict[str, str]:
    """Versions of everything in the table: nbkit's side, the tools venv, git."""
    found: dict[str, str] = {}
    for name in NBKIT_SIDE:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    for name, version in _tools_versions().items():
        found[f"{name} (tools venv)"] = version
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    found["git"] = git.stdout.strip().removeprefix("git version ")
    return found


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
    load = ""
    with contextlib.suppress(OSError):
        load = Path("/proc/loadavg").read_text().split(" ")[0]
    return {
        "CPU": cpu,
        "cores (nproc)": nproc or "unknown",
        "memory": memory,
        "load average at start (1 min)": load or "unknown",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "nbkit venv": str(VENV_BIN.parent.relative_to(REPO_ROOT)),
    }
