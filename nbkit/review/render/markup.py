"""What makes the HTML review page readable: rendered markdown, highlighted code, changed words.

Markdown from a notebook is untrusted: markdown-it renders it (raw HTML allowed, as Jupyter
does) and nh3 then sanitizes the result with the same rules as HTML outputs, so nothing here
widens what the page can run (nothing: its CSP has no script source). Math is not typeset
(that needs a script); it is kept as its TeX between its dollars, safe from markdown's
emphasis rules. Highlighting and word diffs produce only ``<span class>`` markup around
escaped text. markdown-it, pygments and nh3 are imported when a page is rendered.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Iterator, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# One highlighted line: (CSS class or "", text) pieces.
Line = list[tuple[str, str]]
Span = tuple[int, int]  # [start, end) character offsets in a line

# Classes nbkit's own markdown rendering puts on math; nothing else keeps a class.
_MATH_CLASSES = {"span": {"math", "inline"}, "div": {"math", "block", "inline"}}
_WORD = re.compile(r"\w+|\s+|[^\w\s]")
# Below this similarity two paired lines are simply different: marking words adds noise.
_MIN_WORD_RATIO = 0.3
_MAX_LINE = 2000  # longer lines are not word-diffed (quadratic matcher)


def _math(content: str, options: dict[str, Any]) -> str:
    fence = "$$" if options.get("display_mode") else "$"
    return escape(f"{fence}{content}{fence}")


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # allow_digits=False: "$5 and $10" is money, not math
    md.use(dollarmath_plugin, renderer=_math, allow_digits=False, double_inline=True)
    return md


def markdown_html(text: str) -> str:
    """A markdown cell as sanitized HTML (links and images kept, as outputs keep them)."""
    import nh3

    from nbkit.review.outputs import no_data_links

    rendered = _markdown().render(text)
    return str(
        nh3.clean(
            rendered,
            url_schemes={"data", "http", "https", "mailto"},
            attribute_filter=no_data_links,
            allowed_classes=_MATH_CLASSES,
        )
    )


# --- syntax highlighting ----------------------------------------------------------------------


@functools.cache
def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _css_class(token: Any) -> str:
    from pygments.token import STANDARD_TYPES

    while token not in STANDARD_TYPES and token.parent is not None:
        token = token.parent
    return str(STANDARD_TYPES.get(token, ""))


def highlight_lines(source: str, language: str | None) -> list[Line]:
    """``source`` lexed as a whole (strings and comments spanning lines stay right), then
    cut into lines of (class, text). Unknown languages come back as plain text."""
    lines = source.splitlines()
    lexer = _lexer(language.lower()) if language else None
    if lexer is None:
        return [[("", line)] for line in lines]
    result: list[Line] = [[]]
    for token, value in lexer.get_tokens(source):
        cls = _css_class(token)
        first, *rest = value.split("\n")
        if first:
            result[-1].append((cls, first))
        for part in rest:
            result.append([(cls, part)] if part else [])
    # splitlines() decides the line count (it also splits \r and friends); keep them in step
    while len(result) > len(lines):
        result.pop()
    if [_plain(line) for line in result] != lines:
        return [[("", line)] for line in lines]
    return result


def _plain(line: Line) -> str:
    return "".join(text for _cls, text in line)


def stylesheet() -> str:
    """pygments' colours for the classes ``highlight_lines`` uses, scoped to ``.hl``."""
    from pygments.formatters import HtmlFormatter

    rules = str(HtmlFormatter(style="default").get_style_defs(".hl")).splitlines()
    # only the token colours: the page's own rules decide the layout of every <pre>
    return "".join(rule for rule in rules if rule.startswith(".hl ."))


# --- changed words ----------------------------------------------------------------------------


def changed_words(old: str, new: str) -> tuple[list[Span], list[Span]]:
    """Character spans that differ between two paired lines, word by word; none when the
    lines share too little for a word diff to help."""
    if len(old) > _MAX_LINE or len(new) > _MAX_LINE:
        return [], []
    a, b = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < _MIN_WORD_RATIO:
        return [], []
    starts_a, starts_b = _offsets(a), _offsets(b)
    spans_a: list[Span] = []
    spans_b: list[Span] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if a1 > a0:
            spans_a.append((starts_a[a0], starts_a[a1]))
        if b1 > b0:
            spans_b.append((starts_b[b0], starts_b[b1]))
    return spans_a, spans_b


def _offsets(words: list[str]) -> list[int]:
    """Start offset of each word, plus the end of the line."""
    out = [0]
    for word in words:
        out.append(out[-1] + len(word))
    return out


def _pieces(line: Line, spans: list[Span]) -> Iterator[tuple[str, str, bool]]:
    """(class, text, changed) pieces: each highlighted token cut at the span boundaries."""
    pos = 0
    for cls, text in line:
        start, end = pos, pos + len(text)
        cuts = sorted({start, end, *(p for s in spans for p in s if start < p < end)})
        for lo, hi in itertools.pairwise(cuts):
            yield cls, text[lo - start : hi - start], any(s <= lo and hi <= e for s, e in spans)
        pos = end


def line_html(line: Line, spans: Sequence[Span] = ()) -> str:
    """One line as escaped HTML: token classes, and changed words wrapped in ``.wd``."""
    parts = []
    for cls, text, changed in _pieces(line, list(spans)):
        html = escape(text)
        if cls:
            html = f'<span class="{cls}">{html}</span>'
        if changed:
            html = f'<span class="wd">{html}</span>'
        parts.append(html)
    return "".join(parts)
