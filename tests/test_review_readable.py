"""The HTML review page reads like the notebook: markdown rendered, code highlighted, changed
words marked, math kept as TeX; hostile markdown stays inert. Through real `nbkit review` on
real git history (the browser checks are in test_review_browser.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import commit_all
from tests.review_helpers import code, md, notebook, result

Cli = Callable[..., Any]

HOSTILE_MD = (
    "# Title <script>document.title='PWNED'</script>\n\n"
    "[click](javascript:alert(1)) [data](data:text/html,<script>alert(1)</script>) "
    '<img src=x onerror="alert(1)"> <iframe src="https://example.com"></iframe>\n\n'
    '<style>body{display:none}</style><a href="https://example.com" onclick="alert(1)">ok</a>\n\n'
    '<span class="wd ins" style="position:fixed">fake mark</span>'
)


def write(path: Path, nb: dict[str, Any]) -> None:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def page(repo: Path, cli: Cli, old: dict[str, Any], new: dict[str, Any]) -> str:
    write(repo / "nb.ipynb", old)
    commit_all(repo, "old")
    write(repo / "nb.ipynb", new)
    commit_all(repo, "new")
    res = cli("review", "HEAD~1...HEAD", "--format", "html", "-o", "review.html")
    assert res.code == 0, res.err
    return (repo / "review.html").read_text(encoding="utf-8")


def test_markdown_cells_are_rendered_with_math_kept_as_tex(repo: Path, cli: Cli) -> None:
    html = page(
        repo,
        cli,
        notebook(md("# Results\n\nThe *mean* is $a_1 * b_2 * c$.", cid="m")),
        notebook(
            md("# Results\n\nThe **median** is $a_1 * b_2 * c$.\n\n$$\\sum_i x_i$$\n\n$5 or $6", cid="m"),
            code("show()", result(text_markdown="Output **bold**"), cid="o"),
        ),
    )
    assert '<div class="md"><h1>Results</h1>' in html
    assert "<em>mean</em>" in html and "<strong>median</strong>" in html
    # the TeX survives whole: no emphasis made of its stars and underscores
    assert '<span class="math inline">$a_1 * b_2 * c$</span>' in html
    assert '<div class="math block">\n$$\\sum_i x_i$$\n</div>' in html
    assert "<p>$5 or $6</p>" in html  # money is not math
    assert "Output <strong>bold</strong>" in html  # a text/markdown output, rendered too
    assert "<summary>markdown source</summary>" in html  # the edit itself is still shown


def test_code_is_highlighted_and_only_changed_words_are_marked(repo: Path, cli: Cli) -> None:
    src = "def f(x):\n    '''doc\n    string'''\n    return x + {}  # add {}\n"
    html = page(
        repo,
        cli,
        notebook(code(src.format(1, "one"), cid="c")),
        notebook(code(src.format(2, "two"), cid="c")),
    )
    assert '<span class="k">def</span>' in html
    assert '<span class="s2">' in html or '<span class="sd">' in html  # the docstring, lexed whole
    marked = re.findall(r'<span class="wd">(.*?)</span></span>|<span class="wd">([^<]*)</span>', html)
    words = sorted(re.sub(r"<[^>]+>", "", a or b) for a, b in marked)
    assert words == ["1", "2", "one", "two"], words
    assert ".hl .k" in html  # pygments' colours are inline: the page stays self-contained


def test_hostile_markdown_is_rendered_inert(repo: Path, cli: Cli) -> None:
    html = page(repo, cli, notebook(md("x", cid="m")), notebook(md(HOSTILE_MD, cid="m")))
    rendered = "".join(re.findall(r'<div class="md">(.*?)</div></td>', html, flags=re.S))
    assert "<h1>Title </h1>" in rendered
    for bad in ("<script", "href=\"javascript", "href=\"data", "onerror", "onclick", "<iframe", "<style"):
        assert bad not in rendered, bad
    assert 'class="wd' not in rendered and "position:fixed" not in rendered
    assert 'href="https://example.com"' in rendered  # a plain link is kept (CSP: no fetch)
    head = html.split("</head>")[0]
    assert "default-src 'none'" in head and "script-src" not in head
