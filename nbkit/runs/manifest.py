"""What a manifest records besides the execution itself: git state, platform, numerics
environment, input fingerprints, the kernel's own interpreter and packages, the files the
kernel read, metrics and the experiment header.

The kernel's facts come from a startup file ipykernel runs before the first cell, in the
same kernel (no second interpreter start, no extra cell in the executed notebook): it writes
the interpreter's version and package list to a file and installs a ``sys.addaudithook``
hook that appends every file opened for reading to a log, so the list survives a failing
cell, a timeout or a dead kernel.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbkit import git
from nbkit.cache import Cache
from nbkit.errors import BadInput, GitError
from nbkit.fsutil import atomic_write_text
from nbkit.notebook import Notebook, source_text
from nbkit.recording import MIME_TYPE as RECORD_MIME
from nbkit.recording import kernel_shim

SETUP_FILE = ".nbkit_setup.py"
KERNEL_INFO = ".kernel.json"
READS_LOG = ".reads.log"
NUMERIC_ENV = ("PYTHONHASHSEED", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
NUMERIC_PREFIXES = ("MKL_", "OPENBLAS_")
_NOISE_DIRS = ("/proc/", "/sys/", "/dev/", "/etc/", "/usr/lib/", "/usr/share/", "/usr/local/lib/")
_CHUNK = 1 << 20

# Runs in the kernel before the notebook's first cell. Only the stdlib; never raises out of
# the hook (an exception in an audit hook would fail the user's open()). Each log line is
# JSON: {"p": path, "s": size, "m": mtime_ns} when a file is first opened for reading (or
# imported: "py"), {"p", "h": sha256} just before a file read earlier is opened for writing
# (the content the notebook read, before it changes it), {"p", "w": 1} when a file is
# opened for writing before it was ever read (an output, not an input).
_SETUP_CODE = """\
def _nbkit_setup(info_path, log_path, skip):
    import hashlib, json, os, platform, sys
    pkgs = {}
    # Folder names give name and version without parsing every METADATA file (10x faster).
    for folder in reversed([p for p in sys.path if p and os.path.isdir(p)]):
        for entry in os.listdir(folder):
            if entry.endswith((".dist-info", ".egg-info")) and "-" in entry:
                name, version = entry.rsplit(".", 1)[0].split("-", 1)
                pkgs[name.lower().replace("_", "-")] = version.split("-")[0]
    info = {"python": platform.python_version(), "implementation":
            platform.python_implementation(), "executable": sys.executable, "pid": os.getpid(),
            "packages": dict(sorted(pkgs.items()))}
    with open(info_path, "w", encoding="utf-8") as fh:
        json.dump(info, fh)
    log = open(log_path, "a", buffering=1, encoding="utf-8")
    read, done = set(), set()
    skip = tuple(skip) + tuple(os.path.join(p, "") for p in
                               {sys.prefix, sys.base_prefix, sys.exec_prefix})
    def write(entry):
        log.write(json.dumps(entry) + "\\n")
    def hook(event, args):
        if event != "open":
            return
        try:
            path, mode, flags = args
            if isinstance(path, int):
                return
            writes = (flags & 3) != os.O_RDONLY or (
                isinstance(mode, str) and any(c in mode for c in "wax+"))
            path = os.path.abspath(os.fsdecode(path))
            if path in done or path.startswith(skip):
                return
            if writes:
                done.add(path)  # the first write decides: before it the content is the input
                # r+ / a+ on an existing file reads it too: an input about to change
                updates = (flags & 3) == os.O_RDWR and not flags & os.O_TRUNC
                if not os.path.isfile(path) or (path not in read and not updates):
                    write({"p": path, "w": 1})
                    return
                st = os.stat(path)
                digest = hashlib.sha256()
                with open(path, "rb") as fh:  # audited again: ``done`` stops the recursion
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(chunk)
                write({"p": path, "s": st.st_size, "m": st.st_mtime_ns, "h": digest.hexdigest()})
                return
            if path in read:
                return
            read.add(path)
            st = os.stat(path)
            if (st.st_mode & 0o170000) != 0o100000:  # not a regular file (a folder, a pipe)
                return
            entry = {"p": path, "s": st.st_size, "m": st.st_mtime_ns}
            if path.endswith((".py", ".pyc")):
                entry["py"] = 1
            write(entry)
        except Exception:
            pass
    sys.addaudithook(hook)
