"""Project settings: ``[tool.nbkit]`` in pyproject.toml, or nbkit.toml, read once.

``SETTINGS`` is the one table of keys: it checks names, parses values (each row's parser,
derived from its ``type`` unless given) and generates docs/configuration.md. Each capability
builds one immutable settings value from ``Config.values(TABLE)`` (``CleanPolicy`` here; others
live beside the code that uses them) instead of reading raw TOML.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from nbkit.errors import BadInput

KEEP_OUTPUT_MODES = ("none", "all", "tagged")
DEFAULT_FORMATS = "ipynb,auto:percent"
# The run ledger; here rather than in nbkit.runs so the commit path can skip it cheaply.
DEFAULT_LEDGER = ".nbkit/runs"


class Invalid(ValueError):
    """A value a setting's parser refuses. ``expected`` completes "'KEY' must be ..."; ``hint``
    says the way out (``{key}`` in it is replaced by the setting's name)."""

    def __init__(self, expected: str, hint: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint


Parser = Callable[[Any], Any]  # a TOML value -> the typed value, or raises Invalid

_BOOL_WORDS = {"true": "true", "yes": "true", "on": "true", "1": "true"}
_BOOL_WORDS |= {"false": "false", "no": "false", "off": "false", "0": "false"}


def boolean(value: Any) -> bool:
    """A TOML boolean only: ``"false"`` is a string (and ``bool("false")`` is True)."""
    if isinstance(value, bool):
        return value
    word = _BOOL_WORDS.get(value.strip().lower()) if isinstance(value, str) else None
    if word is not None:
        raise Invalid(
            f"true or false (a TOML boolean), not the string {value!r}",
            f"write {{key}} = {word} (no quotes)",
        )
    raise Invalid("true or false (a TOML boolean)")


def non_negative_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    digits = isinstance(value, str) and value.strip().isdigit()
    raise Invalid(
        "a whole number >= 0", f"write {{key}} = {value.strip()} (no quotes)" if digits else None
    )


def positive_number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise Invalid("a number > 0")


def string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise Invalid("a string")


def path_text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise Invalid("a non-empty path")


def strings(value: Any) -> tuple[str, ...]:
    """A list of strings; a lone string counts as a list of one."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise Invalid("a list of strings")


def table(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise Invalid("a table")


def choice(*options: str) -> Parser:
    def parse(value: Any) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise Invalid("one of " + ", ".join(f'"{o}"' for o in options))

    return parse


def default_parser(type_text: str) -> Parser:
    """The parser a row's ``type`` column implies (rows may name their own instead)."""
    if type_text == "boolean":
        return boolean
    if type_text == "integer":
        return non_negative_int
    if type_text in ("seconds", "number"):
        return positive_number
    if type_text.startswith("list"):
        return strings
    if type_text == "table":
        return table
    if '" | "' in type_text:
        return choice(*re.findall(r'"([^"]*)"', type_text))
    if type_text in ("path", "folder"):
        return path_text
    return string


class Setting(NamedTuple):
    """One configuration key: the single source for checking, parsing and the docs."""

    table: str  # "" for [tool.nbkit] itself, else the sub-table ("clean" -> [tool.nbkit.clean])
    key: str
    type: str
    default: str
    help: str
    parse: Parser | None = None  # None: ``default_parser(type)``

    @property
    def parser(self) -> Parser:
        return self.parse or default_parser(self.type)


def _keep_output(value: Any) -> str:
    """``keep_output``: one of the modes; ``true``/``false`` mean all/none."""
    if isinstance(value, bool):
        return "all" if value else "none"
    return str(choice(*KEEP_OUTPUT_MODES)(value))


def _ledger(value: Any) -> str:
    if isinstance(value, str) and value.strip("/") and ".." not in value.split("/"):
        return value
    raise Invalid("a folder inside the project")


def _import_map(value: Any) -> dict[str, tuple[str, ...]]:
    """Import name -> distribution name(s)."""
    if not isinstance(value, dict):
        raise Invalid("a table of import name = distribution(s)")
    result: dict[str, tuple[str, ...]] = {}
    for module, dists in value.items():
        try:
            result[module] = strings(dists)
        except Invalid:
            raise Invalid(f"a table of import name = distribution(s) ({module!r} is not)") from None
    return result


def _names(value: Any) -> tuple[str, ...]:
    """A list of non-empty names (environment variables)."""
    names = strings(value) if isinstance(value, list) else None
    if names is None or not all(names):
        raise Invalid("a list of environment variable names")
    return names


def _formats(value: Any) -> str:
    """A jupytext formats string, checked by the one formats parser (``pairing.paths``)."""
    from nbkit.pairing.paths import parse_formats

    if not isinstance(value, str):
        raise Invalid('a string such as "ipynb,py:percent"')
    try:
        parse_formats(value)
    except BadInput as exc:
        raise Invalid(
            f'a formats string such as "ipynb,py:percent" ({exc.message})', exc.hint
        ) from None
    return value


def _pipe(value: Any) -> tuple[tuple[str, ...], ...]:
    """Formatter commands (argv lists), checked by ``pairing.pipe``."""
    from nbkit.pairing.pipe import parse_commands

    try:
        return parse_commands(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


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
        '"ipynb,auto:percent"',
        "jupytext pairing, e.g. `ipynb,md:myst` or `notebooks///ipynb,scripts///py:percent` (a mirror folder). `auto` is the notebook's language: `.py`, `.R`, `.jl`, `.sh`... A notebook's own `metadata.jupytext.formats` wins. Default: jupytext.toml / [tool.jupytext] when present.",
        _formats,
    ),
    Setting(
        "",
        "pipe",
        "list of commands",
        "[]",
        "Formatter commands run over each Python notebook's script during sync (stdin to stdout, no shell; `{}` is the script's path), e.g. `[\"ruff format -\"]`: the formatted code goes back into the notebook's code cells, so a formatter hook next to nbkit's finds nothing to change. Runs in `nbkit sync` and the commit hook only.",
        _pipe,
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
        _keep_output,
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
    Setting(
        "env",
        "lock",
        "path",
        '"requirements.lock"',
        "The lock file `nbkit lock` writes: a name like `pylock.toml` or `pylock.NAME.toml` "
        "makes it a PEP 751 lock. Unset, a project with only `pylock.toml` uses that.",
    ),
    Setting(
        "env",
        "venv",
        "path",
        "`.nbkit/envs/<lock hash>`",
        "Where `nbkit env` builds the run environment (never the one nbkit runs from: refused).",
    ),
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
        "Extra wheel folders for uv (`--find-links`): paths must stay inside the repository; "
        "a URL needs `--trust-index`.",
    ),
    Setting("env", "no_index", "boolean", "false", "Resolve and install from `find_links` only."),
    Setting(
        "env",
        "index_url",
        "URL",
        "PyPI",
        "Package index to use; other than PyPI it needs the user's consent (`--trust-index`, "
        "or the same `--index-url`/`UV_INDEX_URL`).",
    ),
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
        _import_map,
    ),
    Setting(
        "runs",
        "ledger",
        "folder",
        '".nbkit/runs"',
        "Where run manifests and executed notebooks are kept (inside the project, shared through git).",
        _ledger,
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
        _names,
    ),
    Setting(
        "runs",
        "artifacts",
        "string",
        '"git"',
        'Where executed notebooks are stored: `"git"` (refs outside the branch), a folder, or an '
        "fsspec URL (`file:///...`, `s3://...`; the `artifacts` extra): content-addressed. "
        "From a repository, only a folder inside it is used by itself; a folder elsewhere or "
        "a URL needs your consent: the same value in `NBKIT_ARTIFACTS` (which wins; `git` "
        "keeps refs).",
        path_text,
    ),
    Setting(
        "runs",
        "mlflow",
        "URL",
        "none",
        "Export every run to this MLflow tracking server as it is recorded (the `mlflow` "
        "extra); an unreachable server warns, `nbkit runs export` catches up. Followed only "
        "with your consent, `NBKIT_MLFLOW` (which wins; `none`: no export): from the "
        "repository alone it is ignored, with a warning.",
        path_text,
    ),
)


