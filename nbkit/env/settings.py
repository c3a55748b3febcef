"""``[tool.nbkit.env]``: the environment settings, one frozen value built once per command."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbkit.config import Config

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


def settings(cfg: Config) -> EnvSettings:
    """The environment settings of the project ``cfg`` describes (parsed by config.SETTINGS)."""
    return EnvSettings(root=cfg.root, **cfg.values("env"))
