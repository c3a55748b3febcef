"""Smoke test of the benchmark suite: the corpus is realistic and deterministic, the harness
times real processes, and run.py writes a page on a very small setting. No timing asserted."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from benchmarks import corpus, report
from benchmarks.harness import (
    Measurement,
    Row,
    Settings,
    Target,
    command,
    measure,
    measure_pair,
)
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # runs the benchmark harness on real tools


def test_notebooks_are_valid_canonical_and_deterministic() -> None:
    spec = corpus.NotebookSpec(cells=40, seed=3, image_bytes=20_000)
    data = corpus.dumps(corpus.build(spec))
    assert corpus.dumps(corpus.build(spec)) == data
    assert corpus.dumps(corpus.build(spec._replace(seed=4))) != data
    nb = nbformat.reads(data.decode(), 4)
    nbformat.validate(nb)
    assert (nbformat.writes(nb) + "\n").encode() == data  # as nbformat would write it
    kinds = {c.cell_type for c in nb.cells}
    assert kinds == {"code", "markdown"}
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert {"stream", "display_data"} <= {o.output_type for o in outputs}
    pngs = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert pngs
    image = Image.open(io.BytesIO(base64.b64decode(pngs[0])))
    image.load()  # a real, decodable PNG
    assert image.size[0] > 8


def test_ids_on_and_off_and_clean_notebooks() -> None:
    with_ids = corpus.build(corpus.NotebookSpec(cells=10, seed=1))
    without = corpus.build(corpus.NotebookSpec(cells=10, seed=1, ids=False, executed=False))
    assert with_ids["nbformat_minor"] == 5 and all("id" in c for c in with_ids["cells"])
    assert without["nbformat_minor"] == 4 and not any("id" in c for c in without["cells"])
    nbformat.validate(nbformat.from_dict(without))
    assert all(not c.get("outputs") for c in without["cells"])


@pytest.mark.parametrize("size", [1_000, 300_000, 3_000_000])
def test_sizes_are_roughly_what_was_asked(size: int) -> None:
    spec = corpus.spec_for_size(size, seed=5)
    actual = len(corpus.dumps(corpus.build(spec)))
    assert size / 3 < actual < size * 3, (size, actual, spec)
    assert 2 <= spec.cells <= 2000


def test_sets_are_cached_and_rebuilt_after_an_interrupted_run(tmp_path: Path) -> None:
    folder = corpus.repo_set(tmp_path, 12, seed=9)
    files = corpus.notebooks(folder)
    assert len(files) == 12 and len({p.parent for p in files}) == 10
    stamp = files[0].stat().st_mtime_ns
    assert corpus.repo_set(tmp_path, 12, seed=9) == folder
    assert files[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    (folder / ".complete").unlink()
    files[0].write_text("half written")
    corpus.repo_set(tmp_path, 12, seed=9)
    nbformat.validate(nbformat.read(files[0], 4))


def test_measure_times_real_processes_and_rows_compare_medians(tmp_path: Path) -> None:
    settings = Settings(repeat=3, corpus_root=tmp_path, work=tmp_path)
    calls: list[int] = []
    fast = measure(
        command("pass", [sys.executable, "-c", "pass"]), settings, setup=lambda: calls.append(1)
    )
    slow = measure(
        command("sleep", [sys.executable, "-c", "import time; time.sleep(0.3)"]), settings
    )
    assert len(fast.seconds) == 3 and len(calls) == 3 and fast.exit_codes == (0, 0, 0)
    row = Row("f", "case", fast, slow, Target(">= 1x", min_ratio=1))
    assert row.ratio is not None and row.ratio > 1 and row.met() is True
    stopped = measure(
        command("hang", [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5),
        settings,
    )
    assert stopped.timed_out and stopped.shown() == ">0.5 s"
    assert Row("f", "c", fast, stopped).shown_ratio().startswith(">")


def test_the_two_sides_of_a_row_alternate(tmp_path: Path) -> None:
    """A B A B ...: each run appends its side's letter to one log, in the order they ran."""
    settings = Settings(repeat=3, corpus_root=tmp_path, work=tmp_path)
    log = tmp_path / "order"

    def side(letter: str) -> list[str]:
        return [sys.executable, "-c", f"open({str(log)!r}, 'a').write({letter!r})"]

    a, b = measure_pair(command("a", side("A")), command("b", side("B")), settings, warmup=True)
    assert log.read_text() == "AB" + "AB" * 3  # the warm-up pair, then three alternating pairs
    assert len(a.seconds) == len(b.seconds) == 3 and a.exit_codes == b.exit_codes == (0, 0, 0)
    stopped, other = measure_pair(
        command("fails", [sys.executable, "-c", "raise SystemExit(9)"]),
        command("b", side("B")),
        settings,
    )
    assert stopped.error and stopped.shown() == "failed"
    assert len(other.seconds) == 3  # the other side still gets its runs


