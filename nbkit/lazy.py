"""Import jupytext and nbformat without the parts nbkit never uses.

``import jupytext`` also imports its Jupyter-server contents manager (tornado, jupyter_server)
whenever those are installed, and nbformat pulls in jsonschema, which compiles an IRI grammar
(``rfc3987_syntax``) when that optional package is present: seconds on a loaded machine, for
code a command-line hook never calls. While importing them, those modules are made to look
absent (both libraries treat that as a normal, optional absence); afterwards the block is
lifted, so a later import of tornado or jupyter_server by other code works as usual.

A caller that converts only scripts (``py:percent``...) may also leave out jupytext's MyST
reader (markdown-it, a tenth of an edit commit's hook): ``jupytext(myst=False)``. A later
call that needs MyST reloads that one module, so it reads as if never left out.
"""

from __future__ import annotations

import sys
from types import ModuleType

# Modules jupytext/jsonschema import only for features nbkit does not use.
_UNUSED = ("jupyter_server", "notebook", "tornado", "rfc3987_syntax")


# jupytext imports these only for its MyST (Markdown) reader and writer.
_MYST = ("markdown_it", "mdit_py_plugins")
_myst_left_out = False  # jupytext was imported without _MYST (they were not loaded yet)


def _import_blocking_unused(name: str, also: tuple[str, ...] = ()) -> ModuleType:
    import importlib

    if name in sys.modules:
        return sys.modules[name]
    blocked = [m for m in (*_UNUSED, *also) if m not in sys.modules]
    for module in blocked:
        sys.modules[module] = None  # type: ignore[assignment]  # makes `import` raise ImportError
    try:
        return importlib.import_module(name)
    finally:
        for module in blocked:
            if sys.modules.get(module, False) is None:
                del sys.modules[module]


def jupytext(*, myst: bool = True) -> ModuleType:
    """The jupytext module, imported without its server extension; ``myst=False``: the
    caller reads or writes no Markdown format, so the MyST parser may stay out too."""
    global _myst_left_out
    if "jupytext" not in sys.modules:
        left_out = () if myst else tuple(m for m in _MYST if m not in sys.modules)
        module = _import_blocking_unused("jupytext", left_out)
        _myst_left_out = bool(left_out)
        return module
    if myst and _myst_left_out:
        import importlib

        _myst_left_out = False
        # Re-run jupytext.myst in place: its functions, wherever imported, see markdown-it.
        importlib.reload(sys.modules["jupytext.myst"])
    return sys.modules["jupytext"]


def needs_myst(fmt: str) -> bool:
    """Whether jupytext may need its MyST parser for ``fmt`` ("py:percent", "md:myst"): any
    format but a known script extension's (Markdown, or "auto" not yet resolved)."""
    from nbkit.pairing.languages import LANGUAGES

    ext = fmt.split(":", 1)[0]
    return ("." + ext.lstrip(".")) not in LANGUAGES


def nbformat() -> ModuleType:
    """The nbformat module, imported without jsonschema's optional IRI grammar."""
    return _import_blocking_unused("nbformat")
