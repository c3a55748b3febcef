"""``nbkit install`` / ``nbkit uninstall``: git hook shims, notebook drivers, attributes.

Installation is polite and reversible: a hook that was already there is moved aside to
``<hook>.nbkit-orig`` and still run by nbkit's shim; every git config value and
``.gitattributes`` line nbkit adds is recorded (with what was there before) in
``.git/nbkit-install.json`` so ``uninstall`` puts back exactly what it found.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import git, resources
from nbkit.config import CleanPolicy
from nbkit.errors import BadInput, shown
from nbkit.fsutil import atomic_write_bytes, detect_newline

MARKER = b"# nbkit-hook:"
ORIG_SUFFIX = ".nbkit-orig"
STATE_FILE = "nbkit-install.json"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
ATTR_DRIVERS = "*.ipynb diff=nbkit merge=nbkit"
ATTR_FILTER = "*.ipynb filter=nbkit"
ALL_HOOKS = ("pre-commit", "post-checkout", "post-merge")


class InstallOptions(NamedTuple):
    root: Path  # the work tree root
    python: str  # interpreter written into shims and driver commands (the one installing)
    with_filter: bool = False  # also the clean filter (`filter.nbkit.process`)


class Change(NamedTuple):
    what: str  # a hook file, a git config key, or .gitattributes
    action: str  # installed, updated, unchanged, moved aside, set, added, removed, restored...

    def __str__(self) -> str:
        return f"{self.what}: {self.action}"


def repo_root(start: Path) -> Path:
    """The work tree root containing ``start``; nbkit install only makes sense inside git."""
    root = git.toplevel(start)
    if root is None:
        raise BadInput("not inside a git repository", start, hint="run `git init` first")
    return root


# Interpreter flags for every entry point git or a hook shim starts, most isolated first.
# The work tree is untrusted: a `click.py` or `types.py` in it must never be imported, so the
# current folder never goes on sys.path (-P), and neither do PYTHONPATH, PYTHONSTARTUP or
# PYTHONUSERBASE from the environment of whoever runs git (-E), nor the user site (-s; -I is
# all three). nbkit's entry points run no user code, so they need none of these: only nbkit
# itself must stay importable. A user install (pip --user) puts nbkit in the user site (in the
# home, not in a repository): -E -P keeps it. An nbkit found only through PYTHONPATH keeps
# that (-P): then PYTHONPATH is the user's to keep free of relative entries.
ISOLATION = ("-I", "-E -P", "-P")


def interpreter_flags(python: str) -> str:
    """The most isolated flags with which ``python`` still imports this same nbkit.

    Asked once, at install, of the interpreter itself (a Python start, outside any work
    tree); an interpreter that cannot be started gets the strictest flags (the shim falls
    back to ``nbkit`` on PATH then)."""
    import nbkit

    ours = os.path.realpath(nbkit.__file__)
    for flags in ISOLATION[:-1]:
        probe = [python, *flags.split(), "-c", "import nbkit; print(nbkit.__file__)"]
        try:
            proc = subprocess.run(
                probe, cwd=tempfile.gettempdir(), capture_output=True, check=False, timeout=60
            )
        except (OSError, subprocess.SubprocessError):
            return ISOLATION[0]
        found = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode == 0 and found and os.path.realpath(found) == ours:
            return flags
    return ISOLATION[-1]


def nbkit_command(python: str, flags: str = ISOLATION[0]) -> str:
    """How git should start nbkit: the installing interpreter, quoted for sh, isolated from
    the work tree and the environment (see ``ISOLATION``)."""
    return f"{shlex.quote(python)} {flags} -m nbkit"


def git_settings(python: str, with_filter: bool, flags: str = ISOLATION[0]) -> dict[str, str]:
    """The git config values nbkit sets (drivers; the filter only when asked)."""
    cmd = nbkit_command(python, flags)
    values = {
        "diff.nbkit.textconv": f"{cmd} textconv",
        "merge.nbkit.name": "nbkit notebook merge driver",
        "merge.nbkit.driver": f"{cmd} merge-driver %O %A %B %P",
    }
    if with_filter:
        values["filter.nbkit.process"] = f"{cmd} filter-process"
    return values


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks; refuses when ``core.hooksPath`` sends git elsewhere."""
    custom = git.config_get(root, "core.hooksPath")
    if custom:
        raise BadInput(
            f"core.hooksPath is set to {custom!r}, so git ignores .git/hooks",
            root,
            hint=f"run `git config --unset core.hooksPath`, or call `nbkit hook <name>` from "
            f"the hooks in {custom}",
        )
    return git.git_dir(root) / "hooks"