_nbkit_setup(%s, %s, %s)
del _nbkit_setup
"""


def write_setup(out_dir: Path) -> Path:
    """Write the kernel's startup file (run by ipykernel before the first cell, through
    ``--IPKernelApp.exec_files``); its arguments are JSON literals: data, never user code."""
    skip = sorted({os.path.join(p, "") for p in (sys.prefix, sys.base_prefix)} | {*_NOISE_DIRS})
    code = _SETUP_CODE % (
        json.dumps(str(out_dir / KERNEL_INFO)),
        json.dumps(str(out_dir / READS_LOG)),
        json.dumps(skip),
    )
    code += kernel_shim()  # `import nbkit` works in a kernel without nbkit (nbkit.recording)
    path = out_dir / SETUP_FILE
    atomic_write_text(path, code)
    return path


def kernel_facts(out_dir: Path) -> dict[str, Any]:
    """What the setup cell found out about the kernel's interpreter (empty if it never ran)."""
    try:
        data = json.loads((out_dir / KERNEL_INFO).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class FileHashes:
    """sha256 of large files, remembered per path+size+mtime in ``nbkit.cache`` (each cache
    key carries its value after the last NUL), so a big data set is hashed once."""

    NAMESPACE = "file-sha256"

    def __init__(self, cache: Cache):
        self.cache = cache
        self._known: dict[str, str] | None = None

    def _map(self) -> dict[str, str]:
        if self._known is None:
            pairs = (k.rpartition("\0") for k in self.cache.keys(self.NAMESPACE))
            self._known = {key: value for key, _, value in pairs}
        return self._known

    def get(self, key: str) -> str | None:
        return self._map().get(key)

    def put(self, key: str, value: str) -> None:
        self._map()[key] = value
        self.cache.add(self.NAMESPACE, f"{key}\0{value}")


def sha256_file(path: Path, hashes: FileHashes | None = None) -> tuple[int, str]:
    """(size, sha256) of a file; files over 1 MiB are looked up in ``hashes`` first."""
    stat = path.stat()
    key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    large = hashes is not None and stat.st_size >= _CHUNK
    if large and hashes is not None and (known := hashes.get(key)):
        return stat.st_size, known
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if large and hashes is not None:
        hashes.put(key, value)
    return stat.st_size, value


def _display_path(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def fingerprint(
    root: Path, paths: Iterable[Path], hashes: FileHashes | None
) -> list[dict[str, Any]]:
    """path (relative to the root when inside it), size and sha256 of each file."""
    result = []
    for path in sorted(set(paths)):
        try:
            size, digest = sha256_file(path, hashes)
        except OSError:
            continue  # gone or unreadable since it was opened: nothing to fingerprint
        result.append({"path": _display_path(root, path), "size": size, "sha256": digest})
    return result


def declared_inputs(root: Path, patterns: Sequence[str]) -> list[Path]:
    """Files matching ``--inputs`` globs (relative to the root); a glob matching nothing is
    bad input, because a typo would otherwise record no input at all."""
    found: list[Path] = []
    for pattern in patterns:
        base = pattern if os.path.isabs(pattern) else str(root / pattern)
        matches = [Path(p) for p in glob.glob(base, recursive=True) if Path(p).is_file()]
        if not matches:
            raise BadInput("no file matches this input pattern", pattern)
        found.extend(matches)
    return found


@dataclass
class ReadLog:
    """What the kernel's audit hook saw, by absolute path."""

    read: dict[Path, tuple[int, int]] = field(default_factory=dict)  # size, mtime_ns at open
    before_write: dict[Path, str] = field(default_factory=dict)  # sha256 before it changed
    written: set[Path] = field(default_factory=set)  # written before any read: outputs
    modules: set[Path] = field(default_factory=set)  # Python source the kernel imported


def _module_source(path: Path) -> Path:
    """``pkg/__pycache__/mod.cpython-311.pyc`` -> ``pkg/mod.py`` (imports may read only the
    cached bytecode)."""
    if path.suffix == ".pyc" and path.parent.name == "__pycache__":
        return path.parent.parent / (path.name.split(".", 1)[0] + ".py")
    return path


def read_log(out_dir: Path) -> ReadLog:
    """Parse the audit hook's log (one JSON object a line; a torn last line is skipped)."""
    log = ReadLog()
    try:
        lines = (out_dir / READS_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return log
    for line in lines:
        try:
            entry = json.loads(line)
            path = Path(entry["p"])
        except (ValueError, KeyError, TypeError):
            continue
        if entry.get("w"):
            log.written.add(path)
        elif entry.get("py"):
            log.modules.add(_module_source(path))
        else:
            if isinstance(entry.get("h"), str):
                log.before_write[path] = entry["h"]
            if isinstance(entry.get("s"), int) and isinstance(entry.get("m"), int):
                log.read.setdefault(path, (entry["s"], entry["m"]))
    return log


def add_native(
    log: ReadLog, read: Mapping[Path, tuple[int, int] | None], written: Iterable[Path]
) -> None:
    """Merge what the inotify watch saw (``nbkit.runs.watch``) into the audit log: files
    opened by native code, which Python's ``open`` never saw."""
    log.written |= {p for p in written if p not in log.read}
    for path, stat in read.items():
        known = path in log.read or path in log.written or path in log.modules
        if stat is not None and not known:
            log.read[path] = stat


def data_reads(out_dir: Path, paths: Iterable[Path], exclude: Iterable[Path]) -> list[Path]:
    """The data files among ``paths``: not excluded, not tool state (libraries, caches)."""
    skip = {str(p.resolve()) for p in exclude}
    noise = _noise_prefixes(out_dir)
    result = []
    for path in dict.fromkeys(paths):
        text = str(path)
        resolved = str(path.resolve())
        if resolved in skip or resolved.startswith(noise) or "site-packages" in text:
            continue
        result.append(path)
    return result


def fingerprint_reads(
    root: Path, log: ReadLog, paths: Iterable[Path], hashes: FileHashes | None
) -> list[dict[str, Any]]:
    """Fingerprints of files as the kernel first read them.

    A file changed after it was read (the notebook appended to it, or rewrote it) is
    recorded with the hash taken just before its first write and ``modified: true``; one
    that changed without nbkit seeing the write (native code, another process) keeps its
    size at open and ``sha256: null``, since its content at open is unknown.
    """
    result = []
    for path in sorted(set(paths)):
        opened = log.read.get(path)
        shown = _display_path(root, path)
        if path in log.before_write:
            size = opened[0] if opened else None
            entry = {"path": shown, "size": size, "sha256": log.before_write[path]}
            result.append({**entry, "modified": True})
            continue
        try:
            stat = path.stat()
        except OSError:
            stat = None
        if stat is None or not path.is_file():
            if opened is not None:  # read, then deleted or replaced by a folder
                result.append({"path": shown, "size": opened[0], "sha256": None, "modified": True})
            continue
        if opened is not None and opened != (stat.st_size, stat.st_mtime_ns):
            result.append({"path": shown, "size": opened[0], "sha256": None, "modified": True})
            continue
        try:
            size, digest = sha256_file(path, hashes)
        except OSError:
            continue
        result.append({"path": shown, "size": size, "sha256": digest})
    return result


def _noise_prefixes(out_dir: Path) -> tuple[str, ...]:
    """Folders whose files are tool state, not data: libraries, caches, Jupyter/IPython
    and matplotlib settings, the run folder itself."""
    home = Path.home()
    folders = [p for p in sys.path if p and "site-packages" in p]
    folders += [sys.prefix, sys.base_prefix, sys.exec_prefix]
    folders += [os.environ.get("XDG_CACHE_HOME") or str(home / ".cache")]
    folders += [str(home / name) for name in (".ipython", ".jupyter", ".matplotlib")]
    folders += [
        os.environ.get(v, "")
        for v in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "MPLCONFIGDIR", "IPYTHONDIR")
    ]
    folders += [str(home / ".config" / "matplotlib"), str(out_dir)]
    return tuple(str(Path(f).resolve()) + os.sep for f in folders if f)


def git_state(root: Path, notebook: Path, ledger_dir: Path) -> dict[str, Any]:
    """Commit, branch, and whether the tree differs from it (tracked changes, or an
    untracked notebook); ``patch`` holds ``git diff HEAD`` then. Two git calls when clean."""
    ledger_rel = git.relpath(root, ledger_dir)
    spec = ["."] if ledger_rel.startswith("..") else [".", f":(exclude){ledger_rel}"]
    try:
        status = git.run(
            root, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no", "--", *spec
        )
    except GitError:
        return {"commit": None, "branch": None, "dirty": True, "patch": b"", "why": "no git"}
    entries = [e.decode("utf-8", "surrogateescape") for e in status.split(b"\0") if e]
    heads = dict(e[2:].split(" ", 1) for e in entries if e.startswith("# ") and " " in e[2:])
    commit = heads.get("branch.oid", "(initial)")
    if commit == "(initial)":
        return {"commit": None, "branch": None, "dirty": True, "patch": b"", "why": "no commit"}
    branch = heads.get("branch.head")
    changed = any(e[:2] in ("1 ", "2 ", "u ") for e in entries)
    patch = git.run(root, "diff", "HEAD", "--binary", "--", *spec) if changed else b""
    rel = git.relpath(root, notebook)
    untracked = not git.tracked_files(root, [f":(literal){rel}"])
    if untracked:
        patch += git.run(
            root, "diff", "--no-index", "--binary", "--", "/dev/null", rel, check=False
        )
    why = "untracked notebook" if untracked else ("uncommitted changes" if patch else "")
    return {
        "commit": commit,
        "branch": None if branch in (None, "(detached)") else branch,
        "dirty": bool(patch),
        "patch": patch,
        "why": why,
    }


_UNTRACKED_LIMIT = 1 << 20  # larger untracked files are data: fingerprinted, not stored


def untracked_reads(
    root: Path, modules: Iterable[Path], files: Iterable[Path]
) -> tuple[list[str], bytes]:
    """Files in the work tree the kernel imported or read that git does not track: the run
    depended on them, so its commit alone cannot reproduce it. Returns their paths
    (relative to ``root``) and a patch that adds them.

    Imported modules count even when ignored; other files only when not ignored (ignored
    data is the usual place for data, fingerprinted and copied by a rerun). Files over
    1 MiB are left to the fingerprints: a patch is no place for data.
    """
    top = git.toplevel(root)
    if top is None:
        return [], b""

    def inside(paths: Iterable[Path]) -> list[str]:
        rels = []
        for path in paths:
            try:
                path.resolve().relative_to(top.resolve())
            except ValueError:
                continue
            if path.is_file() and path.stat().st_size <= _UNTRACKED_LIMIT:
                rels.append(git.relpath(root, path))
        return rels

    found: list[str] = []
    for rels, flags in ((inside(modules), ()), (inside(files), ("--exclude-standard",))):
        if rels:
            specs = [f":(literal){rel}" for rel in rels]
            out = git.run(root, "ls-files", "-z", "--others", *flags, "--", *specs)
            found += [e for e in out.decode("utf-8", "surrogateescape").split("\0") if e]
    found = sorted(set(found))
    patch = b"".join(
        git.run(root, "diff", "--no-index", "--binary", "--", "/dev/null", rel, check=False)
        for rel in found
    )
    return found, patch


def platform_facts() -> dict[str, Any]:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor() or _cpu_model(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def numeric_env(
    environ: Mapping[str, str] | None = None, declared: Iterable[str] = ()
) -> dict[str, str]:
    """Environment variables that change numerical results (threads, hashing, devices),
    and the ones the project declares (``[tool.nbkit.runs] env``) that are set."""
    env = os.environ if environ is None else environ
    names = {*NUMERIC_ENV, *declared}
    return {
        key: value
        for key, value in sorted(env.items())
        if key in names or key.startswith(NUMERIC_PREFIXES)
    }


def lock_hash(root: Path) -> str | None:
    """The lock's hash: ``nbkit.env.venv.lock_hash`` when built, else requirements.lock."""
    try:
        from nbkit.env.venv import lock_hash as env_lock_hash
    except ImportError:
        lock = root / "requirements.lock"
        return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None
    value = env_lock_hash(root)
    return str(value) if value else None


def recorded_series(nb: Notebook) -> dict[str, list[list[Any]]]:
    """Values recorded with ``nbkit.record(name, value, step=N)``: name -> [[step, value]...]
    in the order recorded."""
    series: dict[str, list[list[Any]]] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(RECORD_MIME)
            if isinstance(payload, dict) and isinstance(payload.get("name"), str):
                step = payload.get("step")
                if isinstance(step, int) and not isinstance(step, bool):
                    series.setdefault(payload["name"], []).append([step, payload.get("value")])
    return series


def recorded_values(nb: Notebook) -> dict[str, Any]:
    """Values logged with ``nbkit.record`` (the last record of a name wins)."""
    values: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(RECORD_MIME)
            if isinstance(payload, dict) and isinstance(payload.get("name"), str):
                values[payload["name"]] = payload.get("value")
    return values


_HEADER_RE = re.compile(
    r"^[\s>*_#-]*(objective|hypothesis|success[ _-]?metric)[*_\s]*[:：][*_\s]*(.*)$",
    re.IGNORECASE,
)


def experiment_header(nb: Notebook) -> dict[str, str] | None:
    """Objective / hypothesis / success metric from the first markdown cell, written as
    ``**Objective:** text`` lines (the experiment template) or as ``## Objective`` headings."""
    cell = next((c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"), None)
    if cell is None:
        return None
    found: dict[str, str] = {}
    heading: str | None = None
    for line in source_text(cell).splitlines():
        match = _HEADER_RE.match(line)
        if match:
            heading = _header_key(match.group(1))
            if match.group(2).strip():
                found[heading] = match.group(2).strip()
                heading = None
            continue
        title = re.match(r"^#+\s*(objective|hypothesis|success[ _-]?metric)\s*$", line, re.I)
        if title:
            heading = _header_key(title.group(1))
        elif heading and line.strip():
            found[heading] = line.strip()
            heading = None
    return found or None


def _header_key(text: str) -> str:
    return "success_metric" if text.lower().startswith("success") else text.lower()