def test_run_writes_the_page_on_a_tiny_setting(tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "run.py"),
            "--only",
            "start-up",
            "--repeat",
            "1",
            "--no-install",
            "--output",
            str(out),
            "--corpus",
            str(tmp_path / "c"),
            "--results",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "nbkit --help vs the bare interpreter (floor)" in page
    assert "## Machine" in page and "## Versions" in page and "How to reproduce" in page
    row = next(line for line in page.splitlines() if "bare interpreter" in line)
    assert "ms" in row and "x |" in row  # a median and a ratio, whatever their values
    assert "Traceback" not in proc.stderr
    saved = json.loads((tmp_path / "results" / "start-up.json").read_text())
    assert saved["load_before"] and saved["rows"][0]["case"].startswith("nbkit --help")
    # the page is generated from the saved results: regenerated alone, its table is the same
    again = tmp_path / "again.md"
    subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "run.py"),
            "--page-only",
            "--results",
            str(tmp_path / "results"),
            "--output",
            str(again),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    table = [line for line in page.splitlines() if line.startswith("| start-up |")]
    assert table and table == [
        line for line in again.read_text().splitlines() if line.startswith("| start-up |")
    ]
    assert "load before" in again.read_text()


def test_a_family_that_cannot_run_is_a_row_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import run as bench_run

    monkeypatch.setitem(bench_run.FAMILIES, "ghost", "benchmarks.no_such_module")
    rows = bench_run.run_family("ghost", Settings())
    assert len(rows) == 1 and rows[0].note.startswith("not available: failed")
    assert "ghost" in report.console(rows)