_TABLES = tuple(dict.fromkeys(s.table for s in SETTINGS))


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
        "`nbkit.toml` (sub-tables as `[clean]`, `[env]`, ...); dotted keys (`[tool]` then",
        "`nbkit.exclude = [...]`) are the same table. An unknown key is an error (exit 2) naming",
        "the closest known one, so a typo never silently does nothing; so is a value of the wrong",
        'type: booleans are TOML booleans (`offline = false`, never `"false"`), integers are',
        "TOML integers. Globs (`notebooks`, `exclude`) match paths relative to the project root",
        "as `.gitignore` does: `data/*.ipynb` is the notebooks directly in `data/`, not in",
        "`data/sub/`; a pattern without a slash (`scratch.ipynb`) matches at any depth; `**`",
        "crosses folders.",
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

    def values(self, name: str) -> dict[str, Any]:
        """The keys of table ``name`` ("" for [tool.nbkit]) the project sets, each parsed by
        its SETTINGS row: the keyword arguments of that capability's frozen settings value."""
        return parse_table(self.raw if not name else self.section(name), name, self.source)


def parse_table(values: dict[str, Any], name: str, source: Path | None) -> dict[str, Any]:
    """Parse the keys of one table with their SETTINGS rows; a bad value is one-line BadInput."""
    where = f"[tool.nbkit.{name}]" if name else "[tool.nbkit]"
    parsed: dict[str, Any] = {}
    for row in SETTINGS:
        if row.table != name or row.key not in values:
            continue
        try:
            parsed[row.key] = row.parser(values[row.key])
        except Invalid as exc:
            hint = (exc.hint or "see docs/configuration.md").replace("{key}", row.key)
            raise BadInput(f"{where} '{row.key}' must be {exc.expected}", source, hint) from None
    return parsed


