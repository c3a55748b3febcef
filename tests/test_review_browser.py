"""The HTML review page in real headless Chromium: it renders, and hostile outputs stay inert.

A control page carrying the same payload without nbkit's sanitizing proves the detection
works: there the scripts do run, so their absence on the review page means something.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, run_nbkit
from tests.review_helpers import (
    HOSTILE_HTML,
    HOSTILE_SVG,
    HOSTILE_TITLE,
    chromium,
    chromium_or_skip,
    code,
    display,
    md,
    notebook,
    png,
    result,
    stream,
)

pytestmark = pytest.mark.slow  # starts a real headless browser

MARKERS = ("<pwned-img", "<pwned-svg", "<pwned-onload", f"<title>{HOSTILE_TITLE}")


def write(path: Path, nb: dict[str, Any]) -> None:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium_or_skip()


@pytest.fixture
def review_page(repo: Path) -> Path:
    write(
        repo / "nb.ipynb",
        notebook(
            code("x = 1", stream("1\n"), cid="a"),
            code("plot()", display(image_png=png("white", (200, 100))), cid="p"),
            code("table()", result(text_html="<b>old</b>"), cid="h"),
            md("# Notes", cid="m"),
        ),
    )
    commit_all(repo, "base")
    write(
        repo / "nb.ipynb",
        notebook(
            md("# Notes <script>document.title='PWNED'</script>", cid="m"),
            code("x = 2", stream("2\n"), cid="a"),
            code(
                "plot()", display(image_png=png("white", (200, 100), box=(0, 0, 99, 99))), cid="p"
            ),
            code("table()", result(text_html=HOSTILE_HTML), cid="h"),
            code("svg()", display(image_svg_xml=HOSTILE_SVG), cid="s"),
        ),
    )
    commit_all(repo, "hostile outputs")
    proc = run_nbkit("review", "HEAD~1...HEAD", "-o", "review.html", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return repo / "review.html"


def test_review_page_renders_with_summary(browser: str, review_page: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    shot = tmp_path / "page.png"
    proc = chromium(
        browser, tmp_path, f"--screenshot={shot}", "--window-size=1200,900", review_page.as_uri()
    )
    assert shot.is_file(), proc.stderr[-2000:]
    img = Image.open(shot).convert("L")
    assert img.size == (1200, 900)
    assert max(ImageStat.Stat(img).stddev) > 10  # not a blank page
    dom = chromium(browser, tmp_path, "--dump-dom", review_page.as_uri()).stdout
    assert 'id="summary"' in dom
    assert "cells: 1 added, 2 modified, 1 moved; outputs changed in 3 cells" in dom
    assert "50.0% of pixels changed" in dom and "changed pixels in red" in dom
    assert "moved from 4 to 1" in dom


def test_hostile_outputs_do_not_execute(browser: str, review_page: Path, tmp_path: Path) -> None:
    page = review_page.read_text()
    assert "<script" not in page and "onerror" not in page and "javascript:" not in page
    assert "<iframe" not in page
    dom = chromium(
        browser, tmp_path, "--virtual-time-budget=2000", "--dump-dom", review_page.as_uri()
    ).stdout
    assert "Notebook review" in dom
    for marker in MARKERS:
        assert marker not in dom, marker
    assert "<b>table</b>" in dom  # the harmless part of the output is still shown


def test_control_page_proves_the_check_can_fail(browser: str, tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        f"<!DOCTYPE html><html><head><title>control</title></head><body>"
        f"{HOSTILE_HTML}</body></html>"
    )
    dom = chromium(
        browser, tmp_path, "--virtual-time-budget=2000", "--dump-dom", control.as_uri()
    ).stdout
    assert f"<title>{HOSTILE_TITLE}" in dom and "<pwned-img" in dom


# --- a page people read: rendered markdown, highlighted code, marked words ----------------

READABLE_OLD = "# Results\n\nThe *mean* is $a_1 * b_2$ here."
READABLE_NEW = "# Results\n\nThe **median** is $a_1 * b_2$ here."
# What the "before" markdown must look like: written by hand, not produced by nbkit.
KNOWN_GOOD = (
    '<h1>Results</h1>\n<p>The <em>mean</em> is <span class="math inline">$a_1 * b_2$</span> '
    "here.</p>\n"
)
KEYWORD_GREEN = (0, 128, 0)  # pygments' default style for `def` / `return`
WORD_MARK = (0x4A, 0xC2, 0x6B)  # a changed word on the "after" side
LINE_MARK = (0xDA, 0xFB, 0xE1)  # the rest of a changed line


@pytest.fixture
def readable_page(repo: Path) -> Path:
    src = "def f(x):\n    return x + {}  # add {}\n"
    write(repo / "nb.ipynb", notebook(md(READABLE_OLD, cid="m"), code(src.format(1, "one"), cid="c")))
    commit_all(repo, "base")
    write(repo / "nb.ipynb", notebook(md(READABLE_NEW, cid="m"), code(src.format(2, "two"), cid="c")))
    commit_all(repo, "edit")
    proc = run_nbkit("review", "HEAD~1...HEAD", "-o", "review.html", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return repo / "review.html"


def _shot(browser: str, tmp: Path, page: Path, name: str) -> Any:
    from PIL import Image

    shot = tmp / f"{name}.png"
    proc = chromium(browser, tmp, f"--screenshot={shot}", "--window-size=1200,1000", page.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    return Image.open(shot).convert("RGB")


def _count(img: Any, colour: tuple[int, int, int], tolerance: int = 0) -> int:
    """Pixels within ``tolerance`` of ``colour`` on every channel."""
    from PIL import ImageChops

    flat = img.copy()
    flat.paste(colour, (0, 0, *img.size))
    diff = ImageChops.difference(img, flat).split()
    inside = [band.point(lambda v: 255 if v <= tolerance else 0) for band in diff]
    mask = ImageChops.darker(ImageChops.darker(inside[0], inside[1]), inside[2])
    return int(mask.histogram()[255])


def _differing(a: Any, b: Any) -> float:
    from PIL import ImageChops

    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 16 else 0)
    return diff.histogram()[255] / (a.size[0] * a.size[1])


def test_readable_page_in_chromium(browser: str, readable_page: Path, tmp_path: Path) -> None:
    html = readable_page.read_text(encoding="utf-8")
    fragment = re.search(r'<div class="md">(.*?)</div></td>', html, flags=re.S)
    assert fragment is not None, "no rendered markdown on the page"
    dom = chromium(browser, tmp_path, "--dump-dom", readable_page.as_uri()).stdout
    assert "<h1>Results</h1>" in dom and "<strong>median</strong>" in dom

    page = _shot(browser, tmp_path, readable_page, "page")
    # highlighting and word marks reach the screen (the CSP lets the inline styles apply)
    assert _count(page, KEYWORD_GREEN, tolerance=40) > 20
    words, lines = _count(page, WORD_MARK), _count(page, LINE_MARK)
    assert 0 < words < lines / 4, (words, lines)  # the changed words, not whole lines

    # the rendered markdown looks exactly like the known-good HTML in the same page...
    good = tmp_path / "good.html"
    good.write_text(html.replace(fragment.group(1), KNOWN_GOOD, 1), encoding="utf-8")
    assert _differing(page, _shot(browser, tmp_path, good, "good")) < 0.001
    # ...and the comparison can fail: the markdown left as source text looks different
    raw = tmp_path / "raw.html"
    raw.write_text(
        html.replace(fragment.group(1), f"<pre>{READABLE_OLD}</pre>", 1), encoding="utf-8"
    )
    assert _differing(page, _shot(browser, tmp_path, raw, "raw")) > 0.002
