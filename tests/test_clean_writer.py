"""The canonical writer: byte for byte what nbformat (``json.dumps`` indent 1) and the previous
orjson + re-indent writer give, on every shape of the benchmark corpus and the tests' notebooks,
and a clean in one pass that changes only what it reports."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from benchmarks import corpus
from nbkit import notebook
from nbkit.clean import clean_in_place, clean_notebook
from nbkit.config import CleanPolicy
from tests.conftest import make_nb
from tests.test_clean import DIRTY


def _json_dumps(nb: dict[str, Any]) -> bytes:
    """What ``nbformat.write`` writes (its own ``json.dumps`` call)."""
    storage = notebook.to_storage_form(nb)
    text = json.dumps(storage, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def _previous_writer(nb: dict[str, Any]) -> bytes | None:
    """The writer nbkit had before (orjson's two-space indent halved); None where it handed
    the notebook to ``json.dumps`` (a float inside, or a value orjson refuses)."""
    storage = notebook.to_storage_form(nb)
    if any(isinstance(v, float) for v in _values(storage)):  # it used json.dumps for floats
        return None
    try:
        raw = orjson.dumps(storage, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    depth = 1
    while b"\n" + b"  " * depth in raw:
        raw = re.sub(b"\n" + b"  " * depth + b"(?! )", b"\n" + b" " * depth, raw)
        depth += 1
    return raw + b"\n"


def _values(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v)


def _corpus() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every notebook shape the benchmarks generate: the 200-notebook repository set (sizes
    1 KB to 5 MB, with and without ids, figures), a 1 MB notebook, prose, paired and
    unexecuted ones; each also cleaned."""
    specs = [
        corpus.spec_for_size(size, 100_000 + index, ids=index % 4 != 0)
        for index, size in enumerate(corpus.repo_sizes(200, 1))
    ]
    specs += [corpus.spec_for_size(1_000_000, 7), corpus.NotebookSpec(cells=30, executed=False)]
    for spec in specs:
        yield f"{spec}", corpus.build(spec)
    yield "prose", corpus.prose_notebook(50, 17)
    yield "prose with ids", corpus.prose_notebook(20, 3, ids=True)


def _tests_notebooks() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "test_clean.DIRTY", DIRTY
    yield (
        "odd values",
        make_nb(
            {
                "cell_type": "code",
                "source": ["a\r\n", "b\u2028c", "tab\there", 'quote " and \\ slash /'],
                "metadata": {"n": [0.1, 1e-05, 1e16, -0.0, 3, 2**70, True, None]},
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/plain": "x\ny", "image/svg+xml": "<svg>\n</svg>"},
                        "transient": {"display_id": "d"},
                    }
                ],
                "execution_count": 4,
            },
            ("markdown", "ünïcödé → ✓ 🎉\n\x00\x1f\x7f"),
            metadata={"empty": {}, "nested": {"a": [[], {}, [{}]]}, "orig_nbformat": 3},
        ),
    )


def _all_notebooks() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, nb in [*_corpus(), *_tests_notebooks()]:
        yield name, nb
        yield f"{name}, cleaned", clean_notebook(nb, CleanPolicy())


@pytest.mark.slow  # ~15 MB of notebooks through the pure-Python json.dumps reference
def test_writer_is_byte_identical_on_the_benchmark_corpus_and_tests_notebooks() -> None:
    compared_with_previous = 0
    for name, nb in _all_notebooks():
        before = copy.deepcopy(nb)
        expected = _json_dumps(nb)
        assert notebook.to_bytes(nb) == expected, name
        assert nb == before, name  # the copying writer never changes its input
        previous = _previous_writer(nb)
        if previous is not None:
            assert previous == expected, name
            compared_with_previous += 1
        owned = copy.deepcopy(nb)
        assert notebook.to_bytes(owned, "\r\n", owned=True) == expected.replace(b"\n", b"\r\n")
    assert compared_with_previous > 200  # the previous writer's own path was exercised


def test_clean_in_place_reports_exactly_when_it_changes_something() -> None:
    dirty = copy.deepcopy(DIRTY)
    assert clean_in_place(dirty, CleanPolicy())
    assert dirty == clean_notebook(DIRTY, CleanPolicy())
    cleaned = copy.deepcopy(dirty)
    assert not clean_in_place(cleaned, CleanPolicy())  # idempotent, and says so
    assert cleaned == dirty
    for name, nb in _corpus():
        executed = any(c.get("outputs") for c in nb["cells"])
        assert clean_in_place(copy.deepcopy(nb), CleanPolicy()) == (
            executed or (nb["nbformat_minor"] >= 5 and any("id" not in c for c in nb["cells"]))
        ), name


@pytest.mark.parametrize(
    ("cell", "changed"),
    [
        ({"cell_type": "code", "source": "", "metadata": {}}, True),  # no outputs, no count
        (
            {
                "cell_type": "code",
                "source": "",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            },
            False,
        ),
        ({"cell_type": "markdown", "source": "", "metadata": {"collapsed": True}}, True),
        ({"cell_type": "raw", "source": "", "metadata": {"tags": ["x"]}}, False),
    ],
)
def test_each_kind_of_change_is_reported(cell: dict[str, Any], changed: bool) -> None:
    nb = {"cells": [{"id": "a", **cell}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert clean_in_place(nb, CleanPolicy()) is changed
