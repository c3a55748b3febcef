"""``nbkit env``: the project's run environment and Jupyter kernel, exactly as locked.

A run environment is never the one nbkit and its hooks run from: by default it lives in
``.nbkit/envs/<lock hash>`` (one per lock, git-ignored), and a configured or ``--path``
folder that is nbkit's own interpreter, or holds an nbkit the lock would remove, is refused.
``uv venv`` + ``uv pip sync`` (exact: packages not in the lock are removed), then a kernel
named after the project and the lock hash, so a notebook's kernelspec names the environment
it needs. A marker inside the venv records the lock hash it was built from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbkit import DISTRIBUTION, config
from nbkit.env import lockfile, pylock
from nbkit.env import uv as uvrun
from nbkit.env.lockfile import LockFile
from nbkit.env.pylock import PyLock
from nbkit.env.requirements import normalize, read_input
from nbkit.env.settings import ENVS_DIR, EnvSettings, settings
from nbkit.errors import BadInput, ConflictError, OutsideRepository, shown
from nbkit.fsutil import atomic_write_text
from nbkit.recording import shim_source

MARKER = ".nbkit-env.json"


@dataclass(frozen=True)
class EnvResult:
    venv: Path
    kernel: str
    changed: bool  # False: it already matched the lock, nothing was run
    notes: tuple[str, ...] = ()


def venv_python(venv: Path) -> Path:
    windows = venv / "Scripts" / "python.exe"
    return windows if windows.exists() else venv / "bin" / "python"


def project_name(s: EnvSettings) -> str:
    """The project's name for kernel names: [project] name, else the folder's name."""
    name = s.root.name
    pyproject = s.root / "pyproject.toml"
    if pyproject.is_file():
        from nbkit.config import _load_toml

        value = _load_toml(pyproject).get("project", {}).get("name")
        if isinstance(value, str) and value:
            name = value
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "project"


def kernel_name(s: EnvSettings, lock: LockFile) -> str:
    return f"nbkit-{project_name(s)}-{lock.hash[:8]}"


def current_lock(s: EnvSettings) -> LockFile:
    """The lock, refusing one that is missing, stale or edited by hand.

    A line that is not a hashed pin of what the input declared (an index URL, find-links,
    an editable, a URL, an unhashed pin) is bad input even when the digest was recomputed:
    uv would install from wherever it points. A pylock.toml names each file's location:
    only hashed files from the index in use or the repository pass (``pylock.foreign``)."""
    lock = lockfile.read(s.lock_path)
    if lock is None:
        raise BadInput("no lock written by nbkit lock", shown(s.lock_path), hint="nbkit lock")
    inp = read_input(s)
    if isinstance(lock, PyLock):
        foreign = pylock.foreign(lock, inp, s.local_folders(), s.index_hosts())
    else:
        foreign = [
            f"line {number}: {line[:120]!r} is not a hashed pin the input declared"
            for number, line in lockfile.foreign_lines(lock, inp)
        ]
    for problem in foreign[:1]:
        raise BadInput(
            f"{problem}; nothing was installed",
            shown(s.lock_path),
            hint="nbkit lock writes the lock again from the input",
        )
    found = lockfile.problems(lock, inp, s.python)
    if found:
        raise ConflictError(found[0], shown(s.lock_path), hint="nbkit lock")
    return lock


def read_marker(venv: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((venv / MARKER).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _registered(venv: Path, lock: LockFile, kernel: str) -> bool:
    """Whether the venv was built from this lock and its kernel is still registered."""
    marker = read_marker(venv)
    if marker is None or marker.get("lock_hash") != lock.hash or marker.get("kernel") != kernel:
        return False
    spec = Path(str(marker.get("kernel_dir", ""))) / "kernel.json"
    try:  # another venv with the same lock may have registered the name since
        argv = json.loads(spec.read_bytes()).get("argv") or [""]
    except (OSError, ValueError, AttributeError):
        return False
    return venv_python(venv).exists() and str(argv[0]).startswith(str(venv))


def _same_version(have: str, locked: str) -> bool:
    if have == locked:
        return True
    from packaging.version import InvalidVersion, Version

    try:
        return Version(have) == Version(locked)
    except InvalidVersion:
        return False


def drift(venv: Path, lock: LockFile) -> list[str]:
    """How what is installed in ``venv`` differs from ``lock``, one line each (empty: same).
    Packages ``nbkit env`` added for the kernel (recorded in the marker) are not drift."""
    ignored = set((read_marker(venv) or {}).get("kernel_extras", []))
    have = installed_dists(venv)
    where = shown(venv)
    found: list[str] = []
    located = lock.locations()  # editable and path installs: no version to compare
    for name, source in sorted(located.items()):
        if name not in have:
            found.append(f"{where}: {name} (from {source}) is missing")
    for name, version in sorted(lock.pins().items()):
        if name not in have:
            found.append(f"{where}: {name}=={version} is missing")
        elif not _same_version(have[name], version):
            found.append(f"{where}: {name} is {have[name]}, locked {version}")
    for name in sorted(set(have) - set(lock.pins()) - set(located) - ignored):
        found.append(f"{where}: {name}=={have[name]} is not in the lock")
    return found


def _matches(venv: Path, lock: LockFile, kernel: str) -> bool:
    """Registered for this lock, and exactly the lock is installed (dist-info listing)."""
    return _registered(venv, lock, kernel) and not drift(venv, lock)


def lock_hash(root: Path) -> str | None:
    """The hash of the project's lock (what kernel names and run manifests record)."""
    lock = lockfile.read(settings(config.load(root)).lock_path)
    return lock.hash if lock else None


