"""Project settings: ``[tool.nbkit]`` in pyproject.toml, or nbkit.toml, read once.

Each capability gets one immutable settings value built from this (``CleanPolicy`` here;
others live beside the code that uses them) instead of loose flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from nbkit.errors import BadInput

KEEP_OUTPUT_MODES = ("none", "all", "tagged")
DEFAULT_FORMATS = "ipynb,py:percent"
# The run ledger; here rather than in nbkit.runs so the commit path can skip it cheaply.
DEFAULT_LEDGER = ".nbkit/runs"


class Setting(NamedTuple):
    """One configuration key: the single source for validation and docs/configuration.md."""

    table: str  # "" for [tool.nbkit] itself, else the sub-table ("clean" -> [tool.nbkit.clean])
    key: str
    type: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "",
        "notebooks",
        "list of globs",
        '["**/*.ipynb"]',
        "Notebooks nbkit manages when a command is given no path (tracked files only, inside git).",
    ),
    Setting(
        "",
        "exclude",
        "list of globs",
        "[]",
        "Notebooks left alone even when `notebooks` matches them.",
    ),
    Setting(
        "",
        "formats",
        "string",
        '"ipynb,py:percent"',
        "jupytext pairing, e.g. `ipynb,md:myst` or `notebooks///ipynb,scripts///py:percent` (a mirror folder). Default: jupytext.toml / [tool.jupytext] when present.",
    ),
    Setting(
        "",
        "max_output_bytes",
        "integer",
        "none",
        "`nbkit validate` reports any output larger than this.",
    ),
    Setting(
        "",
        "auto_pair",
        "boolean",
        "false",
        "The commit hook pairs a notebook that has no script yet (`nbkit init` turns it on).",
    ),
    Setting("hooks", "auto_pair", "boolean", "false", "Same as the top-level `auto_pair`."),
    Setting(
        "clean",
        "keep_output",
        '"none" | "all" | "tagged"',
        '"none"',
        "Outputs kept on clean: none, all, or those of cells tagged `keep_output_tag`.",
    ),
    Setting(
        "clean",
        "keep_output_tag",
        "string",
        '"keep-output"',
        'The tag that keeps a cell\'s outputs with `keep_output = "tagged"`.',
    ),
    Setting(
        "clean",
        "nbstripout_markers",
        "boolean",
        "true",
        "Keep the outputs nbstripout keeps: cells tagged `keep_output`, with `keep_output` or `init_cell` true in their metadata, and every cell of a notebook whose metadata has `keep_output: true`.",
    ),
    Setting(
        "clean", "max_output_bytes", "integer", "none", "Kept outputs larger than this are dropped."
    ),
    Setting(
        "clean",
        "drop_cell_metadata",
        "list of keys",
        "[]",
        "Extra cell metadata to remove (dotted paths reach inside).",
    ),
    Setting(
        "clean",
        "keep_cell_metadata",
        "list of keys",
        "[]",
        "Default-volatile cell metadata to keep (e.g. `ExecuteTime`).",
    ),
    Setting(
        "clean",
        "drop_notebook_metadata",
        "list of keys",
        "[]",
        "Extra notebook metadata to remove.",
    ),
    Setting(
        "clean",
        "keep_notebook_metadata",
        "list of keys",
        "[]",
        "Default-volatile notebook metadata to keep (e.g. `language_info` whole).",
    ),
    Setting(
        "env",
        "input",
        "path",
        "requirements.in, else pyproject.toml",
        "The declared dependencies: a requirements file, `pyproject.toml` (its [project.dependencies]) or `pyproject.toml:GROUP` (a dependency group).",
    ),
    Setting("env", "lock", "path", '"requirements.lock"', "The lock file `nbkit lock` writes."),
    Setting("env", "venv", "path", "`.nbkit/envs/<lock hash>`", "Where `nbkit env` builds the run environment (never the one nbkit runs from: refused)."),
    Setting(
        "env",
        "python",
        "string",
        "the running Python",
        "Python version to lock and build for (e.g. `3.11`).",
    ),
    Setting(
        "env",
        "find_links",
        "list of paths/URLs",
        "[]",
        "Extra wheel folders for uv (`--find-links`).",
    ),
    Setting("env", "no_index", "boolean", "false", "Resolve and install from `find_links` only."),
    Setting("env", "index_url", "URL", "PyPI", "Package index to use."),
    Setting("env", "offline", "boolean", "false", "Use only uv's cache."),
    Setting(
        "env",
        "ignore_imports",
        "list of modules",
        "[]",
        "Imports `nbkit lock --check` never reports.",
    ),
    Setting(
        "env",
        "import_map",
        "table",
        "{}",
        'Import name -> distribution(s), for packages the built-in table does not know, e.g. `{ mylib = "my-dist" }`.',
    ),
    Setting(
        "runs",
        "ledger",
        "folder",
        '".nbkit/runs"',
        "Where run manifests and executed notebooks are kept (inside the project, shared through git).",
    ),
    Setting(
        "runs",
        "kernel",
        "string",
        "project env kernel, else notebook's, else this Python",
        "Default kernel for `nbkit run`, `sweep`, `rerun`.",
    ),
    Setting("runs", "timeout", "seconds", "none", "Default per-cell timeout."),
    Setting(
        "runs",
        "inputs",
        "list of globs",
        "[]",
        "Input files always fingerprinted in run manifests.",
    ),
    Setting(
        "runs",
        "env",
        "list of names",
        "[]",
        "Environment variables recorded in run manifests and compared by `nbkit rerun`, "
        "besides PYTHONHASHSEED, OMP_NUM_THREADS, MKL_*, OPENBLAS_*, CUDA_VISIBLE_DEVICES.",
    ),
)


def _known_keys(table: str) -> set[str]:
    keys = {s.key for s in SETTINGS if s.table == table}
    if table == "":
        keys |= {s.table for s in SETTINGS if s.table}
    return keys


def check_known_keys(table: dict[str, Any], source: Path | None) -> None:
    """A misspelt key is an error, not a silently ignored setting."""
    import difflib

    tables = {"": table, **{k: v for k, v in table.items() if isinstance(v, dict)}}
    for name, values in tables.items():
        known = _known_keys(name)
        if name and not known:
            continue  # a sub-table nbkit does not define is reported by the parent's check
        for key in values:
            if key in known:
                continue
            where = f"[tool.nbkit.{name}]" if name else "[tool.nbkit]"
            close = difflib.get_close_matches(key, sorted(known), n=1)
            raise BadInput(
                f"unknown setting '{key}' in {where}",
                source,
                hint=f"did you mean '{close[0]}'?" if close else "see docs/configuration.md",
            )


def reference_markdown() -> str:
    """docs/configuration.md, generated from ``SETTINGS`` (``python -m nbkit.config``)."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- generated by `python -m nbkit.config > docs/configuration.md`; a test keeps it "
        "current -->",
        "",
        "nbkit reads `[tool.nbkit]` from `pyproject.toml`, or the same keys at the top of",
        "`nbkit.toml` (sub-tables as `[clean]`, `[env]`, ...). An unknown key is an error",
        "(exit 2) naming the closest known one, so a typo never silently does nothing.",
    ]
    for table in dict.fromkeys(s.table for s in SETTINGS):
        lines += ["", f"## `[tool.nbkit{'.' + table if table else ''}]`", ""]
        lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        for s in (s for s in SETTINGS if s.table == table):
            lines.append(f"| `{s.key}` | {s.type} | {s.default} | {s.help} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CleanPolicy:
    """What ``clean`` removes. Defaults: every output and volatile field, ids and tags kept."""

    keep_output: str = "none"  # "none" | "all" | "tagged" (cells tagged keep-output)
    keep_output_tag: str = "keep-output"
    nbstripout_markers: bool = True  # honour nbstripout's keep_output / init_cell markers
    drop_cell_metadata: tuple[str, ...] = ()
    keep_cell_metadata: tuple[str, ...] = ()
    drop_notebook_metadata: tuple[str, ...] = ()
    keep_notebook_metadata: tuple[str, ...] = ()
    max_output_bytes: int | None = None  # kept outputs larger than this are dropped

    def key(self) -> str:
        """A stable text form, part of the cache key: a policy change invalidates the cache."""
        return repr(self)


@dataclass(frozen=True)
class Config:
    """Everything nbkit reads from the project's configuration."""

    root: Path
    source: Path | None = None  # the file the settings came from, if any
    clean: CleanPolicy = field(default_factory=CleanPolicy)
    notebooks: tuple[str, ...] = ("**/*.ipynb",)
    exclude: tuple[str, ...] = ()
    # jupytext pairing, e.g. "ipynb,py:percent" or "notebooks///ipynb,scripts///py:percent"
    formats: str = DEFAULT_FORMATS
    max_output_bytes: int | None = None  # validate: outputs larger than this are reported
    raw: dict[str, Any] = field(default_factory=dict)  # the whole [tool.nbkit] table

    def section(self, name: str) -> dict[str, Any]:
        """A sub-table such as ``[tool.nbkit.env]`` (empty when absent)."""
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise BadInput(f"[tool.nbkit.{name}] must be a table", self.source)
        return value


def find_root(start: str | Path | None = None) -> Path:
    """The project root: the nearest folder with nbkit.toml, a pyproject.toml, or .git."""
    here = Path(start or os.getcwd()).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / "nbkit.toml").is_file() or (folder / ".git").exists():
            return folder
        if (folder / "pyproject.toml").is_file() and _has_nbkit_table(folder / "pyproject.toml"):
            return folder
    return here


