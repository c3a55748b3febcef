"""Which script extension a notebook's language gets (``auto`` in a formats string).

A port of jupytext's ``auto_ext_from_metadata`` and of its ``_SCRIPT_EXTENSIONS`` table,
without importing jupytext: a commit hook resolves ``auto:percent`` for every notebook it
sees, and must stay fast. ``tests/test_languages.py`` checks this table and the decision
against the installed jupytext, so an upgrade that adds a language shows up as a test
failure, not as a different pairing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# jupytext's _SCRIPT_EXTENSIONS (extension -> language), in its order: the first extension
# whose language is the kernel's wins (".R" before ".r", ".ss" before ".scm").
LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".coco": "coconut",
    ".R": "R",
    ".r": "R",
    ".jl": "julia",
    ".cpp": "c++",
    ".ss": "scheme",
    ".clj": "clojure",
    ".scm": "scheme",
    ".sh": "bash",
    ".ps1": "powershell",
    ".q": "q",
    ".m": "matlab",
    ".wolfram": "wolfram language",
    ".pro": "idl",
    ".js": "javascript",
    ".ts": "typescript",
    ".scala": "scala",
    ".rs": "rust",
    ".robot": "robotframework",
    ".resource": "robotframework",
    ".cs": "csharp",
    ".fsx": "fsharp",
    ".fs": "fsharp",
    ".sos": "sos",
    ".java": "java",
    ".groovy": "groovy",
    ".sage": "sage",
    ".ml": "ocaml",
    ".hs": "haskell",
    ".tcl": "tcl",
    ".mac": "maxima",
    ".gp": "gnuplot",
    ".do": "stata",
    ".sas": "sas",
    ".jenner": "jenner",
    ".xsh": "xonsh",
    ".lgt": "logtalk",
    ".logtalk": "logtalk",
    ".lua": "lua",
    ".go": "go",
}
# The extensions jupytext writes instead of another one of the same language.
_PREFERRED = {".r": ".R", ".fs": ".fsx", ".resource": ".robot", ".C": ".cpp"}
_ALIASES = {"r": "R", "octave": "matlab", "cs": "csharp", "c#": "csharp", "fs": "fsharp"}
_ALIASES |= {"f#": "fsharp", "sas": "SAS"}


class Language(NamedTuple):
    """What a notebook says about its language, as far as pairing cares."""

    name: str  # as the notebook names it ("" when it names none), for messages
    ext: str | None  # jupytext's extension for it; None when the notebook says nothing
    kernel_ext: str | None = None  # the kernel language's own extension (see kernel_extension)

    def encode(self) -> str:
        """One string for the cache (``decode`` reads it back)."""
        return f"{self.ext or ''}\0{self.kernel_ext or ''}\0{self.name}"

    @classmethod
    def decode(cls, text: str) -> Language:
        ext, _, rest = text.partition("\0")
        kernel_ext, _, name = rest.partition("\0")
        return cls(name, ext or None, kernel_ext or None)


def _usual_name(language: str) -> str:
    """jupytext's ``usual_language_name``: one spelling per language."""
    lower = language.lower()
    if lower.startswith("c++"):
        return "c++"
    return _ALIASES.get(lower, lower)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def auto_extension(metadata: dict[str, Any]) -> str | None:
    """The script extension jupytext gives a notebook with this metadata for ``auto``
    (``language_info.file_extension`` first, then the kernel's language); may be one jupytext
    cannot write (``.kt``, ``.jshell``); None when the metadata names no language."""
    kernel_language = _text(_dict(metadata.get("kernelspec")).get("language"))
    ext = _text(_dict(metadata.get("language_info")).get("file_extension"))
    if ext == ".py" and kernel_language == "sage":
        ext = ".sage"
    if ext is None:
        language = kernel_language or _text(_dict(metadata.get("jupytext")).get("main_language"))
        if language:
            wanted = _usual_name(language)
            ext = next((e for e, lang in LANGUAGES.items() if _usual_name(lang) == wanted), None)
    return _PREFERRED.get(ext, ext) if ext is not None else None


def language_of(metadata: dict[str, Any]) -> Language:
    """The notebook's language name (for messages) and ``auto`` extension."""
    info, kernel = _dict(metadata.get("language_info")), _dict(metadata.get("kernelspec"))
    name = _text(info.get("name")) or _text(kernel.get("language")) or ""
    printable = "".join(c for c in name[:40] if c.isprintable())  # it reaches a terminal
    return Language(printable, auto_extension(metadata), kernel_extension(metadata))


def kernel_extension(metadata: dict[str, Any]) -> str | None:
    """The extension of the kernel's language alone (ignoring ``language_info``): what to
    suggest when ``language_info`` names an extension jupytext cannot write (IJava's
    ``.jshell`` is Java, which jupytext writes as ``.java``)."""
    kernel = _dict(metadata.get("kernelspec"))
    return auto_extension({"kernelspec": kernel}) if kernel else None