def env_dir(s: EnvSettings, lock: LockFile) -> Path:
    """The run environment of ``lock``: ``[tool.nbkit.env] venv``, else .nbkit/envs/<hash>."""
    return s.env_path(lock.hash).absolute()


def project_kernel(root: Path) -> str | None:
    """The kernel registered by ``nbkit env`` for the current lock; None if none matches."""
    s = settings(config.load(root))
    lock = lockfile.read(s.lock_path)
    if lock is None:
        return None
    kernel = kernel_name(s, lock)
    return kernel if _registered(env_dir(s, lock), lock, kernel) else None


def project_drift(root: Path) -> list[str]:
    """How the project's environment for the current lock has drifted from it (what
    ``nbkit run`` warns about); empty when it matches or was never built."""
    s = settings(config.load(root))
    lock = lockfile.read(s.lock_path)
    if lock is None:
        return []
    venv = env_dir(s, lock)
    return drift(venv, lock) if _registered(venv, lock, kernel_name(s, lock)) else []


def _holds_nbkit(venv: Path) -> bool:
    """Whether ``venv`` has nbkit installed (its dist-info; no interpreter is started)."""
    folder = DISTRIBUTION.replace("-", "_")
    for site in (*venv.glob("lib/python*/site-packages"), venv / "Lib" / "site-packages"):
        if any(site.glob(f"{folder}-*.dist-info")):
            return True
    return False


def refuse_own_environment(venv: Path, lock: LockFile) -> None:
    """Never sync the interpreter nbkit runs from, nor a venv whose nbkit the lock would
    remove: that would uninstall nbkit (and the hooks, drivers and merges that call it)."""
    own = venv.resolve() == Path(sys.prefix).resolve()
    if own or (_holds_nbkit(venv) and normalize(DISTRIBUTION) not in lock.pins()):
        what = "is the environment nbkit runs from" if own else "has nbkit installed"
        raise BadInput(
            f"{what}; syncing it to the lock would uninstall nbkit",
            shown(venv),
            hint=f"leave [tool.nbkit.env] venv and --path unset: run environments live in "
            f"{ENVS_DIR}/<lock hash>",
        )