def _has_nbkit_table(pyproject: Path) -> bool:
    try:
        return b"[tool.nbkit" in pyproject.read_bytes()
    except OSError:
        return False


def _load_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"invalid TOML: {exc}", path) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", path) from None


def string_list(
    table: dict[str, Any], key: str, source: Path | None, where: str = "[tool.nbkit]"
) -> tuple[str, ...]:
    """A setting that is a list of strings (a lone string counts as a list of one)."""
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{where} '{key}' must be a list of strings", source)
    return tuple(value)


def _optional_int(table: dict[str, Any], key: str, source: Path | None) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadInput(f"'{key}' must be a non-negative integer (bytes)", source)
    return value


def _bool(table: dict[str, Any], key: str, default: bool, source: Path | None) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise BadInput(f"'{key}' must be true or false", source)
    return value


def _clean_policy(table: dict[str, Any], source: Path | None) -> CleanPolicy:
    keep = table.get("keep_output", "none")
    if keep is True:
        keep = "all"
    elif keep is False:
        keep = "none"
    if keep not in KEEP_OUTPUT_MODES:
        raise BadInput(f"'keep_output' must be one of {', '.join(KEEP_OUTPUT_MODES)}", source)
    return CleanPolicy(
        keep_output=keep,
        keep_output_tag=str(table.get("keep_output_tag", "keep-output")),
        nbstripout_markers=_bool(table, "nbstripout_markers", True, source),
        drop_cell_metadata=string_list(table, "drop_cell_metadata", source),
        keep_cell_metadata=string_list(table, "keep_cell_metadata", source),
        drop_notebook_metadata=string_list(table, "drop_notebook_metadata", source),
        keep_notebook_metadata=string_list(table, "keep_notebook_metadata", source),
        max_output_bytes=_optional_int(table, "max_output_bytes", source),
    )


