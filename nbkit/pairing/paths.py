"""Which script pairs with which notebook: formats and paired paths, without jupytext.

Pair paths are computed here without importing jupytext (a port of the part of jupytext's
``paired_paths`` that nbkit supports: prefix folders, mirror roots ``dir///``, file-name
prefixes and suffixes), so that a no-op sync only reads and hashes files. This module is the
only parser of jupytext format strings; converting lives in ``convert``, creating a pair in
``pair``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from nbkit import notebook
from nbkit.config import Config, jupytext_formats
from nbkit.errors import BadInput, OutsideRepository
from nbkit.fsutil import work_tree_of
from nbkit.pairing.languages import LANGUAGES, Language, language_of

_COMMON_NAMES = {
    "notebook": "ipynb",
    "rmarkdown": "Rmd",
    "quarto": "qmd",
    "markdown": "md",
    "myst": "md:myst",
    "pandoc": "md:pandoc",
    "script": "auto",
    "c++": "cpp",
}
AUTO = ".auto"  # the extension of "auto:percent": the notebook's language decides it

# Every extension jupytext reads and writes (its NOTEBOOK_EXTENSIONS): anything else in a
# formats string is refused, as jupytext refuses it.
_EXTENSION_NAMES = (
    ".ipynb .md .markdown .Rmd .py .coco .R .r .jl .cpp .ss .clj .scm .sh .ps1 .q .m .wolfram"
    " .pro .js .ts .scala .rs .robot .resource .cs .fsx .fs .sos .java .groovy .sage .ml .hs"
    " .tcl .mac .gp .do .sas .jenner .xsh .lgt .logtalk .lua .go .qmd .myst .mystnb .mnb"
)
JUPYTEXT_EXTENSIONS = frozenset(_EXTENSION_NAMES.split())
# The common ones: a file with one of these beside a notebook, of the same stem, may be its
# paired script (review folds it into the notebook's entry).
SCRIPT_EXTENSIONS = (".py", ".R", ".r", ".jl", ".md", ".Rmd", ".qmd", ".scala", ".sh", ".ts")

Inputs = tuple[tuple[str, str], ...]  # (cell_type, normalised source) per cell


class Pair(NamedTuple):
    notebook: Path  # absolute
    script: Path  # absolute
    fmt: str  # jupytext format of the script, e.g. "py:percent", "md:myst"


class Fmt(NamedTuple):
    """One entry of a jupytext formats string, e.g. ``scripts///py:percent``."""

    prefix: str  # "", "scripts/", "notebooks//" (a mirror root), "nb_" (a file-name prefix)
    suffix: str  # ".nb" in "nb.py" ("" when none)
    ext: str  # ".py", ".md", ".ipynb"
    name: str  # "percent", "myst", "" (jupytext's default for the extension)

    @property
    def short(self) -> str:
        """What jupytext's reads/writes take: ``py:percent``."""
        return self.ext[1:] + (f":{self.name}" if self.name else "")


def parse_format(text: str) -> Fmt:
    """Parse one jupytext format the way ``jupytext.formats.long_form_one_format`` does."""
    given = text.strip()
    text = _COMMON_NAMES.get(given.lower(), given)
    prefix = ""
    if text.rfind("/") > 0:
        prefix, text = text.rsplit("/", 1)
    name = ""
    if ":" in text:
        text, name = text.rsplit(":", 1)
    suffix = ""
    if text.rfind(".") > 0:
        dot = text.rfind(".")
        suffix, text = text[:dot], text[dot:]
    ext = text if text.startswith(".") else f".{text}"
    if ext not in JUPYTEXT_EXTENSIONS and ext != AUTO:
        raise BadInput(
            f"unsupported jupytext format {given!r}",
            hint="name an extension jupytext knows, e.g. auto:percent, py:percent, md:myst, Rmd"
            " (a name such as rmarkdown only stands alone)",
        )
    return Fmt(prefix, suffix, ext, name)


