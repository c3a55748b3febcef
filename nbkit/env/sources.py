"""Where packages come from, and who chose it: the index and find-links uv is given.

A repository is untrusted input. Its ``[tool.nbkit.env]`` (and uv's own ``uv.toml`` or
``[tool.uv]``, which uv reads from the project by itself) could point ``nbkit lock`` and
``nbkit env`` at any index or any folder on this machine, and a lock's hashes would then
vouch for whatever that index served. So, like pip (which reads index settings only from
the user's own configuration and the command line), nbkit uses a repository-provided index
only with the user's consent:

- an index URL or find-links URL from the repository is refused unless the user passes the
  same value (``--index-url``/``--find-links``, ``UV_INDEX_URL``/``UV_DEFAULT_INDEX``/
  ``UV_FIND_LINKS``) or ``--trust-index``;
- a find-links path from the repository must resolve, symlinks followed, inside the
  repository (outside ``.git``): wheels committed there are reviewed with the code. A folder
  elsewhere is the user's to name on the command line;
- ``no_index`` and ``offline`` only narrow where packages come from: always allowed.

Every source is described with its origin, so ``nbkit lock``/``nbkit env`` can say which
index they use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nbkit.config import _load_toml
from nbkit.errors import BadInput, OutsideRepository

DEFAULT_INDEX = "https://pypi.org/simple"
PYPI_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})
NO_INDEX = "none (no_index)"  # narrows where packages come from: needs no consent
_INDEX_ENV = ("UV_INDEX_URL", "UV_DEFAULT_INDEX")
_UV_INDEX_KEYS = ("index-url", "extra-index-url", "find-links", "index", "default-index")
TRUST_HINT = "pass --trust-index if you trust it, or give it as --index-url/--find-links"


@dataclass(frozen=True)
class Source:
    """One place packages may come from: ``kind`` is "index" or "find-links"."""

    kind: str
    value: str
    origin: str  # "default", "command line", "environment (UV_INDEX_URL)", "<file>"

    def describe(self) -> str:
        return f"{self.kind}: {self.value} ({self.origin})"


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/") == b.strip().rstrip("/")


def is_default(url: str) -> bool:
    """PyPI, which uv uses anyway: naming it in the repository's config changes nothing."""
    return _same_url(url, DEFAULT_INDEX)


def is_url(link: str) -> bool:
    return "://" in link


def user_indexes() -> list[str]:
    """Index URLs the user set in uv's environment variables (uv reads these itself)."""
    found = [os.environ[name] for name in _INDEX_ENV if os.environ.get(name)]
    found += os.environ.get("UV_EXTRA_INDEX_URL", "").split()
    # UV_INDEX: "URL" or "NAME=URL" entries, space-separated
    found += [entry.split("=", 1)[-1] for entry in os.environ.get("UV_INDEX", "").split()]
    return found


def user_find_links() -> list[str]:
    return os.environ.get("UV_FIND_LINKS", "").replace(",", " ").split()


def consented(value: str, user_values: list[str], trust: bool) -> bool:
    return trust or any(_same_url(value, mine) for mine in user_values)


def inside_repository(root: Path, link: str, source: str | Path | None) -> Path:
    """The find-links folder ``link`` (relative to ``root``), refused when it leaves the
    repository (``..``, an absolute path, a symlink out) or reaches into ``.git``."""
    path = Path(link) if Path(link).is_absolute() else root / link
    real, top = os.path.realpath(path), os.path.realpath(root)
    rel = os.path.relpath(real, top)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise OutsideRepository(
            f"find_links {link!r} is outside the repository ({real}); nothing was resolved "
            "or installed",
            source,
            hint="keep wheels inside the repository, or pass --find-links DIR yourself",
        )
    if ".git" in Path(rel).parts:
        raise OutsideRepository(
            f"find_links {link!r} points into .git; nothing was resolved or installed",
            source,
            hint="keep wheels in a folder of the work tree",
        )
    return Path(real)


def uv_project_indexes(root: Path) -> list[Source]:
    """Index settings in the repository's own uv configuration (``uv.toml``, ``[tool.uv]``
    and ``[tool.uv.pip]`` of pyproject.toml): uv applies them to every call in this folder."""
    found: list[Source] = []
    for name, tables in (("uv.toml", ((),)), ("pyproject.toml", (("tool", "uv"),))):
        path = root / name
        if not path.is_file():
            continue
        data = _load_toml(path)
        for keys in tables:
            table: object = data
            for key in keys:
                table = table.get(key, {}) if isinstance(table, dict) else {}
            if not isinstance(table, dict):
                continue
            for sub in (table, table.get("pip", {})):
                if isinstance(sub, dict):
                    found += [
                        Source("index", _show(sub[key]), name)
                        for key in _UV_INDEX_KEYS
                        if key in sub
                    ]
    return found


def _show(value: object) -> str:
    """A uv setting's value as one short line (an ``[[index]]`` list shows its URLs)."""
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("url", value))
    return str(value)[:200]


def refuse_unconsented(sources: list[Source], trust: bool) -> None:
    """Raise for the first repository-provided index the user has not agreed to."""
    for src in sources:
        if src.origin in ("default", "command line") or src.origin.startswith("environment"):
            continue
        if src.value == NO_INDEX:
            continue
        if is_url(src.value) or src.kind == "index":
            mine = user_indexes() if src.kind == "index" else user_find_links()
            if not consented(src.value, mine, trust):
                raise BadInput(
                    f"the repository sets {src.kind} {src.value}; nothing was resolved or "
                    "installed",
                    src.origin,
                    hint=TRUST_HINT,
                )
