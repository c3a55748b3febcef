"""Realistic cell sources and outputs for the benchmark corpus, deterministic from an RNG.

Timings depend on what notebooks really hold: many short code cells, prose, printed text,
DataFrame tables as HTML, base64 PNG figures (the bytes that dominate large notebooks), the
odd traceback. Everything here is built from ``random.Random`` so a seed gives the same bytes.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from typing import Any

_NAMES = ("df", "train", "test", "model", "scores", "sales", "events", "users", "batch", "frame")
_COLS = ("price", "region", "age", "score", "count", "latency_ms", "label", "weight", "day")
_FUNCS = ("load_data", "fit_model", "evaluate", "plot_history", "clean_frame", "summarise")

_CODE_TEMPLATES = (
    "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n",
    "{n} = pd.read_csv('data/{n}_{i}.csv', parse_dates=['{c}'])\n{n}.head()",
    "{n}['{c}'] = {n}['{c}'].fillna({n}['{c}'].median())\n{n}.describe()",
    "fig, ax = plt.subplots(figsize=(8, 4))\nax.plot({n}['{c}'].rolling({i}).mean())\n"
    "ax.set_title('{c} over time')\nplt.show()",
    'def {f}({n}, k={i}):\n    """Return the top k rows by {c}."""\n'
    "    return {n}.sort_values('{c}', ascending=False).head(k)\n\n{f}({n})",
    "for epoch in range({i}):\n    loss = step({n}, lr=0.0{i})\n"
    "    if epoch % 10 == 0:\n        print(f'epoch {{epoch}}: loss={{loss:.4f}}')",
    "{n}.groupby('{c}').agg(mean=('{c}', 'mean'), n=('{c}', 'size'))",
    "lr = 0.0{i}\nepochs = {i}\nseed = {i}{i}",
    "assert {n}.shape[0] > {i}, 'too few rows'\nprint({n}.shape)",
    "{n} = {n}.merge(users, on='user_id', how='left')\nlen({n})",
)
_MD_TEMPLATES = (
    "# {t} analysis\n\nThis notebook looks at **{c}** across {i} regions.",
    "## Step {i}: {t}\n\n- load `{n}`\n- drop rows with missing `{c}`\n- fit and compare",
    "The loss is $L = \\frac{{1}}{{n}} \\sum_i (y_i - \\hat y_i)^2$ with $n = {i}$.",
    "> Note: `{n}` comes from the {t} export; see [the docs](https://example.org/{i}).",
    "### Results\n\n| metric | value |\n| --- | --- |\n| {c} | 0.{i} |\n| n | {i}00 |",
)
_TITLES = ("Churn", "Forecast", "Ablation", "Baseline", "Cohort", "Anomaly", "Pricing")


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        n=rng.choice(_NAMES),
        c=rng.choice(_COLS),
        f=rng.choice(_FUNCS),
        t=rng.choice(_TITLES),
        i=rng.randint(2, 99),
    )


def lines(text: str) -> list[str]:
    """nbformat's storage form of multiline text."""
    return text.splitlines(True)


def code_source(rng: random.Random) -> str:
    parts = (_fill(rng.choice(_CODE_TEMPLATES), rng) for _ in range(rng.randint(1, 3)))
    return "\n".join(parts).rstrip("\n")  # Jupyter stores no final newline


def markdown_source(rng: random.Random) -> str:
    return "\n\n".join(_fill(rng.choice(_MD_TEMPLATES), rng) for _ in range(rng.randint(1, 2)))