def parse_formats(formats: str) -> tuple[Fmt, Fmt]:
    """The notebook entry and the (first) text entry of a formats string such as
    ``ipynb,py:percent``; nbkit pairs each notebook with one script."""
    parsed = [parse_format(part) for part in formats.split(",") if part.strip()]
    nb_fmt = next((f for f in parsed if f.ext == ".ipynb"), None)
    text_fmt = next((f for f in parsed if f.ext != ".ipynb"), None)
    if nb_fmt is None or text_fmt is None:
        raise BadInput(
            f"formats {formats!r} must name ipynb and one text format",
            hint='e.g. "ipynb,py:percent"',
        )
    return nb_fmt, text_fmt


class UnsupportedLanguage(BadInput):
    """A notebook in a language jupytext has no script format for (Kotlin, Ruby, ...)."""


def format_text(fmt: Fmt) -> str:
    """``fmt`` written back as one entry of a formats string (``parse_format``'s inverse)."""
    text = (f"{fmt.suffix}{fmt.ext}" if fmt.suffix else fmt.ext[1:]) + (
        f":{fmt.name}" if fmt.name else ""
    )
    return f"{fmt.prefix}/{text}" if fmt.prefix else text


def has_auto(formats: str) -> bool:
    """Whether ``formats`` leaves the script extension to the notebook's language."""
    lower = formats.lower()  # "script" is jupytext's name for auto
    return ("auto" in lower or "script" in lower) and any(
        _is_auto(part) for part in formats.split(",") if part.strip()
    )


def _is_auto(part: str) -> bool:
    """Whether one formats entry is ``auto``; an invalid one is not (the parser reports it
    later, naming the file)."""
    try:
        return parse_format(part).ext == AUTO
    except BadInput:
        return False


def resolve_auto(formats: str, ext: str) -> str:
    """``formats`` with each ``auto`` entry naming ``ext`` (``ipynb,auto:percent`` ->
    ``ipynb,R:percent``), every other entry as written; what jupytext records."""
    parts = []
    for part in formats.split(","):
        fmt = parse_format(part) if part.strip() else None
        parts.append(format_text(fmt._replace(ext=ext)) if fmt and fmt.ext == AUTO else part)
    return ",".join(parts)


def script_extension(language: Language, path: str | Path) -> str:
    """What ``auto`` stands for in the notebook at ``path``: its language's extension, or
    ``.py`` when it names no language (nbkit's pairing before ``auto`` was the default).
    ``UnsupportedLanguage`` when jupytext has no script format for the language."""
    if language.ext is None:
        return ".py"
    if language.ext in JUPYTEXT_EXTENSIONS and language.ext != ".ipynb":
        return language.ext
    name = language.name or "these"
    other = language.kernel_ext if language.kernel_ext in LANGUAGES else None
    if other:  # IJava says .jshell: jupytext writes Java, but only when told so
        message = f"jupytext cannot pair {name} notebooks by language (no script format for"
        fmt = f"{other[1:]}:percent"
    else:
        message = f"jupytext cannot pair {name} notebooks (no script format for"
        fmt = "md:myst"
    raise UnsupportedLanguage(
        f"{message} {language.ext})",
        path,
        hint=f"pair it as {fmt}: nbkit pair --format {fmt} NOTEBOOK; or add it to exclude",
    )


def resolve_formats(formats: str, language: Language, path: str | Path) -> str:
    """``formats`` with ``auto`` resolved for a notebook in ``language``."""
    return resolve_auto(formats, script_extension(language, path)) if has_auto(formats) else formats


def formats_for(pair: Pair, formats: str) -> str:
    """``formats`` with ``auto`` resolved to the extension the pair's script has."""
    return resolve_auto(formats, parse_format(pair.fmt).ext) if has_auto(formats) else formats


def read_language(nb_path: Path) -> Language:
    """The language of the notebook at ``nb_path`` (none named when it does not exist)."""
    if not nb_path.is_file():
        return Language("", None)
    return language_of(notebook.read(nb_path).get("metadata", {}))


