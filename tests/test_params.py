"""Run parameters: YAML values as data, parameters-cell discovery, refusals (no kernel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.errors import BadInput
from nbkit.runs import params
from tests.conftest import assert_one_line_error, commit_all, make_nb, write_nb
from tests.runs_helpers import experiment_nb


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", 0.1),
        ("3", 3),
        ("true", True),
        ("abc", "abc"),
        ("[1, 2]", [1, 2]),
        ("{a: 1}", {"a": 1}),
        ("", ""),
        ("null", None),
        ("2024-01-02", "2024-01-02"),  # YAML dates become ISO strings, not objects
        ("__import__('os').system('x')", "__import__('os').system('x')"),  # data, not code
        (".nan", "nan"),
    ],
)
def test_values_are_yaml_data(text: str, value: Any) -> None:
    assert params.parse_value(text) == value


def test_assignment_needs_an_identifier() -> None:
    assert params.parse_assignment("lr=0.5") == ("lr", 0.5)
    assert params.parse_assignment("name=a=b") == ("name", "a=b")
    for bad in ("lr", "=1", "1x=2", "a b=1"):
        with pytest.raises(BadInput):
            params.parse_assignment(bad)


def test_files_then_assignments(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("lr: 0.2\nlayers: [64, 32]\nname: run\n")
    got = params.collect([tmp_path / "p.yaml"], ["lr=0.3"])
    assert got == {"lr": 0.3, "layers": [64, 32], "name": "run"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [("lr: [1, 2\n", "invalid YAML"), ("- 1\n- 2\n", "mapping"), ("1x: 2\n", "identifier")],
)
def test_bad_params_files(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(BadInput, match=problem):
        params.load_file(path)


def test_declared_reads_types_defaults_and_comments() -> None:
    nb = experiment_nb(params="lr = 0.1  # learning rate\nepochs: int = 2\nname = 'x'\nf = g(1)")
    found = {d.name: d for d in params.declared(nb, "nb.ipynb") or []}
    assert found["lr"] == params.Declared("lr", "float", "0.1", "learning rate")
    assert found["epochs"].type == "int" and found["epochs"].default == "2"
    assert found["name"].type == "str"
    assert found["f"].type == "" and found["f"].default == "g(1)"  # never evaluated


def test_declared_none_without_cell_and_bad_syntax() -> None:
    assert params.declared(make_nb("x = 1"), "nb.ipynb") is None
    nb = experiment_nb(params="lr = = 1")
    with pytest.raises(BadInput, match="not valid Python"):
        params.declared(nb, "nb.ipynb")


def test_check_refuses_undeclared_and_cellless() -> None:
    nb = experiment_nb()
    params.check(nb, "nb.ipynb", {"lr": 1}, allow_unknown=False)
    with pytest.raises(BadInput, match="momentum is not declared"):
        params.check(nb, "nb.ipynb", {"momentum": 1}, allow_unknown=False)
    params.check(nb, "nb.ipynb", {"momentum": 1}, allow_unknown=True)
    with pytest.raises(BadInput, match="no cell tagged 'parameters'"):
        params.check(make_nb("x = 1"), "nb.ipynb", {"x": 2}, allow_unknown=True)


def _unchanged(repo: Path) -> None:
    assert not (repo / ".nbkit").exists(), "a refused run must record nothing"


def test_cli_bad_inputs_exit_2_one_line(repo: Path, cli: Callable[..., Any]) -> None:
    write_nb(repo / "exp.ipynb", experiment_nb())
    write_nb(repo / "plain.ipynb", make_nb("x = 1"))
    (repo / "bad.yaml").write_text("lr: [1\n")
    (repo / "notes.txt").write_text("hello")
    (repo / "broken.ipynb").write_text("{not json")
    commit_all(repo)
    cases = [
        (("exp.ipynb", "-p", "momentum=0.9"), "exp.ipynb"),
        (("plain.ipynb", "-p", "x=2"), "plain.ipynb"),
        (("exp.ipynb", "-f", "bad.yaml"), "bad.yaml"),
        (("notes.txt",), "notes.txt"),
        (("broken.ipynb",), "broken.ipynb"),
        (("missing.ipynb",), "missing.ipynb"),
        (("exp.ipynb", "--kernel", "no-such-kernel"), "no-such-kernel"),
        (("exp.ipynb", "-p", "lr"), "NAME=VALUE"),
        (("exp.ipynb", "--inputs", "data/*.csv"), "data/*.csv"),
    ]
    for args, needle in cases:
        result = cli("run", *args)
        assert result.code == 2, (args, result)
        assert_one_line_error(result.err, needle)
    _unchanged(repo)


def test_help_notebook_lists_parameters(repo: Path, cli: Callable[..., Any]) -> None:
    write_nb(repo / "exp.ipynb", experiment_nb())
    result = cli("run", "--help-notebook", "exp.ipynb")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DEFAULT", "HELP"]
    assert lines[1].split() == ["lr", "float", "0.1", "learning", "rate"]
    assert lines[2].split() == ["epochs", "int", "2"]
    write_nb(repo / "plain.ipynb", make_nb("x = 1"))
    assert "no cell tagged 'parameters'" in cli("run", "--help-notebook", "plain.ipynb").out
