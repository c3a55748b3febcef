"""Builders for the diff/review tests: cells with outputs, real PNGs, hostile outputs."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
HOSTILE_TITLE = "PWNED"
# Each would change the page title or add an element if it ever ran in the review page.
HOSTILE_HTML = (
    "<b>table</b><script>document.title='PWNED'</script>"
    "<img src=x onerror=\"document.body.appendChild(document.createElement('pwned-img'))\">"
    "<a href=\"javascript:document.title='PWNED'\">click</a>"
    "<svg><script>document.body.appendChild(document.createElement('pwned-svg'))</script></svg>"
    "<iframe src=\"data:text/html,<script>parent.document.title='PWNED'</script>\"></iframe>"
)
HOSTILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="'
    "document.body.appendChild(document.createElement('pwned-onload'))\">"
    "<script>document.title='PWNED'</script><rect width='10' height='10'/></svg>"
)


def png(
    color: str,
    size: tuple[int, int] = (20, 10),
    box: tuple[int, int, int, int] | None = None,
    box_color: str = "black",
    fmt: str = "PNG",
) -> str:
    """A real PNG (or ``fmt``) as nbformat stores it (base64); ``box`` paints a rectangle."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, color)
    if box:
        ImageDraw.Draw(img).rectangle(box, fill=box_color)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


def code(
    source: str,
    *outputs: dict[str, Any],
    cid: str | None = None,
    count: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "source": source,
        "metadata": metadata or {},
        "outputs": list(outputs),
        "execution_count": count,
    }
    if cid is not None:
        cell["id"] = cid
    return cell


def md(source: str, cid: str | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": "markdown", "source": source, "metadata": {}}
    if cid is not None:
        cell["id"] = cid
    return cell


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def result(count: int | None = None, **data: Any) -> dict[str, Any]:
    """An execute_result; keyword names map to mime types: text_plain -> text/plain."""
    bundle = {k.replace("_", "/", 1).replace("_", "+"): v for k, v in data.items()}
    return {
        "output_type": "execute_result",
        "execution_count": count,
        "metadata": {},
        "data": bundle,
    }


def display(**data: Any) -> dict[str, Any]:
    out = result(**data)
    out["output_type"] = "display_data"
    out.pop("execution_count")
    return out


def notebook(*cells: dict[str, Any], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    meta.update(metadata or {})
    minor = 5 if all("id" in c for c in cells) and cells else 4
    return {"cells": list(cells), "metadata": meta, "nbformat": 4, "nbformat_minor": minor}


def numbered(n: int, with_ids: bool) -> list[dict[str, Any]]:
    """``n`` distinct code cells with a text output each."""
    return [
        code(
            f"value_{k} = compute({k})\nprint(value_{k})",
            stream(f"{k}\n"),
            cid=f"c{k}" if with_ids else None,
            count=k + 1,
        )
        for k in range(n)
    ]


def chromium_or_skip() -> str:
    """The headless browser; a missing one fails in CI (never a silent skip there)."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI for the review page tests")
        pytest.skip("chromium is not installed (install it, or set CI=true to make this fail)")
    return path


def chromium(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def textconv_command() -> str:
    """The command git runs as the textconv driver: this interpreter's nbkit."""
    return f"{sys.executable} -m nbkit textconv"
