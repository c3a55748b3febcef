"""The merge driver does not hold the three raw files while it merges (issue: 498 MB peak
for three 50 MB notebooks). Measured as the driver process's peak RSS, not as time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LINES = 200_000  # 100 bytes each: a 20 MB output per notebook


def _triple(folder: Path, lines: int) -> list[Path]:
    text = ("x" * 99 + "\n") * lines
    paths = []
    for name, extra in (("base", "a = 1"), ("ours", "a = 2"), ("theirs", "b = 2")):
        cells = [
            {"cell_type": "code", "id": "big", "metadata": {}, "execution_count": 1,
             "source": "print(big)",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]},
            {"cell_type": "code", "id": name, "metadata": {}, "execution_count": None,
             "source": extra, "outputs": []},
        ]  # fmt: skip
        nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        path = folder / f"{name}.ipynb"
        path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
        paths.append(path)
    return paths


_PROBE = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "nbkit", "merge-driver", *sys.argv[1:]])
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kb(folder: Path, lines: int) -> int:
    folder.mkdir()
    base, ours, theirs = _triple(folder, lines)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, base, ours, theirs, "nb.ipynb"],
        capture_output=True, text=True, check=True, cwd=folder,
    )  # fmt: skip
    code, peak = probe.stdout.split()
    assert code == "0", probe.stderr
    return int(peak)


def test_peak_memory_of_a_big_merge_stays_near_the_parsed_notebooks(tmp_path: Path) -> None:
    baseline = _peak_kb(tmp_path / "small", 10)
    size_kb = (LINES * 100) // 1024
    extra = _peak_kb(tmp_path / "big", LINES) - baseline
    # Holding the three raw files too made it 14 times one file (measured); 12 leaves room
    # for allocator differences while still catching files kept alive through the merge.
    assert extra < 12 * size_kb, (extra // 1024, size_kb // 1024)
