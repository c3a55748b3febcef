"""The HTML review page in real headless Chromium: it renders, and hostile outputs stay inert.

A control page carrying the same payload without nbkit's sanitizing proves the detection
works: there the scripts do run, so their absence on the review page means something.
"""

from __future__ import annotations

import json
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
