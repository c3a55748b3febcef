"""Run parameters: YAML values as data, parameters-cell discovery, refusals (no kernel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.errors import BadInput
from nbkit.runs import params
from tests.conftest import assert_one_line_error, commit_all, make_nb, read_nb, write_nb
from tests.runs_helpers import experiment_nb, kernel_name

__all__ = ["kernel_name"]


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


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-3", 0.001),
        ("NO", "NO"),
        ("010", 10),
        ("12:30:00", "12:30:00"),
        ("True", True),
        ("true", "true"),
        ("None", None),
        ("3", 3),
        ("0.1", 0.1),
        ("[1, 2]", "[1, 2]"),
        ("", ""),
    ],
)
def test_p_values_are_typed_as_papermill_types_them(text: str, value: Any) -> None:
    assert params.parse_assignment(f"x={text}") == ("x", value)
    assert params.parse_assignment(f"x={text}", "-r") == ("x", text)


def test_yaml_and_raw_options_and_declared_types() -> None:
    assert params.parse_assignment("x=[1, 2]", "-y") == ("x", [1, 2])
    types = {"name": "str", "lr": "float", "epochs": "int", "layers": "list[int]", "on": "bool"}
    got = params.collect(
        [], ["name=010", "lr=1", "on=True"], ["layers=[64, 32]"], ["epochs=3"], types
    )
    assert got == {"name": "010", "lr": 1.0, "on": True, "layers": [64, 32], "epochs": "3"}
    assert isinstance(got["lr"], float)
    cases = [
        (["epochs=2.5"], (), "epochs is declared int, got 2.5"),
        (["layers=[1,2]"], (), "layers is declared list, got the string '[1,2]'"),
        (["on=yes"], (), "on is declared bool, got 'yes'"),
        ((), ["name=12"], "name is declared str, got 12"),
    ]
    for assignments, yaml_values, problem in cases:
        with pytest.raises(BadInput, match=problem.replace("[", r"\[")):
            params.collect([], assignments, yaml_values, (), types)


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def test_yaml_parameters_are_bounded(repo: Path, cli: Callable[..., Any]) -> None:
    write_nb(repo / "exp.ipynb", experiment_nb())
    (repo / "laughs.yaml").write_text(BILLION_LAUGHS)
    (repo / "deep.yaml").write_text("lr: " + "[" * 100 + "]" * 100 + "\n")
    commit_all(repo)
    for name, problem in (("laughs.yaml", "more than 100000 values"), ("deep.yaml", "too deep")):
        result = cli("run", "exp.ipynb", "-f", name)
        assert result.code == 2, result
        assert_one_line_error(result.err, name, problem, "hint: write the values out")
    result = cli("run", "exp.ipynb", "-y", "lr=" + "[" * 100 + "]" * 100)
    assert result.code == 2 and "too deep" in result.err
    _unchanged(repo)


def test_parameters_of_other_languages(repo: Path, cli: Callable[..., Any]) -> None:
    from papermill.parameterize import parameterize_notebook

    meta = {"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}}
    cell = {"cell_type": "code", "source": "lr <- 0.1  # rate\nname = 'a'", "metadata": {}}
    cell["metadata"]["tags"] = ["parameters"]
    body = {"cell_type": "code", "source": "print(lr)", "metadata": {"tags": []}}
    nb = make_nb(cell, body, metadata={**meta, "language_info": {"name": "R"}})
    assert params.language(nb) == "r" and params.language(nb, as_written=True) == "R"
    found = params.declared(nb, "r.ipynb") or []
    assert [(d.name, d.default, d.help) for d in found] == [
        ("lr", "0.1", "rate"),
        ("name", "'a'", ""),
    ]
    import nbformat

    as_papermill = nbformat.from_dict({**nb, "metadata": {**nb["metadata"], "papermill": {}}})
    injected = parameterize_notebook(
        as_papermill,
        {"lr": 0.001, "on": True},
        kernel_name="ir",
        language=params.language(nb, as_written=True),
    )
    sources = [
        c.source for c in injected.cells if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert sources == ["# Parameters\nlr = 0.001\non = TRUE\n"]

    write_nb(repo / "r.ipynb", nb)
    commit_all(repo)
    result = cli("run", "r.ipynb", "-p", "lr=1e-3")
    assert result.code == 2
    assert_one_line_error(result.err, "r.ipynb: the notebook's r kernel 'ir' is not installed")
    assert "hint: install it" in result.err
    _unchanged(repo)


def test_run_records_typed_and_default_parameters_and_series(
    repo: Path, cli: Callable[..., Any], kernel_name: str
) -> None:
    from tests.runs_helpers import manifest_of, only_run

    nb = experiment_nb(
        "print(type(lr).__name__, repr(name), epochs)",
        "import nbkit\nfor step in range(3):\n    nbkit.record('loss', 1 / (step + 1), step=step)",
        params="lr = 0.1\nepochs: int = 2\nname = 'x'",
    )
    write_nb(repo / "exp.ipynb", nb)
    commit_all(repo)
    result = cli("run", "exp.ipynb", "-p", "lr=1e-3", "-p", "name=010")
    assert result.code == 0, result.err
    recorded = manifest_of(only_run(repo))
    assert recorded["parameters"] == {"lr": 0.001, "name": "010"}
    assert recorded["effective_parameters"] == {"lr": 0.001, "epochs": 2, "name": "010"}
    # a series recorded with step=N (the metric keeps the last value)
    assert recorded["series"] == {"loss": [[0, 1.0], [1, 0.5], [2, 1 / 3]]}
    assert recorded["metrics"] == {"loss": 1 / 3}
    executed = read_nb(only_run(repo) / "executed.ipynb")
    printed = [o["text"] for c in executed["cells"] for o in c.get("outputs", []) if "text" in o]
    assert printed == [["float '010' 2\n"]]