def png_bytes(width: int, height: int, rng: random.Random) -> bytes:
    """A real RGB PNG: a plot-like white canvas with a noisy heat-map band (hard to compress).

    The band's height scales the compressed size, so callers can aim at a byte size.
    """
    noisy_rows = max(1, height // 2)
    raw = bytearray()
    white = b"\xff" * (width * 3)
    noise = rng.randbytes(width * 3 * noisy_rows)
    for y in range(height):
        raw.append(0)  # filter type: none
        if y < noisy_rows:
            raw += noise[y * width * 3 : (y + 1) * width * 3]
        else:
            raw += white
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def image_side_for(target_bytes: int) -> int:
    """The square side whose noisy PNG is about ``target_bytes`` once base64-encoded."""
    # Half the rows are noise (3 bytes a pixel, incompressible); base64 adds a third.
    pixels = max(64, int(target_bytes / (1.5 * 4 / 3)))
    return max(8, int(pixels**0.5))


def stream_output(rng: random.Random) -> dict[str, Any]:
    rows = [
        f"epoch {k}: loss={rng.random():.4f} acc={rng.random():.3f}\n"
        for k in range(rng.randint(1, 8))
    ]
    return {"name": "stdout", "output_type": "stream", "text": rows}


def table_output(rng: random.Random, count: int) -> dict[str, Any]:
    cols = rng.sample(_COLS, 4)
    body = [
        f"<tr><th>{r}</th>" + "".join(f"<td>{rng.random():.3f}</td>" for _ in cols) + "</tr>\n"
        for r in range(rng.randint(3, 10))
    ]
    head = "<thead><tr><th></th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr></thead>\n"
    html = lines('<div>\n<table border="1" class="dataframe">\n' + head + "<tbody>\n")
    html += [*body, "</tbody>\n", "</table>\n", "</div>"]
    plain = ["   " + "  ".join(cols) + "\n"] + [
        f"{r}  " + "  ".join(f"{rng.random():.3f}" for _ in cols) + "\n" for r in range(3)
    ]
    plain[-1] = plain[-1].rstrip("\n")
    return {
        "data": {"text/html": html, "text/plain": plain},
        "execution_count": count,
        "metadata": {},
        "output_type": "execute_result",
    }


def image_output(rng: random.Random, side: int) -> dict[str, Any]:
    encoded = base64.b64encode(png_bytes(side, side, rng)).decode("ascii")
    return {
        "data": {
    "image/png": encoded,
    "text/plain": [f"<Figure size {side}x{side} with 1 Axes>"],
        },
        "metadata": {"needs_background": "light"},
        "output_type": "display_data",
    }


def error_output(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(_NAMES)
    return {
        "ename": "KeyError",
        "evalue": f"'{name}'",
        "output_type": "error",
        "traceback": [
    "\u001b[0;31m------------------------------------------------------------------\u001b[0m",
    "\u001b[0;31mKeyError\u001b[0m                      Traceback (most recent call last)",
            f"Cell \u001b[0;32mIn[{rng.randint(1, 99)}], line 1\u001b[0m\n----> 1 {name}['x']",
            f"\u001b[0;31mKeyError\u001b[0m: '{name}'",
        ],
    }


def execute_time(rng: random.Random) -> dict[str, Any]:
    """The jupyterlab-execute-time metadata that makes every re-run a diff."""
    sec = rng.randint(0, 59)
    return {
        "ExecuteTime": {
    "end_time": f"2024-05-0{rng.randint(1, 9)}T10:{sec:02d}:0{rng.randint(0, 9)}.{rng.randint(100, 999)}Z",
    "start_time": f"2024-05-0{rng.randint(1, 9)}T10:{sec:02d}:00.{rng.randint(100, 999)}Z",
        }
    }


_VOCABULARY = (
    "the model data results we our this that with from for and are was which each "
    "training validation split baseline accuracy error rate feature features sample "
    "samples distribution region regions customers churn forecast season seasonal trend "
    "effect estimate estimates variance bias interval confidence significant difference "
    "between after before while because although however therefore first second finally "
    "method approach assumption assumptions table figure shows suggests observed expected "
    "weekly monthly users events revenue price prices cohort cohorts signal noise "
    "outliers missing values rows columns pipeline experiment experiments run runs "
    "compare compared against"
)
_WORDS = tuple(_VOCABULARY.split())


def prose_paragraph(rng: random.Random, chars: int) -> str:
    """One line of plausible prose, about ``chars`` long (a paragraph as Jupyter stores it)."""
    words: list[str] = []
    size = 0
    while size < chars:
        sentence = [rng.choice(_WORDS) for _ in range(rng.randint(8, 22))]
        text = " ".join(sentence).capitalize() + rng.choice((".", ".", ".", ";", ":"))
        words.append(text)
        size += len(text) + 1
    return " ".join(words)


def prose_source(rng: random.Random, chars: int) -> str:
    """A markdown cell of about ``chars`` characters: a heading and a few paragraphs."""
    paragraphs = [f"## {rng.choice(_TITLES)} {rng.randint(1, 99)}"]
    left = chars
    while left > 0:
        size = min(left, rng.randint(300, 1200))
        paragraphs.append(prose_paragraph(rng, size))
        left -= size + 2
    text = "\n\n".join(paragraphs)
    return text if len(text) <= chars else text[: chars - 1].rsplit(" ", 1)[0] + "."


def edit_prose(text: str, rng: random.Random) -> str:
    """A light edit: two words replaced and one added inside one paragraph."""
    words = text.split(" ")
    for _ in range(2):
        words[rng.randrange(len(words))] = rng.choice(_WORDS)
    words.insert(rng.randrange(len(words)), rng.choice(_WORDS))
    return " ".join(words)
