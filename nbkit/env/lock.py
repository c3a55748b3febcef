"""``nbkit lock``: resolve the declared requirements with uv into a hashed lock file.

The existing lock is handed to uv as its output file, so uv keeps the pins it can keep:
adding one package does not upgrade the others unless ``--upgrade`` says so.
"""

from __future__ import annotations

import dataclasses
import platform as _platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbkit.env import lockfile, pylock
from nbkit.env import uv as uvrun
from nbkit.env.requirements import UV_LOCK, LockInput, foreign, read_input
from nbkit.env.settings import EnvSettings
from nbkit.errors import BadInput, NbkitError, shown
from nbkit.fsutil import atomic_write_text


@dataclass(frozen=True)
class LockOptions:
    """How to resolve: which upgrades are allowed, and an optional date cut-off."""

    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    as_of: str | None = None  # uv --exclude-newer: a date or RFC 3339 timestamp
    universal: bool | None = None  # one lock for every platform; None: as the existing lock


@dataclass(frozen=True)
class LockResult:
    path: Path
    changed: bool
    packages: int
    input_label: str
    notes: tuple[str, ...] = ()


UNIVERSAL = "universal"  # the platform recorded for a lock valid on every platform


def platform_tag() -> str:
    return f"{sys.platform}-{_platform.machine().lower()}"


def _universal(s: EnvSettings, opts: LockOptions) -> bool:
    """Asked for, else kept from the existing lock (a relock does not drop it silently)."""
    if opts.universal is not None:
        return opts.universal
    old = lockfile.read(s.lock_path)
    return old is not None and old.header.get("platform") == UNIVERSAL


def _format_args(s: EnvSettings) -> list[str]:
    return ["--format", "pylock.toml"] if pylock.is_pylock(s.lock_path) else []


def _compile_args(s: EnvSettings, src: Path, out: Path, opts: LockOptions) -> list[str]:
    args = ["pip", "compile", str(src), "-o", str(out), "--generate-hashes", "--no-header"]
    args += _format_args(s)
    args += ["--python-version", s.python_target, "--quiet"]
    if _universal(s, opts):  # markers choose per platform; --python-version is the minimum
        args.append("--universal")
    if opts.upgrade:
        args.append("--upgrade")
    for name in opts.upgrade_packages:
        args += ["--upgrade-package", name]
    if opts.as_of:
        args += ["--exclude-newer", opts.as_of]
    return args + s.index_args()


def _from_uv_project(s: EnvSettings, opts: LockOptions) -> str:
    """A uv project: ``uv lock`` brings uv.lock up to date with pyproject.toml (keeping its
    pins unless upgrades are asked for), then ``uv export`` writes it as hashed requirements
    with environment markers, which ``nbkit env`` installs like any lock."""
    args = ["lock", "--quiet"]
    if opts.upgrade:
        args.append("--upgrade")
    for name in opts.upgrade_packages:
        args += ["--upgrade-package", name]
    if opts.as_of:
        args += ["--exclude-newer", opts.as_of]
    where = shown(s.root / "pyproject.toml")
    uvrun.run(args + s.index_args(), cwd=s.root, path=where, what="resolution (uv lock)")
    export = ["export", "--frozen", "--format", "requirements-txt", "--no-emit-project"]
    if pylock.is_pylock(s.lock_path):
        export[3] = "pylock.toml"
    export += ["--no-header", "--quiet"]
    return uvrun.run(export, cwd=s.root, path=where, what="exporting uv.lock")


def resolve(s: EnvSettings, inp: LockInput, opts: LockOptions) -> str:
    """uv's pinned, hashed requirements for ``inp`` (the lock body): requirements text, or
    PEP 751 TOML (its local file URLs relative to the lock) for a ``pylock.toml``."""
    body = _resolve(s, inp, opts)
    if pylock.is_pylock(s.lock_path):
        return pylock.relative_paths(body, s.lock_path.parent)
    return body