def _venv_version(venv: Path) -> str | None:
    """major.minor of the venv's Python, from pyvenv.cfg."""
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^version(?:_info)?\s*=\s*(\d+\.\d+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _create(s: EnvSettings, venv: Path, python: str) -> None:
    """A fresh venv for ``python`` unless one for that version is already there."""
    if _venv_version(venv) == python and venv_python(venv).exists():
        return
    if venv.exists() and not (venv / "pyvenv.cfg").is_file() and any(venv.iterdir()):
        raise BadInput("exists and is not a virtual environment; refusing to replace it", venv)
    uvrun.run(
        ["venv", str(venv), "--python", python, "--clear", "--quiet"],
        cwd=s.root,
        path=shown(venv),
        what="creating the environment",
    )


def installed_dists(venv: Path) -> dict[str, str]:
    """Normalized name -> version of what is installed in ``venv``, read from the names of
    its ``*.dist-info`` folders (``{name}-{version}.dist-info``): a directory listing, no
    interpreter and no uv, so every ``nbkit env`` and ``nbkit run`` can afford it."""
    found: dict[str, str] = {}
    for site in (*venv.glob("lib/python*/site-packages"), venv / "Lib" / "site-packages"):
        try:
            entries = os.listdir(site)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info") and "-" in entry:
                name, version = entry[: -len(".dist-info")].split("-", 1)
                found[normalize(name)] = version
    return found


def installed(s: EnvSettings, venv: Path) -> dict[str, str]:
    """Normalized name -> version of what is installed in ``venv``."""
    return installed_dists(venv)


def _sync(s: EnvSettings, venv: Path, lock: LockFile) -> tuple[str, ...]:
    """Install exactly the lock; ipykernel too when the lock lacks it. Returns those extras."""
    py = str(venv_python(venv))
    where = shown(s.lock_path)
    uvrun.run(
        ["pip", "sync", str(s.lock_path), "--python", py, "--quiet", *s.index_args()],
        cwd=s.root,
        path=where,
        what="installing the lock",
    )
    if "ipykernel" in lock.pins():
        return ()
    before = set(installed(s, venv))
    uvrun.run(
        ["pip", "install", "ipykernel", "--python", py, "--quiet", *s.index_args()],
        cwd=s.root,
        path=where,
        what="installing ipykernel (not in the lock)",
    )
    return tuple(sorted(set(installed(s, venv)) - before))


SHIM_DIR = "nbkit-record"  # inside the run environment: a stand-in ``nbkit`` for Jupyter


def _record_shim(venv: Path, lock: LockFile) -> list[str]:
    """``--env PYTHONPATH`` options giving the kernel ``nbkit.record`` when the lock has no
    nbkit (a kernel opened in Jupyter, not started by nbkit run, gets it this way)."""
    folder = venv / SHIM_DIR
    if normalize(DISTRIBUTION) in lock.pins():
        shutil.rmtree(folder, ignore_errors=True)
        return []
    (folder / "nbkit").mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "nbkit" / "__init__.py", shim_source())
    return ["--env", "PYTHONPATH", str(folder)]


