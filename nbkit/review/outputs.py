"""Compare cell outputs by type: text as text, images by size and pixels, HTML sanitized.

Outputs are untrusted: HTML goes through nh3 before anything shows it, image payloads are
accepted only when they are plain base64, and nothing here executes or fetches anything.
Pillow and nh3 are imported only when an image or an HTML output actually changed.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import re
import struct
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import orjson

from nbkit.clean import VOLATILE_CELL_METADATA

Output = dict[str, Any]
Size = tuple[int, int]

# Richest first: the one a reader would look at.
_MIME_ORDER = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/svg+xml",
    "text/html",
    "text/markdown",
    "text/latex",
    "application/json",
    "text/plain",
)
_RASTER = ("image/png", "image/jpeg", "image/gif")
_RASTER_SET = frozenset(_RASTER)
_B64 = re.compile(r"[A-Za-z0-9+/=]*")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_DIFF_LINES = 200
MAX_PIXELS = 25_000_000  # larger images are not decoded for a pixel comparison


@dataclass(frozen=True)
class OutputView:
    """One output as a renderer shows it. ``html`` is already sanitized."""

    kind: str  # "stream/stdout", "error", or the mime type shown
    text: str  # text form (for HTML: the sanitized text; for images: a short label)
    html: str | None = None
    image: str | None = None  # validated base64 (raster) for a data: URI
    size: Size | None = None


@dataclass(frozen=True)
class OutputChange:
    change: str  # "added" | "removed" | "modified"
    old_index: int | None
    new_index: int | None
    summary: str  # one line
    old: OutputView | None
    new: OutputView | None
    pixels_changed: float | None = None  # share 0..1 when both are same-size images

    @functools.cached_property
    def diff(self) -> tuple[str, ...]:
        """Unified diff of the text forms (text-like pairs only), computed when shown."""
        if self.old is None or self.new is None or _RASTER_SET & {self.old.kind, self.new.kind}:
            return ()
        return _text_diff(self.old.text, self.new.text)


class PixelBudget:
    """Caps the images decoded per run, so a notebook of regenerated plots stays fast."""

    def __init__(self, limit: int = 300) -> None:
        self.left = limit

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def normalize(output: Output) -> Output:
    """The output without what cleaning would strip and with text joined, for comparison."""
    norm = {k: v for k, v in output.items() if k not in ("execution_count", "transient")}
    meta = norm.get("metadata")
    if isinstance(meta, dict):
        norm["metadata"] = {k: v for k, v in meta.items() if k not in VOLATILE_CELL_METADATA}
    if "text" in norm:
        norm["text"] = _text(norm["text"])
    data = norm.get("data")
    if isinstance(data, dict):
        norm["data"] = {k: _text(v) if isinstance(v, list) else v for k, v in data.items()}
    return norm


def key(output: Output) -> bytes:
    return orjson.dumps(normalize(output), option=orjson.OPT_SORT_KEYS)


def clean_b64(value: str) -> str | None:
    compact = "".join(value.split())
    return compact if _B64.fullmatch(compact) else None


def image_size(mime: str, payload: str) -> Size | None:
    """Width and height from the file header (no decoding of the whole image)."""
    try:
        head = base64.b64decode(payload[:64] + "=" * (-len(payload[:64]) % 4))
    except (binascii.Error, ValueError):
        return None
    if mime == "image/png" and head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if mime == "image/gif" and head[:3] == b"GIF" and len(head) >= 10:
        w, h = struct.unpack("<HH", head[6:10])
        return int(w), int(h)
    return None


def no_data_links(tag: str, attr: str, value: str) -> str | None:
    """``data:`` only where it is an image; a data: link could open a page of its own."""
    if value.strip().lower().startswith("data:") and not (tag == "img" and attr == "src"):
        return None
    return value


def sanitize_html(html: str) -> str:
    """Markup that cannot run anything: no scripts, handlers, javascript: or data: links."""
    import nh3

    return str(
        nh3.clean(
            html, url_schemes={"data", "http", "https", "mailto"}, attribute_filter=no_data_links
        )
    )


def html_text(html: str) -> str:
    import html as htmllib

    import nh3

    return htmllib.unescape(str(nh3.clean(html, tags=set()))).strip()


def view(output: Output) -> OutputView:
    """What an output shows, by type."""
    kind = output.get("output_type")
    if kind == "stream":
        return OutputView(f"stream/{output.get('name', 'stdout')}", _text(output.get("text", "")))
    if kind == "error":
        trace = _ANSI.sub("", "\n".join(_text(t) for t in output.get("traceback", []) or []))
        head = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return OutputView("error", trace or head)
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    assert isinstance(data, dict)
    mime = next((m for m in _MIME_ORDER if m in data), next(iter(sorted(data)), "empty"))
    value = _text(data.get(mime, ""))
    if mime in _RASTER_SET:
        payload = clean_b64(value)
        size = image_size(mime, payload) if payload else None
        dims = f" {size[0]}x{size[1]}" if size else ""
        return OutputView(mime, f"[{mime}{dims}]", image=payload, size=size)
    if mime == "image/svg+xml":
        svg = base64.b64encode(value.encode()).decode()
        return OutputView(mime, value, image=svg)
    if mime == "text/html":
        return OutputView(mime, html_text(value), html=sanitize_html(value))
    return OutputView(mime, value)


def compare_pixels(a: str, b: str) -> tuple[Size, Size, float | None] | None:
    """Sizes of two raster images and, when they are equal, the share of pixels that differ
    (Pillow); None when either does not decode."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        img_a = Image.open(io.BytesIO(base64.b64decode(a))).convert("RGBA")
        img_b = Image.open(io.BytesIO(base64.b64decode(b))).convert("RGBA")
    except (
        binascii.Error,
        ValueError,
        OSError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
    ):
        return None
    if img_a.size != img_b.size:
        return img_a.size, img_b.size, None
    mask = _changed_mask(img_a, img_b)
    total = img_a.size[0] * img_a.size[1]
    return img_a.size, img_b.size, (total - mask.histogram()[0]) / total if total else 0.0