def _sub_table(table: dict[str, Any], name: str, source: Path | None) -> dict[str, Any]:
    value = table.get(name, {}) if name else table
    if not isinstance(value, dict):
        raise BadInput(f"[tool.nbkit.{name}] must be a table", source)
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


def _tool_table(pyproject: Path, name: str) -> Any:
    """``[tool.NAME]`` of a pyproject.toml, written as a table or with dotted keys
    (``[tool]`` + ``nbkit.exclude = ...``); None when absent. A file that does not mention
    ``name`` at all is not parsed (the hooks look here on every commit)."""
    try:
        data = pyproject.read_bytes()
    except OSError:
        return None
    if name.encode() not in data:
        return None
    tool = _load_toml(pyproject).get("tool")
    return tool.get(name) if isinstance(tool, dict) else None


def _has_nbkit_table(pyproject: Path) -> bool:
    return _tool_table(pyproject, "nbkit") is not None


def _load_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"invalid TOML: {exc}", path) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", path) from None


_JUPYTEXT_HINT = "fix it as https://jupytext.readthedocs.io/en/latest/config.html describes"


def jupytext_formats(root: Path) -> str | None:
    """Pairing declared for jupytext itself (jupytext.toml or [tool.jupytext])."""
    for name in ("jupytext.toml", ".jupytext.toml"):
        path = root / name
        if path.is_file():
            try:
                formats = _load_toml(path).get("formats")
            except BadInput as exc:  # jupytext's file: say how to fix it
                raise BadInput(exc.message, path, hint=_JUPYTEXT_HINT) from None
            if isinstance(formats, str):
                return formats
    pyproject = root / "pyproject.toml"
    tool = _tool_table(pyproject, "jupytext") if pyproject.is_file() else None
    formats = tool.get("formats") if isinstance(tool, dict) else None
    return formats if isinstance(formats, str) else None


def load(start: str | Path | None = None) -> Config:
    """Read the configuration of the project containing ``start`` (default: cwd)."""
    root = find_root(start)
    table: Any = {}
    source: Path | None = None
    if (root / "nbkit.toml").is_file():
        source = root / "nbkit.toml"
        doc = _load_toml(source)
        table = doc.get("tool", {}).get("nbkit", doc)
    elif (root / "pyproject.toml").is_file():
        found = _tool_table(root / "pyproject.toml", "nbkit")
        if found is not None:
            source, table = root / "pyproject.toml", found
    if not isinstance(table, dict):
        raise BadInput("[tool.nbkit] must be a table", source)
    check_known_keys(table, source)
    parsed = {name: parse_table(_sub_table(table, name, source), name, source) for name in _TABLES}
    top = parsed[""]
    formats = top.get("formats") or jupytext_formats(root) or ""
    if "," not in formats:  # a lone jupytext format is no pairing (see pairing.paths)
        formats = DEFAULT_FORMATS
    return Config(
        root=root,
        source=source,
        clean=CleanPolicy(**parsed["clean"]),
        notebooks=top.get("notebooks") or ("**/*.ipynb",),
        exclude=top.get("exclude", ()),
        formats=formats,
        max_output_bytes=top.get("max_output_bytes"),
        raw=table,
    )


if __name__ == "__main__":  # pragma: no cover - regenerates docs/configuration.md
    print(reference_markdown(), end="")