def wanted_hooks(root: Path) -> tuple[str, ...]:
    """pre-commit only when the pre-commit framework is not in charge of that hook."""
    if (root / PRE_COMMIT_CONFIG).is_file():
        return tuple(h for h in ALL_HOOKS if h != "pre-commit")
    return ALL_HOOKS


def shim(name: str, python: str, flags: str = ISOLATION[0]) -> bytes:
    """The hook script for ``name`` with the installing interpreter and its flags written in."""
    text = resources.read_text("hooks", name).replace("@NBKIT_FLAGS@", flags)
    return text.replace("@NBKIT_PYTHON@", shlex.quote(python)).encode("utf-8")


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_bytes()[:512]
    except OSError:
        return False


def _install_hook(folder: Path, name: str, script: bytes) -> Change:
    target = folder / name
    orig = folder / (name + ORIG_SUFFIX)
    if is_ours(target):
        if target.read_bytes() == script and os.access(target, os.X_OK):
            return Change(shown(target), "unchanged")
        atomic_write_bytes(target, script, mode=0o755, private=True)
        return Change(shown(target), "updated")
    action = "installed"
    if target.exists() or target.is_symlink():
        if orig.exists() or orig.is_symlink():
            raise BadInput(
                f"both a foreign hook and {orig.name} exist; nbkit will not overwrite either",
                target,
                hint="merge them by hand or remove one, then run nbkit install again",
            )
        os.replace(target, orig)
        action = f"installed (the previous hook is kept as {orig.name} and still runs)"
    atomic_write_bytes(target, script, mode=0o755, private=True)
    return Change(shown(target), action)


def _uninstall_hook(folder: Path, name: str) -> list[Change]:
    target = folder / name
    orig = folder / (name + ORIG_SUFFIX)
    changes = []
    if is_ours(target):
        target.unlink()
        changes.append(Change(shown(target), "removed"))
    elif target.exists() or target.is_symlink():
        if orig.exists():
            changes.append(Change(shown(orig), "kept (a foreign hook now holds its place)"))
        return changes
    if orig.exists() or orig.is_symlink():
        os.replace(orig, target)
        changes.append(Change(shown(target), "restored (the hook that was there before nbkit)"))
    return changes


# --- recorded state -------------------------------------------------------------------------


def _state_path(root: Path) -> Path:
    return git.git_dir(root) / STATE_FILE


def _load_state(root: Path) -> dict[str, Any]:
    try:
        state = json.loads(_state_path(root).read_bytes())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _save_state(root: Path, state: dict[str, Any]) -> None:
    data = json.dumps(state, indent=1, sort_keys=True).encode()
    atomic_write_bytes(_state_path(root), data, private=True)


# --- git config -----------------------------------------------------------------------------


def _config_local(root: Path, key: str) -> str | None:
    out = git.run(root, "config", "--local", "--get", key, check=False).decode("utf-8")
    return out.rstrip("\n") or None


def _set_config(root: Path, values: dict[str, str], previous: dict[str, Any]) -> list[Change]:
    changes = []
    for key, value in values.items():
        current = _config_local(root, key)
        if key not in previous:
            previous[key] = current if current != value else None
        if current == value:
            changes.append(Change(key, "unchanged"))
            continue
        git.run(root, "config", "--local", key, value)
        changes.append(Change(key, f"set to {value}"))
    return changes


def _unrecorded_nbkit_keys(root: Path) -> dict[str, Any]:
    """Without a record (it was deleted): only the keys that still hold nbkit's own values."""
    found: dict[str, Any] = {}
    for key, value in git_settings("python", True).items():  # any flags: the tail decides
        current = _config_local(root, key)
        tail = value.partition(" -m nbkit")[2]
        if current is not None and (current == value or (tail and current.endswith(tail))):
            found[key] = None
    return found


def _restore_config(root: Path, previous: dict[str, Any]) -> list[Change]:
    """Put back each recorded value (unset the keys that had none), drop emptied sections."""
    changes = []
    for key, before in previous.items():
        current = _config_local(root, key)
        if before is None and current is not None:
            git.run(root, "config", "--local", "--unset-all", key, check=False)
            changes.append(Change(key, "removed"))
        elif before is not None and current != before:
            git.run(root, "config", "--local", key, str(before))
            changes.append(Change(key, f"restored to {before}"))
    for section in sorted({key.rsplit(".", 1)[0] for key in previous}):
        pattern = "^" + section.replace(".", r"\.") + r"\."
        left = git.run(root, "config", "--local", "--get-regexp", pattern, check=False)
        if not left.strip():
            git.run(root, "config", "--local", "--remove-section", section, check=False)
    return changes