def test_diff_pairs_and_merge_triples_are_valid_and_really_differ(tmp_path: Path) -> None:
    for ids in (True, False):
        a, b = corpus.diff_pair(tmp_path, 40, ids)
        old, new = (nbformat.read(p, 4) for p in (a, b))
        for nb in (old, new):
            nbformat.validate(nb)
        assert [c.source for c in old.cells] != [c.source for c in new.cells]
        assert ("id" in old.cells[0]) is ids
    folder = corpus.merge_triple(tmp_path, 60)
    base, ours, theirs = (
        nbformat.read(folder / f"{n}.ipynb", 4) for n in ("base", "ours", "theirs")
    )
    half = len(base.cells) // 2
    # each branch edited its own half only, so a notebook-aware merge has no conflict
    assert [c.source for c in ours.cells[-half // 2 :]] == [
        c.source for c in base.cells[-half // 2 :]
    ]
    assert [c.source for c in theirs.cells[: half // 2]] == [
        c.source for c in base.cells[: half // 2]
    ]
    assert ours.cells != base.cells and theirs.cells != base.cells


def test_the_prose_family_is_prose_heavy_valid_and_lightly_edited(tmp_path: Path) -> None:
    a, b = corpus.prose_pair(tmp_path, cells=20)
    old, new = (nbformat.read(p, 4) for p in (a, b))
    for nb in (old, new):
        nbformat.validate(nb)
    assert all(c.cell_type == "markdown" and 900 <= len(c.source) <= 5000 for c in old.cells)
    edited = [
        k for k, (x, y) in enumerate(zip(old.cells, new.cells, strict=True)) if x.source != y.source
    ]
    assert len(edited) == 2
    folder = corpus.prose_triple(tmp_path, cells=20)
    for name in ("base", "ours", "theirs"):
        nbformat.validate(nbformat.read(folder / f"{name}.ipynb", 4))


def test_a_failing_command_is_reported_in_its_row(tmp_path: Path) -> None:
    settings = Settings(repeat=2, corpus_root=tmp_path, work=tmp_path)
    ok = measure(command("pass", [sys.executable, "-c", "pass"]), settings)
    bad = measure(command("crash", [sys.executable, "-c", "import sys; sys.exit(3)"]), settings)
    assert bad.error and bad.shown() == "failed"
    row = Row("f", "case", ok, bad, Target(">= 1x", min_ratio=1))
    assert row.ratio is None and row.met() is None
    assert "exit 3" in report.cells(row)[-1]


def test_rows_survive_their_json_round_trip(tmp_path: Path) -> None:
    ok = Measurement("nbkit x", (0.1, 0.2, 0.3), (0, 0, 0))
    slow = Measurement("other", (1.0,), (1,), timed_out=True, timeout=1.0)
    failed = Measurement("crash", (), (), error="crash: exit 3")
    rows = [
        Row("f", "timed out", ok, slow, Target(">= 2x", min_ratio=2), "a note"),
        Row("f", "failed", ok, failed, Target("< 1 s", max_s=1.0)),
        Row("f", "alone", ok, None),
    ]
    report.save_family(tmp_path, "f", rows, {"generated": "now"})
    saved = report.load_results(tmp_path, ["missing", "f"])
    assert len(saved) == 1
    back = [report.row_from(r) for r in saved[0]["rows"]]
    assert [report.cells(r) for r in back] == [report.cells(r) for r in rows]
    assert saved[0]["rows"][0]["ratio"] == rows[0].ratio and saved[0]["rows"][0]["met"] is True


def test_the_commit_set_edits_one_cell_of_each_real_notebook(tmp_path: Path) -> None:
    folder = corpus.commit_set(tmp_path)
    originals = sorted((folder / "original").glob("*.ipynb"))
    assert len(originals) == 5 and (folder / "jupytext.toml").is_file()
    for path in originals:
        old, new = (nbformat.read(p, 4) for p in (path, folder / "edited" / path.name))
        nbformat.validate(new)
        changed = [a for a, b in zip(old.cells, new.cells, strict=True) if a.source != b.source]
        assert len(changed) == 1 and changed[0].cell_type == "code"
        assert any(c.get("outputs") for c in old.cells)  # real notebooks with outputs


def test_the_shipped_real_notebooks_carry_their_licences() -> None:
    files = corpus.real_notebooks()
    assert len(files) >= 20
    assert sum(p.stat().st_size for p in corpus.REAL_ROOT.rglob("*")) < 5_000_000
    readme = (corpus.REAL_ROOT / "README.md").read_text()
    for folder in {p.parent for p in files}:
        assert list(folder.glob("LICENSE*")), folder
        assert f"`{folder.name}/`" in readme
    for path in files:
        nbformat.validate(nbformat.read(path, 4))
    assert any(corpus.shape(p).image_bytes for p in files)


def test_the_synthetic_load_starts_and_stops_its_own_processes() -> None:
    from benchmarks.bench_commit import busy

    with busy(2) as loops:
        assert len(loops) == 2 and all(p.poll() is None for p in loops)
        cores = sorted(os.sched_getaffinity(0))
        pinned = [os.sched_getaffinity(p.pid) for p in loops]
        assert pinned == [{cores[k % len(cores)]} for k in range(2)]
    assert all(p.returncode is not None for p in loops)


def test_anchors_come_only_from_their_own_venvs(tmp_path: Path) -> None:
    from benchmarks import tools

    for name, anchor in tools.ANCHORS.items():
        for exe in anchor.executables:
            found = tools.tool(exe)
            if tools.installed(name):
                assert found == tools.venv_of(name) / "bin" / exe
            else:
                assert found is None  # never nbkit's venv, never PATH
    assert tools.tool("python-is-not-an-anchor") is None