def _formats(value: Any, source: Path | None) -> str | None:
    """``formats`` as nbkit's own config gives it: checked by the one formats parser."""
    if value is None:
        return None
    from nbkit.pairing.paths import parse_formats

    if not isinstance(value, str):
        raise BadInput("'formats' must be a string such as \"ipynb,py:percent\"", source)
    try:
        parse_formats(value)
    except BadInput as exc:
        raise BadInput(f"'formats': {exc.message}", source, hint=exc.hint) from None
    return value


def jupytext_formats(root: Path) -> str | None:
    """Pairing declared for jupytext itself (jupytext.toml or [tool.jupytext])."""
    for name in ("jupytext.toml", ".jupytext.toml"):
        path = root / name
        if path.is_file():
            formats = _load_toml(path).get("formats")
            if isinstance(formats, str):
                return formats
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = pyproject.read_bytes()
        except OSError:
            return None
        if b"[tool.jupytext" in data:
            formats = _load_toml(pyproject).get("tool", {}).get("jupytext", {}).get("formats")
            if isinstance(formats, str):
                return formats
    return None


def load(start: str | Path | None = None) -> Config:
    """Read the configuration of the project containing ``start`` (default: cwd)."""
    root = find_root(start)
    table: dict[str, Any] = {}
    source: Path | None = None
    if (root / "nbkit.toml").is_file():
        source = root / "nbkit.toml"
        doc = _load_toml(source)
        table = doc.get("tool", {}).get("nbkit", doc)
    elif (root / "pyproject.toml").is_file() and _has_nbkit_table(root / "pyproject.toml"):
        source = root / "pyproject.toml"
        table = _load_toml(source).get("tool", {}).get("nbkit", {})
    if not isinstance(table, dict):
        raise BadInput("[tool.nbkit] must be a table", source)
    check_known_keys(table, source)
    clean_table = table.get("clean", {})
    if not isinstance(clean_table, dict):
        raise BadInput("[tool.nbkit.clean] must be a table", source)
    formats = _formats(table.get("formats"), source) or jupytext_formats(root) or ""
    if "," not in formats:  # a lone jupytext format is no pairing (see pairing.paths)
        formats = DEFAULT_FORMATS
    return Config(
        root=root,
        source=source,
        clean=_clean_policy(clean_table, source),
        notebooks=string_list(table, "notebooks", source) or ("**/*.ipynb",),
        exclude=string_list(table, "exclude", source),
        formats=formats,
        max_output_bytes=_optional_int(table, "max_output_bytes", source),
        raw=table,
    )


if __name__ == "__main__":  # pragma: no cover - regenerates docs/configuration.md
    print(reference_markdown(), end="")
