"""Which third-party modules notebooks and paired scripts import, and who provides them.

Imports are read with ``ast`` (no kernel, no jupytext, no nbformat); each file's set is
cached under ``.git/`` by content digest, so a commit hook re-parses only what changed.
Import names map to distributions through a built-in table of the well-known mismatches,
the project's ``import_map``, and the names ``nbkit lock`` recorded in the lock from the
resolved distributions themselves; never from what is installed on this machine.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nbkit.cache import Cache, digest
from nbkit.env.requirements import normalize
from nbkit.errors import BadInput
from nbkit.notebook import loads, source_text

_NAMESPACE = "imports-v1"  # bump when what is extracted changes
# Import names that differ from the distribution that provides them (the common ones).
BUILTIN: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "yaml": ("pyyaml",),
    "PIL": ("pillow",),
    "cv2": (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",),
    "dotenv": ("python-dotenv",),
    "jwt": ("pyjwt",),
    "Crypto": ("pycryptodome",),
    "OpenSSL": ("pyopenssl",),
    "serial": ("pyserial",),
    "docx": ("python-docx",),
    "pptx": ("python-pptx",),
    "attr": ("attrs",),
    "git": ("gitpython",),
    "zmq": ("pyzmq",),
    "Bio": ("biopython",),
    "fitz": ("pymupdf",),
    "umap": ("umap-learn",),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "MySQLdb": ("mysqlclient",),
    "mpl_toolkits": ("matplotlib",),
    "pylab": ("matplotlib",),
    "pkg_resources": ("setuptools",),
    "google": ("protobuf", "google-cloud-storage", "google-cloud-bigquery", "google-auth"),
    "faiss": ("faiss-cpu", "faiss-gpu"),
    "slugify": ("python-slugify",),
    "magic": ("python-magic",),
    "ruamel": ("ruamel-yaml",),
    "community": ("python-louvain",),
    "gi": ("pygobject",),
    "wx": ("wxpython",),
    "Levenshtein": ("levenshtein", "python-levenshtein"),
    "nbkit": ("nbkit-git",),  # "nbkit" on the index is another project
    "imblearn": ("imbalanced-learn",),
    "skopt": ("scikit-optimize",),
    "osgeo": ("gdal",),
    "OpenGL": ("pyopengl",),
    "nacl": ("pynacl",),
    "dns": ("dnspython",),
    "jose": ("python-jose",),
    "multipart": ("python-multipart",),
    "socks": ("pysocks",),
    "usb": ("pyusb",),
    "speech_recognition": ("speechrecognition",),
    "telegram": ("python-telegram-bot",),
    "win32api": ("pywin32",),
    "win32com": ("pywin32",),
}
# Fields that hold nested statements: bodies, else/finally blocks, except handlers, match cases.
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
_CELL_MAGIC_PYTHON = ("%%time", "%%timeit", "%%capture", "%%prun")
_SCRIPT_MARKERS = (re.compile(rb"^# %%", re.MULTILINE), re.compile(rb"^# jupyter:", re.MULTILINE))


@dataclass(frozen=True)
class FileImports:
    """Top-level names a file imports, and why parts of it could not be read."""

    modules: tuple[str, ...]
    errors: tuple[str, ...] = ()


def _modules(source: str) -> set[str]:
    """Top-level modules imported anywhere in ``source`` (relative imports are local).

    Only statement blocks are visited (an import is a statement), which is several times
    faster than ``ast.walk`` over every expression; code without "import" is not parsed.
    """
    found: set[str] = set()
    if "import" not in source:
        return found
    stack: list[ast.AST] = list(ast.parse(source).body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
        else:
            for name in _BLOCKS:
                stack.extend(getattr(node, name, ()))
    return found


def _cell_python(source: str) -> str | None:
    """The Python in a cell: magics and shell lines blanked; None for a non-Python cell."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if not lines[0].lstrip().startswith(_CELL_MAGIC_PYTHON):
            return None  # %%bash, %%writefile, ...: not Python
        lines = ["", *lines[1:]]
    kept = ["" if line.lstrip().startswith(("%", "!")) else line for line in lines]
    return "\n".join(kept)


def _syntax(exc: SyntaxError) -> str:
    return f"syntax error (line {exc.lineno}: {exc.msg})"


def notebook_imports(data: bytes, path: str | Path) -> FileImports:
    """Imports of a notebook's code cells; a cell that does not parse is reported."""
    nb = loads(data, path)
    meta = nb.get("metadata", {})
    language = (meta.get("kernelspec") or {}).get("language") or (
        meta.get("language_info") or {}
    ).get("name", "python")
    if str(language).lower() != "python":
        return FileImports(())
    modules: set[str] = set()
    errors: list[str] = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        code = _cell_python(source_text(cell))
        if code is None:
            continue
        try:
            modules |= _modules(code)
        except SyntaxError as exc:
            errors.append(f"cell {index}: {_syntax(exc)}; its imports were not checked")
    return FileImports(tuple(sorted(modules)), tuple(errors))


