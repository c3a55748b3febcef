"""The aligner's work is bounded: expensive similarity ratios are counted, not timed."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from benchmarks import content
from nbkit import align
from tests.conftest import make_nb


def _prose_pair(cells: int, chars: int, seed: int = 1) -> tuple[list[Any], list[Any]]:
    """Id-less markdown cells of about ``chars`` characters, every one lightly edited."""
    rng = random.Random(seed)
    old = make_nb(*(("markdown", content.prose_source(rng, chars)) for _ in range(cells)), minor=4)
    new = copy.deepcopy(old)
    for cell in new["cells"]:
        cell["source"] = content.edit_prose(cell["source"], rng)
    return old["cells"], new["cells"]


@pytest.mark.parametrize("chars", [300, 2000, 5000])
@pytest.mark.parametrize("cells", [10, 20, 60])
def test_ratios_computed_grow_linearly_with_cells(cells: int, chars: int) -> None:
    old, new = _prose_pair(cells, chars)
    align.work.clear()
    matches = align.align(old, new)
    assert matches == {i: i for i in range(cells)}  # every light edit still found
    # stages 3 and 4 each compute at most k ratios per cell (an N x N grid did N * N)
    assert align.work["ratio"] <= 2 * align._CANDIDATES * cells


def test_near_identical_cells_are_still_bounded() -> None:
    """The worst shape for ranking: every cell looks like every other one."""
    rng = random.Random(3)
    text = content.prose_source(rng, 2000)
    old = [
        {"cell_type": "markdown", "metadata": {}, "source": content.edit_prose(text, rng)}
        for _ in range(20)
    ]
    new = [{**c, "source": content.edit_prose(c["source"], rng)} for c in old]
    align.work.clear()
    align.align(old, new)
    assert align.work["ratio"] <= 2 * align._CANDIDATES * len(old)


def test_a_one_character_edit_of_a_short_cell_is_still_a_match() -> None:
    old = make_nb("x = 1", "y = 2", minor=4)["cells"]
    new = make_nb("x = 3", "y = 4", minor=4)["cells"]
    assert align.align(old, new) == {0: 0, 1: 1}