def text_suffixes(formats: str) -> set[str]:
    """Suffixes of the text formats ``formats`` names: ``.Rmd`` for ``rmarkdown``, ``.md`` for
    ``md:myst`` or ``myst``, ``.py`` for ``scripts///py:percent``."""
    parsed = (parse_format(part) for part in formats.split(",") if part.strip())
    found = {fmt.ext for fmt in parsed if fmt.ext != ".ipynb"}
    if AUTO in found:
        found = (found - {AUTO}) | set(LANGUAGES)
    return found


def declared_suffixes(paths: Iterable[Path], config: Config) -> set[str]:
    """Suffixes of the text formats declared for ``paths``: nbkit's own ``formats`` or, for
    each folder once, every group of the jupytext configuration that applies there (the
    ``[formats]`` table, a list, ``auto``...). Reads no jupytext on a warm run (the groups
    are cached, ``jupytext_config.formats_groups``)."""
    from nbkit.pairing import jupytext_config

    own = paired_formats(config.raw.get("formats"))
    if own:
        return text_suffixes(own)
    found: set[str] = set()
    files: set[Path] = set()
    for folder in {Path(path).absolute().parent for path in paths}:
        config_file = jupytext_config.find_file(folder / "-", config.root)
        if config_file is not None and config_file not in files:
            files.add(config_file)
            for group in jupytext_config.formats_groups(config_file):
                found |= text_suffixes(group)
    return found


def notebook_path(script_rel: str, formats: str) -> str | None:
    """Where ``formats`` puts the notebook of the script at ``script_rel`` (a posix path
    relative to the project root); None when the script does not fit the formats."""
    nb_fmt, text_fmt = parse_formats(formats)
    if text_fmt.ext == AUTO:  # any script may be the notebook's: pair_of checks which
        text_fmt = text_fmt._replace(ext=PurePosixPath(script_rel).suffix)
    base = base_path(script_rel, text_fmt)
    return None if base is None else full_path(base, nb_fmt)


def script_path(nb_rel: str, formats: str) -> tuple[str, Fmt] | None:
    """Where ``formats`` puts the script of the notebook at ``nb_rel`` (a posix path relative
    to the project root), and its format; None when the notebook does not fit the formats."""
    nb_fmt, text_fmt = parse_formats(formats)
    base = base_path(nb_rel, nb_fmt)
    return None if base is None else (full_path(base, text_fmt), text_fmt)


def _split_prefix(prefix: str) -> tuple[str, str, str]:
    root = ""
    if "//" in prefix:
        root, prefix = prefix.rsplit("//", 1)
    folder, _, name = prefix.rpartition("/")
    return root, folder, name


class Base(NamedTuple):
    """A path with what a format adds taken away: ``outer/<root>/inner/name``."""

    outer: str  # folders above the mirror root ("" without a root)
    inner: str  # folders below the mirror root, or the whole folder without a root
    name: str
    rooted: bool  # the format had a mirror root (``dir///``)


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def base_path(rel: str, fmt: Fmt) -> Base | None:
    """``rel`` (a posix path relative to the project root) without what ``fmt`` adds to it,
    or None when the path does not fit the format (jupytext's ``base_path``)."""
    stem, dot, ext = rel.rpartition(".")
    if not dot or f".{ext}" != fmt.ext:
        return None
    if fmt.suffix:
        if not stem.endswith(fmt.suffix):
            return None
        stem = stem[: -len(fmt.suffix)]
    root, folder, name_prefix = _split_prefix(fmt.prefix)
    directory, _, name = stem.rpartition("/")
    if name_prefix:
        if not name.startswith(name_prefix):
            return None
        name = name[len(name_prefix) :]
    if folder:
        want = folder.split("/")
        have = directory.split("/") if directory else []
        if ".." in want or len(have) < len(want) or have[len(have) - len(want) :] != want:
            return None
        directory = "/".join(have[: len(have) - len(want)])
    if not root:
        return Base("", directory, name, False)
    long_dir, long_root = f"/{directory}/", f"/{root.strip('/')}/"
    if long_root not in long_dir:
        return None
    left, right = long_dir.rsplit(long_root, 1)
    return Base(left.strip("/"), right.strip("/"), name, True)


