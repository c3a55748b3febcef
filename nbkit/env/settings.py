"""``[tool.nbkit.env]``: the environment settings, one frozen value built once per command."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbkit.config import Config, string_list
from nbkit.errors import BadInput

_WHERE = "[tool.nbkit.env]"
ENVS_DIR = ".nbkit/envs"  # run environments, one per lock hash (git-ignored by nbkit env)


@dataclass(frozen=True)
class EnvSettings:
    """``[tool.nbkit.env]`` plus command-line overrides, built once per command."""

    root: Path
    input: str | None = None  # "requirements.in", "pyproject", "pyproject:GROUP"; None: auto
    lock: str = "requirements.lock"
    venv: str | None = None  # None: .nbkit/envs/<lock hash>, one environment per lock
    python: str | None = None  # resolution target such as "3.11"; None: this interpreter
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    index_url: str | None = None
    offline: bool = False
    ignore_imports: tuple[str, ...] = ()
    import_map: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def lock_path(self) -> Path:
        return self.root / self.lock

    def env_path(self, lock_hash: str | None) -> Path:
        """Where the run environment for a lock lives: the configured ``venv``, else a folder
        nbkit owns, keyed by the lock hash (never the environment nbkit itself runs from)."""
        if self.venv:
            return self.root / self.venv
        return self.root / ENVS_DIR / (lock_hash or "none")[:16]

    @property
    def python_target(self) -> str:
        return self.python or f"{sys.version_info.major}.{sys.version_info.minor}"

    def index_args(self) -> list[str]:
        """uv options that choose where packages come from."""
        args: list[str] = []
        for link in self.find_links:
            args += ["--find-links", str(self.root / link) if "://" not in link else link]
        if self.index_url:
            args += ["--index-url", self.index_url]
        if self.no_index:
            args.append("--no-index")
        if self.offline:
            args.append("--offline")
        return args


def _opt_str(table: dict[str, Any], key: str, source: Path | None) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"[tool.nbkit.env] '{key}' must be a string", source)
    return value


def _import_map(table: dict[str, Any], source: Path | None) -> dict[str, tuple[str, ...]]:
    raw = table.get("import_map", {})
    if not isinstance(raw, dict):
        raise BadInput("[tool.nbkit.env] 'import_map' must be a table", source)
    result: dict[str, tuple[str, ...]] = {}
    for module, dists in raw.items():
        dists = [dists] if isinstance(dists, str) else dists
        if not isinstance(dists, list) or not all(isinstance(d, str) for d in dists):
            raise BadInput(
                f"[tool.nbkit.env] import_map '{module}' must name distributions", source
            )
        result[module] = tuple(dists)
    return result


def settings(cfg: Config) -> EnvSettings:
    """The environment settings of the project ``cfg`` describes."""
    table = cfg.section("env")
    src = cfg.source
    return EnvSettings(
        root=cfg.root,
        input=_opt_str(table, "input", src),
        lock=_opt_str(table, "lock", src) or "requirements.lock",
        venv=_opt_str(table, "venv", src),
        python=_opt_str(table, "python", src),
        find_links=string_list(table, "find_links", src, _WHERE),
        no_index=bool(table.get("no_index", False)),
        index_url=_opt_str(table, "index_url", src),
        offline=bool(table.get("offline", False)),
        ignore_imports=string_list(table, "ignore_imports", src, _WHERE),
        import_map=_import_map(table, src),
    )
