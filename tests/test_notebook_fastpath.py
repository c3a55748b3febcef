"""The fast paths of notebook writing and cleaning (orjson re-indented, no deep copies) give
exactly what the plain ``json.dumps`` path and nbformat give, and never change their input."""

from __future__ import annotations

import copy
import json
from typing import Any

import nbformat
from hypothesis import given, settings
from hypothesis import strategies as st

from nbkit import notebook
from nbkit.clean import clean_notebook
from nbkit.config import CleanPolicy
from tests.conftest import make_nb


def _reference(nb: dict[str, Any]) -> str:
    storage = notebook.to_storage_form(nb)
    text = json.dumps(storage, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
    return text + "\n"


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(meta=_json, out_meta=_json, text=st.text(max_size=40))
def test_dumps_matches_json_dumps_for_any_values(meta: Any, out_meta: Any, text: str) -> None:
    nb = make_nb(
        {
            "cell_type": "code",
            "source": text,
            "metadata": {"x": meta},
            "execution_count": 3,
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {"m": out_meta},
                    "data": {"text/plain": text, "application/json": {"v": meta}},
                }
            ],
        },
        ("markdown", text),
        metadata={"deep": {"a": [meta, [meta, {"b": meta}]]}},
    )
    before = copy.deepcopy(nb)
    assert notebook.dumps(nb) == _reference(nb)
    assert notebook.to_bytes(nb, "\r\n") == _reference(nb).replace("\n", "\r\n").encode()
    assert nb == before  # writing never changes the notebook it is given


def test_dumps_matches_nbformat_on_deep_and_empty_structures() -> None:
    nb = make_nb(
        {
            "cell_type": "code",
            "source": "",
            "metadata": {"a": {"b": {"c": {"d": {"e": [[], {}, [1, [2, [3]]]]}}}}},
            "outputs": [],
            "execution_count": None,
        },
        metadata={"widgets": {}, "numbers": [0.1, 1e-05, 1e16, 3, -0.0]},
    )
    written = nbformat.writes(nbformat.from_dict(nb)) + "\n"
    assert notebook.dumps(nb) == written


def test_clean_does_not_change_its_input_and_shares_nothing_with_it() -> None:
    nb = make_nb(
        {
            "cell_type": "code",
            "source": ["a = 1\n", "a"],
            "metadata": {"tags": ["keep-output"], "ExecuteTime": {"start": "x"}},
            "execution_count": 4,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}],
        },
        metadata={"language_info": {"name": "python", "version": "3.11"}, "widgets": {"s": 1}},
    )
    before = copy.deepcopy(nb)
    for policy in (CleanPolicy(), CleanPolicy(keep_output="tagged")):
        cleaned = clean_notebook(nb, policy)
        assert nb == before
        cleaned["cells"][0]["source"].append("changed")
        cleaned["cells"][0]["metadata"]["tags"].append("changed")
        for output in cleaned["cells"][0]["outputs"]:
            output["text"].append("changed")
        assert nb == before
