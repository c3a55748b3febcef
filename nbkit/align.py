"""Align the cells of two versions of a notebook, moves included, without an N×M grid.

Stages, each only on the cells the earlier ones left unmatched:

1. ids, when a cell id is unique on both sides (nbformat 4.5 notebooks); when ids matched,
   cells with different ids are different cells, so only stage 2 follows;
2. unique content fingerprints (cell type + source) as patience-diff anchors, then repeated
   fingerprints in order inside the gaps between anchors;
3. similarity inside each gap between matches (an edited cell stays where it was): all
   pairs for a small gap, a band around each cell's relative place for a big one;
4. similarity through an index of rare source lines (a cell both moved and edited).

The longest chain of matches that keeps its order is "in place"; any other match is a move.

The work is bounded: the expensive similarity (``difflib`` ratio) is computed at most
``_CANDIDATES`` times per cell in each similarity stage, for the candidates a cheap estimate
ranks first (a length bound and the shared token bigrams); characters are compared only for
short sources, tokens for longer ones, and past ``_TOKEN_LIMIT`` tokens the estimate stands
in for the ratio. So aligning N cells costs O(N·k) ratios, each on bounded input.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any, NamedTuple

from nbkit.notebook import source_text

Cell = dict[str, Any]
Pair = tuple[int | None, int | None]

_GAP_GRID_LIMIT = 400  # largest gap (a*b cells) aligned by similarity position by position
_GAP_THRESHOLD = 0.6  # similarity for an edited cell that stayed in its place
_MOVE_THRESHOLD = 0.7  # stricter for a cell matched far from where it was
_COMMON_LINE = 20  # a line found in more cells than this does not identify a cell
_CANDIDATES = 5  # expensive ratios per cell and stage, for the best-estimated candidates
_CHAR_LIMIT = 600  # sources (both sides summed) up to this compare by characters
_TOKEN_LIMIT = 4000  # tokens (both sides summed) up to this compare by tokens
_TOKEN = re.compile(r"\w+|[^\w\s]")

# How many expensive ratios were computed (read by a test pinning the bounded work).
work: Counter[str] = Counter()


class _Profile(NamedTuple):
    tokens: tuple[str, ...]
    bigrams: frozenset[tuple[str, str]]


@functools.lru_cache(maxsize=4096)
def _profile(text: str) -> _Profile:
    """Tokens (words and punctuation) and their bigrams, computed once per source."""
    tokens = tuple(_TOKEN.findall(text))
    return _Profile(tokens, frozenset(itertools.pairwise(tokens)))


def estimate(a: str, b: str) -> float:
    """A cheap 0..1 likeness to rank candidates: the length bound times the share of token
    bigrams in common. Linear in the sources; 0 when the lengths alone rule a match out."""
    if a == b:
        return 1.0
    bound = _length_bound(a, b)
    if bound < _GAP_THRESHOLD:
        return 0.0
    pa, pb = _profile(a), _profile(b)
    if not pa.bigrams or not pb.bigrams:
        return bound * 0.5  # one token: only the ratio can tell
    shared = len(pa.bigrams & pb.bigrams)
    return bound * 2 * shared / (len(pa.bigrams) + len(pb.bigrams))


def _length_bound(a: str, b: str) -> float:
    """An upper bound of any ratio (difflib's ``real_quick_ratio`` on characters)."""
    total = len(a) + len(b)
    return 2 * min(len(a), len(b)) / total if total else 1.0


def similarity(a: str, b: str) -> float:
    """0..1: characters for short sources (one-character edits count), tokens for longer
    ones (prose and code alike), the estimate alone past the token limit; 0 below the
    threshold. Bounded: O(tokens) plus one difflib ratio on at most ``_TOKEN_LIMIT`` items."""
    if a == b:
        return 1.0
    if not a or not b or _length_bound(a, b) < _GAP_THRESHOLD:
        return 0.0
    if len(a) + len(b) <= _CHAR_LIMIT:
        return _ratio(a, b)
    pa, pb = _profile(a), _profile(b)
    if len(pa.tokens) + len(pb.tokens) > _TOKEN_LIMIT:
        guess = estimate(a, b)
        return guess if guess >= _GAP_THRESHOLD else 0.0
    return _ratio(pa.tokens, pb.tokens)


def _ratio(a: Sequence[str], b: Sequence[str]) -> float:
    work["ratio"] += 1
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < _GAP_THRESHOLD or matcher.quick_ratio() < _GAP_THRESHOLD:
        return 0.0
    return matcher.ratio()


def _cell_similarity(a: Cell, b: Cell, sa: str, sb: str) -> float:
    score = similarity(sa, sb)
    return score if a.get("cell_type") == b.get("cell_type") else score * 0.9


def _best(candidates: Sequence[int], of: str, sources: Sequence[str]) -> list[int]:
    """The ``_CANDIDATES`` candidates whose estimate against ``of`` is highest (and not 0)."""
    if len(candidates) <= _CANDIDATES:
        return list(candidates)
    scored = [(estimate(sources[i], of), i) for i in candidates]
    scored.sort(key=lambda t: -t[0])
    return [i for e, i in scored[:_CANDIDATES] if e > 0]


def longest_chain(matches: dict[int, int]) -> list[tuple[int, int]]:
    """The longest set of matches increasing on both sides (patience LIS, n log n)."""
    pairs = sorted(matches.items(), key=lambda p: p[1])
    tails: list[int] = []  # old index ending the best chain of each length
    tail_at: list[int] = []  # position in pairs of that tail
    back: list[int] = [-1] * len(pairs)
    for pos, (old, _new) in enumerate(pairs):
        k = bisect.bisect_left(tails, old)
        if k == len(tails):
            tails.append(old)
            tail_at.append(pos)
        else:
            tails[k] = old
            tail_at[k] = pos
        back[pos] = tail_at[k - 1] if k else -1
    chain: list[tuple[int, int]] = []
    pos = tail_at[-1] if tail_at else -1
    while pos != -1:
        chain.append(pairs[pos])
        pos = back[pos]
    chain.reverse()
    return chain


def _match_ids(old: Sequence[Cell], new: Sequence[Cell], matches: dict[int, int]) -> None:
    def unique_ids(cells: Sequence[Cell]) -> dict[str, int]:
        seen: dict[str, int] = {}
        dup: set[str] = set()
        for i, cell in enumerate(cells):
            cid = cell.get("id")
            if isinstance(cid, str) and cid:
                if cid in seen:
                    dup.add(cid)
                seen[cid] = i
        return {k: v for k, v in seen.items() if k not in dup}

    new_ids = unique_ids(new)
    for cid, i in unique_ids(old).items():
        j = new_ids.get(cid)
        if j is not None:
            matches[i] = j


def _match_unique(
    keys_old: Sequence[Any], keys_new: Sequence[Any], matches: dict[int, int]
) -> None:
    taken = set(matches.values())
    count_old: dict[Any, list[int]] = defaultdict(list)
    count_new: dict[Any, list[int]] = defaultdict(list)
    for i, key in enumerate(keys_old):
        if i not in matches:
            count_old[key].append(i)
    for j, key in enumerate(keys_new):
        if j not in taken:
            count_new[key].append(j)
    for key, olds in count_old.items():
        news = count_new.get(key)
        if news is not None and len(olds) == 1 and len(news) == 1:
            matches[olds[0]] = news[0]


def _gaps(n_old: int, n_new: int, matches: dict[int, int]) -> list[tuple[list[int], list[int]]]:
    """Unmatched old and new cells between consecutive in-order matches."""
    taken = set(matches.values())
    bounds = [(-1, -1), *longest_chain(matches), (n_old, n_new)]
    gaps = []
    for (o0, n0), (o1, n1) in itertools.pairwise(bounds):
        olds = [i for i in range(o0 + 1, o1) if i not in matches]
        news = [j for j in range(n0 + 1, n1) if j not in taken]
        if olds and news:
            gaps.append((olds, news))
    return gaps


def _match_repeats(
    keys_old: Sequence[Any], keys_new: Sequence[Any], matches: dict[int, int]
) -> None:
    """Repeated fingerprints (empty cells, `df.head()`) inside each gap: the longest common
    subsequence for small gaps, first-fit in order for huge ones."""
    for olds, news in _gaps(len(keys_old), len(keys_new), matches):
        a = [keys_old[i] for i in olds]
        b = [keys_new[j] for j in news]
        pairs = _lcs(a, b) if len(a) * len(b) <= _GAP_GRID_LIMIT * 25 else _first_fit(a, b)
        for x, y in pairs:
            matches[olds[x]] = news[y]


def _lcs(a: Sequence[Any], b: Sequence[Any]) -> list[tuple[int, int]]:
    n, m = len(a), len(b)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for x in range(n - 1, -1, -1):
        row, below = best[x], best[x + 1]
        for y in range(m - 1, -1, -1):
            row[y] = below[y + 1] + 1 if a[x] == b[y] else max(below[y], row[y + 1])
    pairs, x, y = [], 0, 0
    while x < n and y < m:
        if a[x] == b[y]:
            pairs.append((x, y))
            x, y = x + 1, y + 1
        elif best[x + 1][y] >= best[x][y + 1]:
            x += 1
        else:
            y += 1
    return pairs


def _first_fit(a: Sequence[Any], b: Sequence[Any]) -> list[tuple[int, int]]:
    free: dict[Any, list[int]] = defaultdict(list)
    for y, k in enumerate(b):
        free[k].append(y)
    pairs, last = [], -1
    for x, k in enumerate(a):
        spots = free.get(k, [])
        while spots and spots[0] <= last:
            spots.pop(0)
        if spots:
            last = spots.pop(0)
            pairs.append((x, last))
    return pairs


def _align_gap(
    olds: list[int],
    news: list[int],
    old: Sequence[Cell],
    new: Sequence[Cell],
    src_old: Sequence[str],
    src_new: Sequence[str],
    matches: dict[int, int],
    floor: float = 0.0,
) -> None:
    """Order-keeping alignment of a small gap maximising total similarity (a tiny DP).

    ``floor`` > 0 pairs cells below the threshold too (each pair is worth at least it).
    """
    a, b = len(olds), len(news)
    score = [[0.0] * (b + 1)] + [[0.0] + [floor] * b for _ in range(a)]
    position = {i: x for x, i in enumerate(olds)}
    for y, j in enumerate(news):
        for i in _best(olds, src_new[j], src_old):
            s = _cell_similarity(old[i], new[j], src_old[i], src_new[j])
            score[position[i] + 1][y + 1] = floor + s if floor or s >= _GAP_THRESHOLD else 0.0
    best = [[0.0] * (b + 1) for _ in range(a + 1)]
    for x in range(1, a + 1):
        for y in range(1, b + 1):
            diag = best[x - 1][y - 1] + score[x][y] if score[x][y] else -1.0
            best[x][y] = max(best[x - 1][y], best[x][y - 1], diag)
    x, y = a, b
    while x and y:
        if score[x][y] and best[x][y] == best[x - 1][y - 1] + score[x][y]:
            matches[olds[x - 1]] = news[y - 1]
            x, y = x - 1, y - 1
        elif best[x][y] == best[x - 1][y]:
            x -= 1
        else:
            y -= 1


def _align_band(
    olds: list[int],
    news: list[int],
    old: Sequence[Cell],
    new: Sequence[Cell],
    src_old: Sequence[str],
    src_new: Sequence[str],
    matches: dict[int, int],
) -> None:
    """A gap too big for the grid (a long run of edited cells): each new cell looks at the
    old cells near its own relative place, in order, so the work stays O(cells · k)."""
    last = -1
    position = {i: x for x, i in enumerate(olds)}
    for y, j in enumerate(news):
        centre = y * len(olds) // len(news)
        near = [olds[x] for x in range(max(last + 1, centre - 2), min(len(olds), centre + 3))]
        best, best_x = 0.0, -1
        for i in _best(near, src_new[j], src_old):
            score = _cell_similarity(old[i], new[j], src_old[i], src_new[j])
            if score >= _GAP_THRESHOLD and score > best:
                best, best_x = score, position[i]
        if best_x >= 0:
            matches[olds[best_x]] = j
            last = best_x


def _rare_lines(text: str) -> set[str]:
    return {s for s in (line.strip() for line in text.splitlines()) if len(s) > 3}


def _match_anywhere(
    old: Sequence[Cell],
    new: Sequence[Cell],
    src_old: Sequence[str],
    src_new: Sequence[str],
    matches: dict[int, int],
) -> None:
    """Edited and moved cells: candidates share a rare line; best ratios win, greedily."""
    taken = set(matches.values())
    index: dict[str, list[int]] = defaultdict(list)
    for i, src in enumerate(src_old):
        if i not in matches:
            for line in _rare_lines(src):
                index[line].append(i)
    scored: list[tuple[float, int, int]] = []
    for j, src in enumerate(src_new):
        if j in taken:
            continue
        shared: dict[int, int] = defaultdict(int)
        for line in _rare_lines(src):
            hits = index.get(line, ())
            if len(hits) <= _COMMON_LINE:
                for i in hits:
                    shared[i] += 1
        for i in sorted(shared, key=lambda k: -shared[k])[:_CANDIDATES]:
            s = _cell_similarity(old[i], new[j], src_old[i], src_new[j])
            if s >= _MOVE_THRESHOLD:
                scored.append((s, i, j))
    for _s, i, j in sorted(scored, key=lambda t: (-t[0], t[1], t[2])):
        if i not in matches and j not in taken:
            matches[i] = j
            taken.add(j)


def align(old: Sequence[Cell], new: Sequence[Cell]) -> dict[int, int]:
    """Matched cells as {old index: new index}; see the module docstring for the stages."""
    matches: dict[int, int] = {}
    _match_ids(old, new, matches)
    trust_ids = bool(matches)
    src_old = [source_text(c) for c in old]
    src_new = [source_text(c) for c in new]
    keys_old = [(c.get("cell_type"), s) for c, s in zip(old, src_old, strict=True)]
    keys_new = [(c.get("cell_type"), s) for c, s in zip(new, src_new, strict=True)]
    _match_unique(keys_old, keys_new, matches)
    _match_repeats(keys_old, keys_new, matches)
    if trust_ids:  # ids kept the edited cells together; other unmatched cells are new ones
        return matches
    for olds, news in _gaps(len(old), len(new), matches):
        if len(olds) * len(news) <= _GAP_GRID_LIMIT:
            _align_gap(olds, news, old, new, src_old, src_new, matches)
        else:
            _align_band(olds, news, old, new, src_old, src_new, matches)
    _match_anywhere(old, new, src_old, src_new, matches)
    return matches


def _has_id(cell: Cell) -> bool:
    value = cell.get("id")
    return isinstance(value, str) and bool(value)


def pair_rewrites(old: Sequence[Cell], new: Sequence[Cell], matches: dict[int, int]) -> None:
    """Add to ``matches`` the unmatched cells that face each other between the same matched
    neighbours: one cell rewritten beyond recognition, for a merge, where a removal plus an
    addition of the same cell would let both sides' rewrites through as two copies.

    Only cells without ids pair (two cells with different ids are different cells). In a gap
    with several candidates the most similar pairs win, in order; the rest stay added/removed.
    """
    src_old = [source_text(c) for c in old]
    src_new = [source_text(c) for c in new]
    for olds, news in _gaps(len(old), len(new), matches):
        if len(olds) * len(news) > _GAP_GRID_LIMIT:
            continue
        olds = [i for i in olds if not _has_id(old[i])]
        news = [j for j in news if not _has_id(new[j])]
        if olds and news:
            _align_gap(olds, news, old, new, src_old, src_new, matches, floor=0.01)


def order(n_old: int, n_new: int, matches: dict[int, int]) -> list[Pair]:
    """Display order: new cells in order, each removed cell just before the next in-place
    match that followed it in the old notebook."""
    chain = longest_chain(matches)
    chain_old = [o for o, _n in chain]
    items: list[tuple[tuple[int, int, int], Pair]] = []
    for i in range(n_old):
        if i not in matches:
            k = bisect.bisect_right(chain_old, i)
            at = chain[k][1] if k < len(chain) else n_new
            items.append(((at, 0, i), (i, None)))
    back = {n: o for o, n in matches.items()}
    for j in range(n_new):
        items.append(((j, 1, 0), (back.get(j), j)))
    items.sort(key=lambda t: t[0])
    return [pair for _key, pair in items]


def moved(matches: dict[int, int]) -> set[int]:
    """Old indices of matched cells outside the longest in-order chain."""
    in_place = {o for o, _n in longest_chain(matches)}
    return {o for o in matches if o not in in_place}


def match_cells(old_cells: Sequence[Cell], new_cells: Sequence[Cell]) -> list[Pair]:
    """Pairs ``(old index, new index)`` in display order; ``(i, None)`` is a removed cell,
    ``(None, j)`` an added one. Reusable by merging: cells are plain nbformat dicts."""
    return order(len(old_cells), len(new_cells), align(old_cells, new_cells))
