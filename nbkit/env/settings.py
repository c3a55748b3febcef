"""``[tool.nbkit.env]``: the environment settings, one frozen value built once per command."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbkit.config import Config
from nbkit.env.sources import (
    DEFAULT_INDEX,
    NO_INDEX,
    PYPI_HOSTS,
    Source,
    inside_repository,
    is_default,
    is_url,
    refuse_unconsented,
    user_find_links,
    user_indexes,
    uv_project_indexes,
)

REQUIREMENTS_LOCK = "requirements.lock"
PYLOCK = "pylock.toml"  # PEP 751's standard lock file name
_NOT_CONFIG = {"config": False}  # a field that no [tool.nbkit.env] key sets
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
    # Not settings of the config file (metadata says so): the user's own choices on the
    # command line, never checked and winning over the repository's; and where those came from.
    user_find_links: tuple[str, ...] = field(default=(), metadata=_NOT_CONFIG)
    user_index_url: str | None = field(default=None, metadata=_NOT_CONFIG)
    trust_index: bool = field(default=False, metadata=_NOT_CONFIG)  # --trust-index
    origin: str = field(default="[tool.nbkit.env]", metadata=_NOT_CONFIG)  # the config file

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

    def sources(self) -> list[Source]:
        """Where packages come from, each with who chose it (the user, the repository, the
        default), the repository's index settings included: shown by ``lock`` and ``env``."""
        found: list[Source] = []
        env_index = user_indexes()
        if self.no_index:
            found.append(Source("index", NO_INDEX, self.origin))
        elif self.user_index_url:
            found.append(Source("index", self.user_index_url, "command line"))
        elif self.index_url and not is_default(self.index_url):
            found.append(Source("index", self.index_url, self.origin))
        elif env_index:
            found.append(Source("index", env_index[0], "environment (UV_INDEX_URL)"))
        else:
            found.append(Source("index", DEFAULT_INDEX, "default"))
        found += [Source("find-links", link, "command line") for link in self.user_find_links]
        found += [Source("find-links", link, self.origin) for link in self.find_links]
        return found + uv_project_indexes(self.root)

    def _agreed(self, src: Source) -> bool:
        """Chosen by the user (or the default), or agreed to with --trust-index."""
        mine = src.origin in ("default", "command line") or src.origin.startswith("environment")
        return mine or self.trust_index

    def index_hosts(self) -> set[str]:
        """Hosts a pylock.toml may download files from: the index in use (PyPI's file host
        when it is the default), and the user's own and agreed-to index and find-links URLs."""
        from urllib.parse import urlsplit

        sources = [src for src in self.sources() if self._agreed(src)]
        urls = [src.value for src in sources if is_url(src.value)]
        urls += user_indexes() + user_find_links()
        hosts = {urlsplit(url).hostname or "" for url in urls} - {""}
        if any(src.origin == "default" for src in sources):
            hosts |= PYPI_HOSTS
        return hosts

    def local_folders(self) -> list[Path]:
        """Folders a pylock.toml may install files from: the repository, and the find-links
        folders the user named (command line, UV_FIND_LINKS)."""
        mine = [*self.user_find_links, *user_find_links()]
        return [self.root, *(Path(link) for link in mine if not is_url(link))]

    def index_args(self) -> list[str]:
        """uv options that choose where packages come from, after refusing a repository
        index the user has not agreed to and a find-links path outside the repository."""
        refuse_unconsented(self.sources(), self.trust_index)
        args: list[str] = []
        for link in self.user_find_links:
            args += ["--find-links", link]
        for link in self.find_links:
            real = link if is_url(link) else str(inside_repository(self.root, link, self.origin))
            args += ["--find-links", real]
        if self.user_index_url or (self.index_url and not is_default(self.index_url)):
            args += ["--index-url", self.user_index_url or self.index_url or ""]
        if self.no_index:
            args.append("--no-index")
        if self.offline:
            args.append("--offline")
        return args


def settings(cfg: Config) -> EnvSettings:
    """The environment settings of the project ``cfg`` describes (parsed by config.SETTINGS)."""
    origin = cfg.source.name if cfg.source is not None else "[tool.nbkit.env]"
    values = cfg.values("env")
    if "lock" not in values:
        values["lock"] = default_lock(cfg.root)
    return EnvSettings(root=cfg.root, origin=origin, **values)


def default_lock(root: Path) -> str:
    """``requirements.lock``, unless the project has only a ``pylock.toml`` (written by
    ``nbkit lock --format pylock``): then that, so every command finds the lock it wrote."""
    if not (root / REQUIREMENTS_LOCK).exists() and (root / PYLOCK).exists():
        return PYLOCK
    return REQUIREMENTS_LOCK