def _resolve(s: EnvSettings, inp: LockInput, opts: LockOptions) -> str:
    if inp.path.name == UV_LOCK:
        return _from_uv_project(s, opts)
    with tempfile.TemporaryDirectory(prefix="nbkit-lock-") as tmp:
        # uv insists on pylock.toml's own name for that format
        out = Path(tmp) / ("pylock.toml" if pylock.is_pylock(s.lock_path) else "requirements.lock")
        old = lockfile.read(s.lock_path)
        if old is not None and not opts.upgrade:
            out.write_text(old.body, encoding="utf-8")  # uv keeps these pins where it can
        if inp.text is not None:
            src = Path(tmp) / "requirements.in"
            src.write_text(inp.text, encoding="utf-8")
        else:  # relative, so uv's "# via" comments name the file as the user does
            src = Path(inp.label)
        uvrun.run(
            _compile_args(s, src, out, opts),
            cwd=s.root,
            path=shown(inp.path),
            what="resolution",
        )
        body = out.read_text(encoding="utf-8")
        return body.replace(str(src), inp.label.split(" ")[0]) if inp.text is not None else body


def import_names(s: EnvSettings, body: str) -> str:
    """Which modules each locked distribution provides, where the names differ, read from
    the resolved wheels themselves: uv unpacks them into a throwaway folder as symlinks into
    its cache (no copying; the same wheels ``nbkit env`` installs next). Recorded in the lock,
    so ``lock --check`` gives one verdict on every machine, venv or not."""
    from nbkit.env.imports import format_provides, providers_in, recorded_names

    parsed = (
        pylock.from_body(body) if pylock.is_pylock(s.lock_path) else lockfile.LockFile({}, body)
    )
    pins = parsed.pins()  # by version only: local projects are the repository's own code
    if not pins:
        return ""
    with tempfile.TemporaryDirectory(prefix="nbkit-names-") as tmp:
        reqs = Path(tmp) / "pins.txt"
        reqs.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())), "utf-8")
        target = Path(tmp) / "target"
        args = ["pip", "install", "--target", str(target), "--no-deps", "-r", str(reqs)]
        # this interpreter's wheels: a distribution ships the same top-level names for every
        # Python (and --python-version doubled the time)
        args += ["--link-mode", "symlink", "--quiet"]
        where, what = shown(s.lock_path), "reading import names"
        try:  # uv's cache first: asking the index about every pin costs seconds
            offline = [] if s.offline else ["--offline"]
            uvrun.run(args + s.index_args() + offline, cwd=s.root, path=where, what=what)
        except NbkitError:  # a wheel not cached yet (a new pin): fetch it
            uvrun.run(args + s.index_args(), cwd=s.root, path=where, what=what)
        return format_provides(recorded_names(providers_in([str(target)])))


def lock(s: EnvSettings, opts: LockOptions) -> LockResult:
    """Write the lock for the project's declared requirements; unchanged files keep mtime."""
    inp = read_input(s)
    problem = foreign(inp)
    if problem:
        raise BadInput(problem, shown(inp.path), hint="remove it from the input, then nbkit lock")
    body = resolve(s, inp, opts)
    if inp.path.name == UV_LOCK:
        inp = read_input(s)  # uv lock may have just written uv.lock: digest what is there now
        opts = dataclasses.replace(opts, universal=True)  # uv.lock is universal
    notes: tuple[str, ...] = ()
    try:
        imports = import_names(s, body)
    except NbkitError as exc:  # the lock is still right; the import check knows less
        imports = ""
        notes = (
            f"import names not recorded ({exc.message}); lock --check uses the "
            "built-in table and [tool.nbkit.env] import_map",
        )
    fields = lockfile.header_fields(
        inp,
        python=s.python_target,
        platform=UNIVERSAL if _universal(s, opts) else platform_tag(),
        uv=uvrun.version(),
        as_of=opts.as_of,
        imports=imports,
    )
    parsed: lockfile.LockFile | None
    if pylock.is_pylock(s.lock_path):
        text = pylock.render(fields, body)
        parsed = pylock.parse(text, s.lock_path)
    else:
        text = lockfile.render(fields, body)
        parsed = lockfile.parse(text)
    if parsed is None or lockfile.problems(parsed, inp, None):
        raise NbkitError("uv's output did not read back as a lock; nothing written", s.lock_path)
    old = lockfile.read(s.lock_path)
    count = len(parsed.entries(s.root))
    if (
        old is not None
        and not lockfile.problems(old, inp, s.python)
        and old.body == parsed.body
        and old.header.get("imports", "") == imports
    ):
        return LockResult(s.lock_path, False, count, inp.label, notes)
    atomic_write_text(s.lock_path, text)
    return LockResult(s.lock_path, True, count, inp.label, notes)
