"""Import jupytext and nbformat without the parts nbkit never uses.

``import jupytext`` also imports its Jupyter-server contents manager (tornado, jupyter_server)
whenever those are installed, and nbformat pulls in jsonschema, which compiles an IRI grammar
(``rfc3987_syntax``) when that optional package is present: seconds on a loaded machine, for
code a command-line hook never calls. While importing them, those modules are made to look
absent (both libraries treat that as a normal, optional absence); afterwards the block is
lifted, so a later import of tornado or jupyter_server by other code works as usual.
"""

from __future__ import annotations

import sys
from types import ModuleType

# Modules jupytext/jsonschema import only for features nbkit does not use.
_UNUSED = ("jupyter_server", "notebook", "tornado", "rfc3987_syntax")


def _import_blocking_unused(name: str) -> ModuleType:
    import importlib

    if name in sys.modules:
        return sys.modules[name]
    blocked = [m for m in _UNUSED if m not in sys.modules]
    for module in blocked:
        sys.modules[module] = None  # type: ignore[assignment]  # makes `import` raise ImportError
    try:
        return importlib.import_module(name)
    finally:
        for module in blocked:
            if sys.modules.get(module, False) is None:
                del sys.modules[module]


def jupytext() -> ModuleType:
    """The jupytext module, imported without its server extension."""
    return _import_blocking_unused("jupytext")


def nbformat() -> ModuleType:
    """The nbformat module, imported without jsonschema's optional IRI grammar."""
    return _import_blocking_unused("nbformat")
