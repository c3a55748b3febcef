"""Property tests across capabilities: the diff of a notebook with itself is empty,
and cleaning never changes what the diff considers a source change."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nbkit.clean import clean_notebook
from nbkit.review.diff import diff_notebooks
from tests.conftest import make_nb

_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)
_output = st.one_of(
    st.builds(lambda t: {"output_type": "stream", "name": "stdout", "text": t}, _text),
    st.builds(
        lambda t: {"output_type": "display_data", "metadata": {}, "data": {"text/plain": t}},
        _text,
    ),
)
_cell = st.one_of(
    st.builds(lambda s: {"cell_type": "markdown", "source": s}, _text),
    st.builds(
        lambda s, outs, n: {
            "cell_type": "code",
            "source": s,
            "outputs": outs,
            "execution_count": n,
        },
        _text,
        st.lists(_output, max_size=2),
        st.one_of(st.none(), st.integers(1, 99)),
    ),
)


@settings(max_examples=80, deadline=None)
@given(cells=st.lists(_cell, max_size=12), ids=st.booleans())
def test_diff_of_a_notebook_with_itself_is_empty(cells: list[dict[str, Any]], ids: bool) -> None:
    nb = make_nb(*cells, minor=5 if ids else 4)
    result = diff_notebooks(nb, nb, "nb.ipynb")
    assert result.status == "unchanged"
    assert result.cells == () and result.metadata == ()
    assert result.unchanged == len(nb["cells"])


@settings(max_examples=60, deadline=None)
@given(cells=st.lists(_cell, max_size=10))
def test_cleaning_is_never_a_source_change(cells: list[dict[str, Any]]) -> None:
    nb = make_nb(*cells)
    result = diff_notebooks(nb, clean_notebook(nb), "nb.ipynb")
    assert all(not change.source_changed for change in result.cells)