def _register_kernel(s: EnvSettings, venv: Path, kernel: str, lock: LockFile) -> Path:
    """Install the kernelspec into the user's Jupyter data dir (honours JUPYTER_DATA_DIR)."""
    display = f"Python ({project_name(s)}, lock {kernel.rsplit('-', 1)[-1]})"
    proc = subprocess.run(
        [
            str(venv_python(venv)),
            "-m",
            "ipykernel",
            "install",
            "--user",
            "--name",
            kernel,
            "--display-name",
            display,
            *_record_shim(venv, lock),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Installed kernelspec \S+ in (.+)$", proc.stdout + proc.stderr, re.M)
    if proc.returncode != 0 or match is None:
        reason, _ = uvrun.paragraph(proc.stderr or proc.stdout)
        raise BadInput(f"registering the kernel failed: {reason}", shown(venv))
    kernel_dir = Path(match.group(1).strip())
    _forget_old_kernels(s, venv, kernel_dir)
    return kernel_dir


def _forget_old_kernels(s: EnvSettings, venv: Path, kernel_dir: Path) -> None:
    """Remove this project's kernels that would not start: older locks of the same venv, and
    environments that are gone. Kernels of other locks' environments still work: kept."""
    prefix = f"nbkit-{project_name(s)}-"
    for spec in kernel_dir.parent.glob(f"{prefix}*/kernel.json"):
        if spec.parent == kernel_dir:
            continue
        try:
            argv = json.loads(spec.read_bytes()).get("argv", [])
        except (OSError, ValueError, AttributeError):
            continue
        if argv and (str(argv[0]).startswith(str(venv)) or not Path(str(argv[0])).exists()):
            shutil.rmtree(spec.parent, ignore_errors=True)


def _ignore_envs(s: EnvSettings, venv: Path) -> None:
    """Run environments under .nbkit/envs are never committed: a .gitignore says so."""
    envs = (s.root / ENVS_DIR).absolute()
    if venv.parent == envs and not (envs / ".gitignore").exists():
        envs.mkdir(parents=True, exist_ok=True)
        atomic_write_text(envs / ".gitignore", "# run environments built by nbkit env\n*\n")


def _configured_venv(s: EnvSettings, lock: LockFile) -> Path:
    """The venv the project's config names: a setting from the repository, so it must stay
    in the work tree (``venv = "../../.local"`` would have uv build over a folder of yours).
    Compared as text: a ``.venv`` you symlinked to a faster disk is yours to keep."""
    path = s.env_path(lock.hash)
    rel = os.path.relpath(os.path.normpath(path.absolute()), s.root.absolute())
    if rel.split(os.sep)[0] == ".." or ".git" in rel.split(os.sep):
        raise OutsideRepository(
            f"[tool.nbkit.env] venv names {os.path.normpath(path)}, outside the project; "
            "nothing was built",
            s.root,
            hint="set a folder inside the project, or pass --path for a place of your own",
        )
    _refuse_committed_links(s.root, path)
    return path


def _refuse_committed_links(root: Path, path: Path) -> None:
    """A symlink on the way to the venv that the repository itself brings (``.nbkit`` or
    ``.venv`` committed as a link) would have uv build wherever it points: refused. A link
    you made yourself (not tracked by git) is yours to keep."""
    from nbkit import git

    top = git.toplevel(root)
    if top is None:
        return
    here = top.absolute()
    for part in Path(os.path.relpath(path.absolute(), here)).parts:
        here = here / part
        if here.is_symlink() and git.tracked_files(top, [git.relpath(top, here)]):
            raise OutsideRepository(
                f"{os.path.normpath(here)} is a symlink the repository commits (to "
                f"{os.readlink(here)}); nothing was built",
                here,
                hint="remove the link from the repository, or pass --path for a place of "
                "your own",
            )


def ensure(s: EnvSettings, venv: Path | None = None) -> EnvResult:
    """Create or update the venv to match the lock exactly, and register its kernel."""
    lock = current_lock(s)
    venv = (venv or _configured_venv(s, lock)).absolute()
    refuse_own_environment(venv, lock)
    kernel = kernel_name(s, lock)
    if _matches(venv, lock, kernel):
        return EnvResult(venv, kernel, changed=False)
    python = lock.header.get("python") or s.python_target
    s.index_args()  # a repository index the user has not agreed to: refused before any build
    _ignore_envs(s, venv)
    _create(s, venv, python)
    (venv / MARKER).unlink(missing_ok=True)  # a half-updated venv must not look current
    extras = _sync(s, venv, lock)
    kernel_dir = _register_kernel(s, venv, kernel, lock)
    marker = {
        "lock_hash": lock.hash,
        "kernel": kernel,
        "kernel_dir": str(kernel_dir),
        "python": python,
        "kernel_extras": list(extras),
        "lock": str(s.lock_path),
    }
    atomic_write_text(venv / MARKER, json.dumps(marker, indent=1) + "\n")
    notes: tuple[str, ...] = ()
    if extras:
        notes = ("ipykernel is not in the lock: installed it separately (add it to the input)",)
    return EnvResult(venv, kernel, changed=True, notes=notes)


def differences(s: EnvSettings, venv: Path | None = None) -> list[str]:
    """How the venv differs from the lock, one line each (empty: it matches)."""
    lock = current_lock(s)
    venv = (venv or env_dir(s, lock)).absolute()
    if not venv_python(venv).exists():
        return [f"{shown(venv)}: no environment; run `nbkit env`"]
    marker = read_marker(venv) or {}
    found = drift(venv, lock)
    if not found and marker.get("lock_hash") != lock.hash:
        found.append(f"{shown(venv)}: its kernel was not registered for this lock; run `nbkit env`")
    return found