def full_path(base: Base, fmt: Fmt) -> str:
    """The path ``fmt`` gives to ``base`` (jupytext's ``full_path``)."""
    root, folder, name_prefix = _split_prefix(fmt.prefix)
    if bool(root) != base.rooted:
        raise BadInput("use a mirror root ('dir///') in every paired format or in none")
    directory = _join(base.outer, root.strip("/"), base.inner, folder)
    return _join(directory, f"{name_prefix}{base.name}{fmt.suffix}{fmt.ext}")


def _rel(path: Path, root: Path) -> tuple[str, Path]:
    try:
        return path.relative_to(root).as_posix(), root
    except ValueError:
        return path.name, path.parent


def paired_formats(value: object) -> str | None:
    """``value`` when it is a formats string that pairs: two formats or more, so a comma.
    jupytext reads a lone format (``py:percent``) as "the notebook is that text file"."""
    return value if isinstance(value, str) and "," in value else None


def declared_formats(config: Config) -> str | None:
    """Formats the project declares for every notebook (nbkit or jupytext config), if any."""
    return paired_formats(config.raw.get("formats")) or paired_formats(
        jupytext_formats(config.root)
    )


def declared_for(path: Path, config: Config) -> str | None:
    """Formats the project declares for the notebook or script at ``path``: nbkit's own
    ``formats`` setting, else what the jupytext configuration that applies to ``path``
    declares for it (``jupytext_declared``)."""
    return paired_formats(config.raw.get("formats")) or jupytext_declared(path, config)


def formats_resolver(config: Config) -> Callable[[Path], str]:
    """The formats the project declares for the file at an absolute path (``declared_for``),
    else its default pairing (``config.formats``): what review folds a script in by."""
    return lambda path: declared_for(path, config) or config.formats


def jupytext_declared(path: Path, config: Config) -> str | None:
    """The formats jupytext's configuration pairs ``path`` with, as jupytext picks them
    (``JupytextConfiguration.default_formats``): the first group with a format that fits the
    path, if that group pairs. Reads only the configuration file (``jupytext_config``)."""
    from nbkit.pairing import jupytext_config

    found = jupytext_config.find_file(path, config.root)
    if found is None:
        return None
    rel, _root = _rel(path, config.root)
    for group in jupytext_config.formats_groups(found):
        parts = [parse_format(part) for part in group.split(",") if part.strip()]
        parts = [f._replace(ext=path.suffix) if f.ext == AUTO else f for f in parts]
        if any(base_path(rel, fmt) is not None for fmt in parts):
            return paired_formats(group)
    return None


def notebook_formats(nb: notebook.Notebook) -> str | None:
    """The pairing jupytext recorded in a notebook (``metadata.jupytext.formats``)."""
    meta = nb.get("metadata", {}).get("jupytext")
    return paired_formats(meta.get("formats") if isinstance(meta, dict) else None)


@functools.lru_cache(maxsize=64)
def _top(folder: Path, fallback: Path) -> str:
    """The work tree a file in ``folder`` belongs to (the project root outside git)."""
    return str(work_tree_of(folder / "-") or fallback)


def confine(pair: Pair, origin: Path, project: Path) -> Pair:
    """``pair`` if both its files lie inside the work tree of ``origin`` (the file the
    pairing was read for; outside git, the ``project`` folder) and outside ``.git``; else
    ``OutsideRepository`` naming ``origin`` and the path.

    Pairing comes from the repository (a notebook's metadata, jupytext.toml, the project's
    config), so ``../x//py:percent`` or an absolute folder must never reach a write. Only
    path text is compared here (no file system calls: this runs on every commit); symlinks
    are the write helper's part (``fsutil.confined``)."""
    top = _top(origin.parent, project)
    for path in (pair.notebook, pair.script):
        rel = os.path.relpath(os.path.normpath(path), top)
        parts = rel.split(os.sep)
        if parts[0] == ".." or os.path.isabs(rel):
            where = f"outside the repository {top}"
        elif ".git" in (part.lower() for part in parts):
            where = "inside .git"
        else:
            continue
        raise OutsideRepository(
            f"its pairing names {os.path.normpath(path)}, {where}; nothing was written",
            origin,
            hint="fix metadata.jupytext.formats in the notebook, or the formats in the "
            "project's config or jupytext.toml",
        )
    return pair


