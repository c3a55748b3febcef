"""One settings table that parses as well as documents: every value checked by its row."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit import config
from nbkit.config import SETTINGS, CleanPolicy
from nbkit.env.settings import EnvSettings
from nbkit.env.settings import settings as env_settings
from nbkit.runs import RunSettings
from tests.conftest import assert_one_line_error, commit_all, make_nb, read_nb, write_nb

DIRTY = make_nb({"cell_type": "code", "source": "1", "execution_count": 3, "outputs": []})


def test_every_table_is_one_frozen_settings_value() -> None:
    """A row added to a table must be a field of that table's settings value (and back)."""
    values = {"clean": CleanPolicy, "env": EnvSettings, "runs": RunSettings}
    for table, cls in values.items():
        fields = {f.name for f in dataclasses.fields(cls) if f.metadata.get("config", True)}
        fields -= {"root"}
        assert fields == {s.key for s in SETTINGS if s.table == table}, table
    for row in SETTINGS:
        assert callable(row.parser), row


@pytest.mark.parametrize(
    ("toml", "args", "message", "hint"),
    [
        (
            '[env]\noffline = "false"\n',
            ["lock", "--check"],
            "[tool.nbkit.env] 'offline' must be true or false (a TOML boolean), not the string 'false'",
            "write offline = false (no quotes)",
        ),
        (
            'auto_pair = "yes"\n',
            ["hook", "nbkit", "a.ipynb"],
            "[tool.nbkit] 'auto_pair' must be true or false (a TOML boolean), not the string 'yes'",
            "write auto_pair = true (no quotes)",
        ),
        (
            "[hooks]\nauto_pair = 1\n",
            ["hook", "nbkit", "a.ipynb"],
            "[tool.nbkit.hooks] 'auto_pair' must be true or false (a TOML boolean)",
            "docs/configuration.md",
        ),
        (
            'max_output_bytes = "100"\n',
            ["validate", "a.ipynb"],
            "[tool.nbkit] 'max_output_bytes' must be a whole number >= 0",
            "write max_output_bytes = 100 (no quotes)",
        ),
        (
            "[clean]\nmax_output_bytes = -1\n",
            ["clean", "a.ipynb"],
            "[tool.nbkit.clean] 'max_output_bytes' must be a whole number >= 0",
            "docs/configuration.md",
        ),
        (
            '[clean]\nkeep_output = "some"\n',
            ["clean", "a.ipynb"],
            '[tool.nbkit.clean] \'keep_output\' must be one of "none", "all", "tagged"',
            "docs/configuration.md",
        ),
        (
            "[clean]\nkeep_output_tag = 5\n",
            ["clean", "a.ipynb"],
            "[tool.nbkit.clean] 'keep_output_tag' must be a string",
            "docs/configuration.md",
        ),
        (
            "exclude = 3\n",
            ["clean", "a.ipynb"],
            "[tool.nbkit] 'exclude' must be a list of strings",
            "docs/configuration.md",
        ),
        (
            '[runs]\nledger = "../elsewhere"\n',
            ["clean", "a.ipynb"],
            "[tool.nbkit.runs] 'ledger' must be a folder inside the project",
            "docs/configuration.md",
        ),
        (
            "[runs]\ntimeout = 0\n",
            ["runs"],
            "[tool.nbkit.runs] 'timeout' must be a number > 0",
            "docs/configuration.md",
        ),
        (
            "[env]\nimport_map = { yaml = 1 }\n",
            ["lock", "--check"],
            "[tool.nbkit.env] 'import_map' must be a table of import name = distribution(s) ('yaml' is not)",
            "docs/configuration.md",
        ),
        (
            '[env]\nlock = ""\n',
            ["lock", "--check"],
            "[tool.nbkit.env] 'lock' must be a non-empty path",
            "docs/configuration.md",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line_naming_the_file(
    repo: Path, cli: Callable[..., Any], toml: str, args: list[str], message: str, hint: str
) -> None:
    (repo / "nbkit.toml").write_text(toml)
    (repo / "requirements.in").write_text("")
    write_nb(repo / "a.ipynb", DIRTY)
    before = (repo / "a.ipynb").read_bytes()
    result = cli(*args)
    assert result.code == 2, result
    assert_one_line_error(result.err, "nbkit.toml", message)
    assert hint in result.err.partition("\nhint: ")[2]
    assert (repo / "a.ipynb").read_bytes() == before


@pytest.mark.parametrize(("text", "value"), [("false", False), ("true", True)])
def test_toml_booleans_are_read_as_written(repo: Path, text: str, value: bool) -> None:
    (repo / "nbkit.toml").write_text(f"[env]\noffline = {text}\nno_index = {text}\n")
    env = env_settings(config.load(repo))
    assert (env.offline, env.no_index) == (value, value)
    assert ("--offline" in env.index_args()) is value


def test_dotted_keys_in_pyproject_are_read(repo: Path, cli: Callable[..., Any]) -> None:
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool]\nnbkit.exclude = ["scratch/*"]\n'
        'nbkit.clean.keep_output = "all"\njupytext.formats = "ipynb,md:myst"\n'
    )
    cfg = config.load(repo)
    assert cfg.source == repo / "pyproject.toml"
    assert cfg.exclude == ("scratch/*",)
    assert cfg.clean.keep_output == "all"
    assert cfg.formats == "ipynb,md:myst"  # [tool] jupytext.formats: jupytext's own pairing
    (repo / "sub").mkdir()
    assert config.find_root(repo / "sub") == repo


def test_globs_match_as_gitignore_does(repo: Path, cli: Callable[..., Any]) -> None:
    (repo / "nbkit.toml").write_text('exclude = ["data/*.ipynb", "scratch.ipynb"]\n')
    dirty = make_nb("1")
    dirty["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    names = ["data/a.ipynb", "data/sub/b.ipynb", "scratch.ipynb", "deep/scratch.ipynb", "c.ipynb"]
    for name in names:
        write_nb(repo / name, dirty)
    commit_all(repo)
    assert cli("clean").code == 0
    cleaned = {n for n in names if read_nb(repo / n)["cells"][0]["outputs"] == []}
    assert cleaned == {"data/sub/b.ipynb", "c.ipynb"}


def test_notebooks_globs_match_as_gitignore_does(repo: Path) -> None:
    from nbkit.selection import configured_notebooks

    (repo / "nbkit.toml").write_text('notebooks = ["analysis/*.ipynb"]\n')
    for name in ("analysis/a.ipynb", "analysis/old/b.ipynb", "c.ipynb"):
        write_nb(repo / name, make_nb("1"))
    commit_all(repo)
    found = configured_notebooks(config.load(repo))
    assert [p.relative_to(repo).as_posix() for p in found] == ["analysis/a.ipynb"]