def script_imports(data: bytes, path: str | Path) -> FileImports:
    try:
        return FileImports(tuple(sorted(_modules(data.decode("utf-8", "replace")))))
    except SyntaxError as exc:
        return FileImports((), (f"{_syntax(exc)}; its imports were not checked",))


def is_paired_script(data: bytes) -> bool:
    """A jupytext script (percent cells or a jupytext header), not ordinary project code."""
    head = data[:4096]
    return any(marker.search(head) for marker in _SCRIPT_MARKERS)


def _read(path: Path, data: bytes) -> FileImports:
    if path.suffix != ".ipynb":
        return script_imports(data, path)
    try:
        return notebook_imports(data, path)
    except BadInput as exc:
        return FileImports((), (exc.message,))


def scan(files: dict[str, bytes], cache: Cache) -> dict[str, FileImports]:
    """Each file's imports, from the cache when that exact content was read before."""
    known: dict[str, str] = {}
    for entry in cache.keys(_NAMESPACE):
        key, _, value = entry.partition(" ")
        known[key] = value
    result: dict[str, FileImports] = {}
    for rel, data in files.items():
        key = digest(data)
        if key in known:
            modules, errors = json.loads(known[key])
            result[rel] = FileImports(tuple(modules), tuple(errors))
            continue
        found = _read(Path(rel), data)
        value = json.dumps([found.modules, found.errors])
        cache.add(_NAMESPACE, f"{key} {value}")
        known[key] = value
        result[rel] = found
    return result


def local_modules(py_files: Iterable[str]) -> set[str]:
    """Names importable from the repository itself: every .py stem and every folder of one."""
    names: set[str] = set()
    for rel in py_files:
        parts = Path(rel).with_suffix("").parts
        names.update(parts)
        if parts and parts[0] == "src":
            names.discard("src")
    return names


def providers_in(paths: list[str]) -> dict[str, set[str]]:
    """Top-level module -> distributions, from the distributions installed under ``paths``."""
    from importlib import metadata

    mapping: dict[str, set[str]] = {}
    for dist in metadata.distributions(path=paths):
        name = dist.metadata["Name"]
        if not name:
            continue
        tops = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            for file in dist.files or ():
                first = file.parts[0] if file.parts else ""
                if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", ""):
                    continue
                tops.append(first[:-3] if first.endswith(".py") else first)
        for top in tops:
            mapping.setdefault(top, set()).add(normalize(name))
    return mapping


@dataclass(frozen=True)
class Finding:
    """One line of ``nbkit lock --check`` output."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _candidates(module: str, import_map: dict[str, tuple[str, ...]]) -> set[str]:
    names = {normalize(module)}
    names.update(normalize(d) for d in BUILTIN.get(module, ()))
    names.update(normalize(d) for d in import_map.get(module, ()))
    return names


def recorded_names(providers: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """The part of a module -> distributions map worth writing into the lock: the modules
    whose name does not already say their distribution, and that the built-in table does not
    already know. Private modules (``_cffi_backend``) are never imported by notebooks."""
    kept: dict[str, tuple[str, ...]] = {}
    for module, dists in sorted(providers.items()):
        if module.startswith("_") or not module.isidentifier() or module == "bin":
            continue  # private modules, data folders, and the scripts folder of a target
        extra = {d for d in dists if d != normalize(module)}
        extra -= {normalize(d) for d in BUILTIN.get(module, ())}
        if extra:
            kept[module] = tuple(sorted(extra))
    return kept


def format_provides(names: dict[str, tuple[str, ...]]) -> str:
    """``mod=dist mod2=dist2,dist3``: one header line of the lock."""
    return " ".join(f"{m}={','.join(d)}" for m, d in names.items())


def parse_provides(text: str) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for item in text.split():
        module, _, dists = item.partition("=")
        if module and dists:
            result[module] = tuple(d for d in dists.split(",") if d)
    return result


def undeclared(
    scanned: dict[str, FileImports],
    *,
    declared: frozenset[str],
    label: str,
    local: set[str],
    ignore: Iterable[str],
    import_map: dict[str, tuple[str, ...]],
    recorded: dict[str, tuple[str, ...]],
) -> list[Finding]:
    """Imports no declared distribution provides, and files whose imports could not be read.

    Who provides a module comes from committed facts only (the built-in table, the project's
    ``import_map``, the names ``nbkit lock`` recorded), never from whatever happens to be
    installed here: every machine and CI gives the same verdict."""
    # `nbkit` (nbkit.record) is given to every kernel nbkit starts: never a declaration
    skip = set(sys.stdlib_module_names) | local | set(ignore) | {"__future__", "__main__", "nbkit"}
    findings: list[Finding] = []
    for rel in sorted(scanned):
        found = scanned[rel]
        findings += [Finding(rel, error) for error in found.errors]
        for module in found.modules:
            names = _candidates(module, import_map)
            names.update(recorded.get(module, ()))
            if module in skip or names & declared:
                continue
            findings.append(Finding(rel, f"imports '{module}', not declared in {label}"))
    return findings