def _changed_mask(img_a: Any, img_b: Any) -> Any:
    """An L image, non-zero where any channel differs (a plain grey conversion would round
    small colour changes away)."""
    from PIL import ImageChops

    bands = ImageChops.difference(img_a, img_b).split()
    mask = bands[0]
    for band in bands[1:]:
        mask = ImageChops.lighter(mask, band)
    return mask


def highlight(a: str, b: str) -> str | None:
    """A PNG (base64) of the new image, faded, with the pixels that changed in red."""
    import io

    from PIL import Image

    try:
        img_a = Image.open(io.BytesIO(base64.b64decode(a))).convert("RGB")
        img_b = Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB")
    except (ValueError, OSError, Image.DecompressionBombError):
        return None
    if img_a.size != img_b.size:
        return None
    mask = _changed_mask(img_a, img_b).point(lambda v: 255 if v else 0)
    faded = Image.blend(img_b, Image.new("RGB", img_b.size, "white"), 0.7)
    faded.paste(Image.new("RGB", img_b.size, (220, 0, 0)), mask=mask)
    buf = io.BytesIO()
    faded.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _text_diff(a: str, b: str) -> tuple[str, ...]:
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=2))[2:]
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return tuple(lines)


def _lines(text: str) -> str:
    n = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    return f"{n} line{'s' if n != 1 else ''}"


def _dims(size: Size | None) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def _image_change(
    old: OutputView, new: OutputView, i: int, j: int, budget: PixelBudget
) -> OutputChange:
    """Sizes (from the header, or Pillow) and the changed-pixel share of same-size images."""
    kind = new.kind if old.kind == new.kind else f"{old.kind} -> {new.kind}"
    share = None
    both_raster = old.kind in _RASTER_SET and new.kind in _RASTER_SET
    known_apart = old.size and new.size and old.size != new.size
    huge = any(v.size and v.size[0] * v.size[1] > MAX_PIXELS for v in (old, new))
    if both_raster and old.image and new.image and not known_apart and not huge and budget.take():
        pixels = compare_pixels(old.image, new.image)
        if pixels is not None:
            old, new = replace(old, size=pixels[0]), replace(new, size=pixels[1])
            share = pixels[2]
    if old.size and new.size and old.size != new.size:
        summary = f"{kind} {_dims(old.size)} -> {_dims(new.size)} (size changed)"
    elif share is None:
        summary = f"{kind} {_dims(old.size)} -> {_dims(new.size)} changed"
    else:
        summary = f"{kind} {_dims(new.size)}, {share:.1%} of pixels changed"
    return OutputChange("modified", i, j, summary, old, new, share)


def compare(old: Output, new: Output, i: int, j: int, budget: PixelBudget) -> OutputChange:
    """A changed output pair, described by its type."""
    a, b = view(old), view(new)
    if a.image is not None and b.image is not None and a.kind != "image/svg+xml":
        return _image_change(a, b, i, j, budget)
    kind = a.kind if a.kind == b.kind else f"{a.kind} -> {b.kind}"
    lines_a, lines_b = Counter(a.text.splitlines()), Counter(b.text.splitlines())
    plus, minus = (lines_b - lines_a).total(), (lines_a - lines_b).total()
    detail = f"+{plus} -{minus} lines" if plus or minus else "same text, other fields changed"
    return OutputChange("modified", i, j, f"{kind} changed ({detail})", a, b)


def single(output: Output, change: str, i: int | None, j: int | None) -> OutputChange:
    v = view(output)
    label = v.text if v.image is not None and v.kind != "image/svg+xml" else _lines(v.text)
    return OutputChange(
        change,
        i,
        j,
        f"{v.kind} {change} ({label})",
        *((v, None) if change == "removed" else (None, v)),
    )


def diff_outputs(old: list[Output], new: list[Output], budget: PixelBudget) -> list[OutputChange]:
    """Changed outputs of one cell, aligned on their normalized content."""
    changes: list[OutputChange] = []
    if len(old) == len(new):  # the common re-run: outputs correspond one to one
        for k, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b and normalize(a) != normalize(b):
                changes.append(compare(a, b, k, k, budget))
        return changes
    ka = [key(o) for o in old]
    kb = [key(o) for o in new]
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = min(a1 - a0, b1 - b0) if op == "replace" else 0
        for k in range(pairs):
            changes.append(compare(old[a0 + k], new[b0 + k], a0 + k, b0 + k, budget))
        for i in range(a0 + pairs, a1):
            changes.append(single(old[i], "removed", i, None))
        for j in range(b0 + pairs, b1):
            changes.append(single(new[j], "added", None, j))
    return changes
