"""jupytext's own configuration (jupytext.toml, .jupytext, [tool.jupytext], ...), read the
way jupytext reads it.

Which file applies is found the way jupytext finds it (``find_jupytext_configuration_file``):
the first folder from the file's own up to the top of the work tree holding one of
jupytext's configuration file names, or a ``pyproject.toml`` with a ``[tool.jupytext]``
table. Finding only looks at the file system; reading uses jupytext's own loader
(``jupytext.config``), so every form jupytext accepts (a formats string, a list of them, the
``[formats]`` table of folder prefixes, YAML, JSON) means to nbkit what it means to jupytext.
The loader imports jupytext, which a no-op hook must not: the paired-formats groups a file
declares are kept by content digest in ``.git`` (``formats_groups``), so only a changed
configuration is read with jupytext.

A ``.jupytext.py`` is Python that jupytext runs; the repository is untrusted input, so nbkit
refuses it (bad input) instead of running it.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Any

from nbkit.cache import Cache, digest, git_dir
from nbkit.errors import BadInput
from nbkit.fsutil import work_tree_of

# jupytext.config.JUPYTEXT_CONFIG_FILES, in jupytext's order of preference.
_NAMES = ("jupytext", "jupytext.toml", "jupytext.yml", "jupytext.yaml", "jupytext.json")
CONFIG_FILES = (*_NAMES, *(f".{name}" for name in _NAMES), ".jupytext.py")
_HINT = "fix it as https://jupytext.readthedocs.io/en/latest/config.html describes"
_CACHE_FILE = "nbkit-jupytext-config.json"
_NAMESPACE = "formats-v1"  # digest of a config file -> JSON list of its paired-formats groups


def find_file(path: Path, fallback_top: Path) -> Path | None:
    """The jupytext configuration file that applies to ``path`` (a notebook or a script):
    searched from its folder up to the top of its work tree (``fallback_top`` outside git)."""
    folder = Path(path).absolute().parent
    top = work_tree_of(folder / "-") or fallback_top
    return _find_in(folder, top.absolute())


def _find_in(folder: Path, top: Path) -> Path | None:
    for name in CONFIG_FILES:
        if (folder / name).is_file():
            return folder / name
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file() and b"jupytext" in _read(pyproject) and _has_table(pyproject):
        return pyproject
    if folder == top or folder.parent == folder or top not in folder.parents:
        return None
    return _find_in(folder.parent, top)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", path) from None


def _has_table(pyproject: Path) -> bool:
    """Whether the pyproject.toml has a ``[tool.jupytext]`` table (jupytext's test)."""
    import tomllib

    try:
        doc = tomllib.loads(_read(pyproject).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"invalid TOML: {exc}", pyproject) from None
    tool = doc.get("tool")
    return isinstance(tool, dict) and tool.get("jupytext") is not None


def formats_groups(config_file: Path) -> tuple[str, ...]:
    """The groups of paired formats ``config_file`` declares, in jupytext's order (the first
    group that fits a path applies), each a formats string such as
    ``notebooks///ipynb,scripts///py:percent``. Answered from the cache when the file did not
    change; otherwise read with jupytext's loader (``BadInput`` naming the file when jupytext
    cannot read it or a format is unknown)."""
    data = _read(config_file)
    key = digest(str(config_file).encode() + b"\0" + data)
    return _groups(config_file, key)


@functools.lru_cache(maxsize=64)
def _groups(config_file: Path, key: str) -> tuple[str, ...]:
    cache = Cache(_cache_path(config_file))
    known = cache.get(_NAMESPACE, key)
    if known is not None:
        return tuple(json.loads(known))
    groups = tuple(str(g) for g in (load(config_file).formats or []))
    _check_groups(groups, config_file)
    cache.put(_NAMESPACE, key, json.dumps(groups))
    cache.save()
    return groups


def _cache_path(config_file: Path) -> Path | None:
    found = git_dir(config_file.parent)
    return None if found is None else found / _CACHE_FILE


def _check_groups(groups: tuple[str, ...], config_file: Path) -> None:
    """Every format of every group must be one jupytext and nbkit know."""
    from nbkit.pairing.paths import parse_format

    for group in groups:
        for part in group.split(","):
            if not part.strip():
                continue
            try:
                parse_format(part)
            except BadInput as exc:
                raise BadInput(
                    f"{exc.message} in its formats {group!r}", config_file, hint=exc.hint
                ) from None


def load(config_file: Path) -> Any:
    """jupytext's ``JupytextConfiguration`` for ``config_file``, loaded by jupytext itself
    (imports jupytext). Returned objects are shared: do not modify them."""
    return _load(config_file, digest(_read(config_file)))


@functools.lru_cache(maxsize=16)
def _load(config_file: Path, _digest: str) -> Any:
    if config_file.name == ".jupytext.py":
        raise BadInput(
            "is Python that jupytext would run; nbkit does not run code from the repository",
            config_file,
            hint="write the same settings in jupytext.toml",
        )
    from nbkit import lazy

    lazy.jupytext()  # imported without its server extension before jupytext.config
    from jupytext import config as jtconfig

    try:
        with warnings.catch_warnings():  # traitlets warns on an unknown option jupytext refuses
            warnings.simplefilter("ignore")
            loaded = jtconfig.load_jupytext_configuration_file(str(config_file))
    except Exception as exc:  # TOML/YAML/JSON errors, unknown options, wrong types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        prefix = f"The Jupytext configuration file {config_file} is incorrect: "
        raise BadInput(
            f"jupytext cannot read this configuration: {first.removeprefix(prefix)}",
            config_file,
            hint=_HINT,
        ) from None
    if loaded is None:  # an empty YAML file
        raise BadInput("jupytext cannot read this configuration: it is empty", config_file)
    return loaded


def for_path(path: Path) -> Any:
    """jupytext's configuration object that applies to ``path`` (None: no configuration);
    what jupytext's reads and writes take as ``config``. Imports jupytext when one exists."""
    found = find_file(path, Path(path).absolute().parent)
    return None if found is None else load(found)