def pair_from(
    nb_path: Path,
    formats: str,
    config: Config,
    language: Callable[[Path], Language] | None = None,
) -> Pair | None:
    """The pair ``formats`` gives the notebook at ``nb_path``; ``language`` tells its language
    when ``formats`` says ``auto`` (default: read the notebook)."""
    rel, root = _rel(nb_path, config.root)
    try:
        if has_auto(formats):
            found_language = (language or read_language)(nb_path)
            formats = resolve_formats(formats, found_language, nb_path)
        found = script_path(rel, formats)
    except UnsupportedLanguage:
        raise
    except BadInput as exc:
        raise BadInput(f"formats {formats!r}: {exc.message}", nb_path, hint=exc.hint) from None
    if found is None:
        return None
    return confine(Pair(nb_path, root / found[0], found[1].short), nb_path, root)


def _script_candidates(script: Path, config: Config) -> list[tuple[Path, str | None]]:
    """Notebooks that may pair with ``script``: from the project formats, then next to it."""
    found: list[tuple[Path, str | None]] = []
    declared = declared_for(script, config)
    if declared:
        rel, root = _rel(script, config.root)
        nb_rel = notebook_path(rel, declared)
        if nb_rel is not None:
            found.append((root / nb_rel, declared))
    found.append((script.with_suffix(".ipynb"), None))
    return found


def pair_of(
    path: Path,
    config: Config,
    formats_of: Callable[[Path], str | None] | None = None,
    language: Callable[[Path], Language] | None = None,
) -> Pair | None:
    """Given a notebook OR a paired script path, the pair (None if the file is unpaired).

    A notebook is paired by its own ``metadata.jupytext.formats`` or, failing that, by
    formats the project declares. A script whose notebook was deleted still has a pair when
    the project declares formats and the notebook is in HEAD (``notebook`` then does not
    exist); any other script is unpaired. ``formats_of`` reads a notebook's own formats
    (default: read and parse it; sync passes one that reads each file once per command);
    ``language`` its language, for formats that say ``auto`` (default: read it).
    """
    path = real_folder(path)
    if path.suffix == ".ipynb":
        own = formats_of(path) if formats_of else notebook_formats(notebook.read(path))
        formats = own or declared_for(path, config)
        return pair_from(path, formats, config, language) if formats else None
    for nb_path, declared in _script_candidates(path, config):
        if nb_path.is_file():
            pair = pair_of(nb_path, config, formats_of, language)
            if pair is not None and pair.script == path:
                return confine(pair, path, config.root)  # the notebook side too
        elif declared and not nb_path.exists() and _in_head(nb_path):
            pair = Pair(nb_path, path, resolve_auto(parse_formats(declared)[1].short, path.suffix))
            return confine(pair, path, config.root)
    return None


def real_folder(path: Path) -> Path:
    """The path with its folder's symlinks resolved (as the project root is), not the file's
    own: a symlinked notebook pairs with a script next to the link."""
    path = Path(path).absolute()
    return path.parent.resolve() / path.name


def _in_head(path: Path) -> bool:
    """Whether the last commit has ``path``: a script whose notebook is gone from disk is half
    of a pair only if the notebook was committed; otherwise it is an ordinary module."""
    from nbkit import git

    top = git.toplevel(path.parent if path.parent.exists() else Path.cwd())
    if top is None:
        return False
    rel = git.relpath(top, path.resolve())
    return not rel.startswith("../") and rel in git.tree_blobs(top, "HEAD", [rel])