# --- .gitattributes -------------------------------------------------------------------------


def _attribute_lines(data: bytes) -> list[str]:
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines()]


def _add_attributes(root: Path, lines: list[str], record: dict[str, Any]) -> list[Change]:
    path = root / ".gitattributes"
    existed = path.exists()
    data = path.read_bytes() if existed else b""
    record.setdefault("created", not existed)
    added: list[str] = record.setdefault("added", [])
    present = set(_attribute_lines(data))
    missing = [line for line in lines if line not in present]
    if not missing:
        return [Change(shown(path), "unchanged")]
    newline = detect_newline(data) if data else "\n"
    if data and not data.endswith(b"\n"):  # finish the last line (undone by uninstall)
        data += newline.encode()
        record["finished_last_line"] = True
    data += "".join(line + newline for line in missing).encode("utf-8")
    atomic_write_bytes(path, data, root=root)
    added.extend(line for line in missing if line not in added)
    return [Change(shown(path), f"added {line!r}") for line in missing]


def _remove_attributes(root: Path, record: dict[str, Any]) -> list[Change]:
    path = root / ".gitattributes"
    added = set(record.get("added", []))
    if not added or not path.is_file():
        return []
    kept, removed = [], []
    for line in path.read_bytes().splitlines(keepends=True):
        text = line.decode("utf-8", "replace").strip()
        if text in added and text not in removed:
            removed.append(text)
            continue
        kept.append(line)
    data = b"".join(kept)
    if record.get("finished_last_line") and data.endswith(b"\n"):
        data = data[: -2 if data.endswith(b"\r\n") else -1]
    if record.get("created") and not data.strip():
        path.unlink()
        return [Change(shown(path), "removed (nbkit created it)")]
    if removed:
        atomic_write_bytes(path, data, root=root)
    return [Change(shown(path), f"removed {line!r}") for line in removed]


# --- notebooks committed before the filter ------------------------------------------------


def unclean_committed(
    root: Path, policy: CleanPolicy, managed: Callable[[str | Path], bool]
) -> list[str]:
    """Tracked notebooks whose staged content the clean filter would change. git shows them
    as modified once the filter is on, until ``git add --renormalize .`` restages them."""
    from nbkit.clean import clean_bytes

    paths = [p for p in git.tracked_files(root, ["*.ipynb"]) if managed(root / p)]
    blobs = git.index_blobs(root, paths)
    contents = git.read_blobs(root, blobs.values())
    found = []
    for path, sha in blobs.items():
        data = contents.get(sha, b"")
        try:
            if data and clean_bytes(data, path, policy) != data:
                found.append(path)
        except BadInput:  # the filter passes such a file through unchanged
            continue
    return found


# --- the two commands -----------------------------------------------------------------------


def install(options: InstallOptions) -> list[Change]:
    """Install hook shims, driver config and attributes; running it twice changes nothing."""
    root = options.root
    folder = hooks_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    state = _load_state(root)
    flags = interpreter_flags(options.python)
    changes = [
        _install_hook(folder, name, shim(name, options.python, flags))
        for name in wanted_hooks(root)
    ]
    if (root / PRE_COMMIT_CONFIG).is_file():
        # an nbkit shim from before the framework arrived would run nbkit twice per commit
        changes += _uninstall_hook(folder, "pre-commit")
        changes.append(
            Change("pre-commit", f"left to the pre-commit framework ({PRE_COMMIT_CONFIG})")
        )
    with_filter = options.with_filter or "filter.nbkit.process" in state.get("config", {})
    values = git_settings(options.python, with_filter, flags)
    changes += _set_config(root, values, state.setdefault("config", {}))
    lines = [ATTR_DRIVERS] + ([ATTR_FILTER] if with_filter else [])
    changes += _add_attributes(root, lines, state.setdefault("attributes", {}))
    _save_state(root, state)
    return changes


def uninstall(root: Path) -> list[Change]:
    """Remove nbkit's hooks, config and attributes; put back what was there before.

    Works even if core.hooksPath was set since: nbkit's shims are always in .git/hooks."""
    folder = git.git_dir(root) / "hooks"
    state = _load_state(root)
    changes: list[Change] = []
    for name in ALL_HOOKS:
        changes += _uninstall_hook(folder, name)
    previous = state.get("config") or _unrecorded_nbkit_keys(root)
    changes += _restore_config(root, previous)
    changes += _remove_attributes(root, state.get("attributes", {}))
    with contextlib.suppress(FileNotFoundError):
        _state_path(root).unlink()
    return changes
