"""The run ledger: unique ids across processes, write-once manifests, the index, corrupt
manifests skipped, queries, and ``nbkit runs`` list/show (no kernel: manifests are written
through ``Ledger.write`` as a sweep's submitter does)."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.errors import BadInput, NbkitError
from nbkit.runs.ledger import INDEX, Ledger
from tests.conftest import assert_one_line_error


def _manifest(notebook: str = "nb.ipynb", status: str = "succeeded", **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "notebook": notebook,
        "status": status,
        "started": "2025-01-02T03:04:05.000+00:00",
        "ended": "2025-01-02T03:04:06.000+00:00",
        "duration": 1.0,
        "parameters": {"lr": 0.1},
        "metrics": {"acc": 0.9},
        "git": {"commit": "a" * 40, "branch": "main", "dirty": False},
        "files": {"executed": "executed.ipynb", "patch": None},
    }
    base.update(kw)
    return base


def _record(ledger: Ledger, **kw: Any) -> str:
    run_id, run_dir = ledger.new_run_dir()
    (run_dir / "executed.ipynb").write_text("{}")
    ledger.write(run_id, _manifest(**kw), run_dir / "executed.ipynb")
    return run_id


def _make_ids(args: tuple[str, int]) -> list[str]:
    root, count = args
    ledger = Ledger(Path(root))
    return [ledger.new_run_dir()[0] for _ in range(count)]


def test_ids_unique_across_processes_in_one_second(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        batches = pool.map(_make_ids, [(str(tmp_path), 50)] * 4)
    ids = [i for batch in batches for i in batch]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert len(list((tmp_path / ".nbkit" / "runs").iterdir())) == 200 + 1  # + .gitignore


def test_write_once_and_files_copied_from_elsewhere(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    run_id, run_dir = ledger.new_run_dir()
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    (elsewhere / "executed.ipynb").write_text('{"x": 1}')
    (elsewhere / "dirty.patch").write_text("diff")
    manifest = _manifest(files={"executed": "executed.ipynb", "patch": "dirty.patch"})
    run = ledger.write(run_id, manifest, elsewhere / "executed.ipynb")
    assert run.executed_notebook.read_text() == '{"x": 1}'
    assert (run_dir / "dirty.patch").read_text() == "diff"
    assert json.loads((run_dir / "manifest.json").read_text())["id"] == run_id
    before = (run_dir / "manifest.json").read_bytes()
    with pytest.raises(NbkitError, match="write-once"):
        ledger.write(run_id, _manifest(status="failed"), None)
    assert (run_dir / "manifest.json").read_bytes() == before
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temp left


def test_get_refuses_unknown_and_traversal(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    run_id = _record(ledger)
    assert ledger.get(run_id).metrics == {"acc": 0.9}
    for bad in ("../x", "20250101-000000-abcdef", "..", "/etc/passwd", ""):
        with pytest.raises(BadInput, match="unknown run id"):
            ledger.get(bad)


def test_get_by_unique_prefix(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    for run_id in ("20250101-000000-aaaaaa", "20250101-000000-aabbbb", "20250101-000001-cccccc"):
        ledger.write(run_id, _manifest(), None)
    assert ledger.get("20250101-000001").id == "20250101-000001-cccccc"
    assert ledger.get("20250101-000000-aab").id == "20250101-000000-aabbbb"
    with pytest.raises(BadInput, match="ambiguous"):
        ledger.get("20250101-000000-aa")
    for bad in ("19990101-", "2025", "20250101-../x"):
        with pytest.raises(BadInput, match="unknown run id"):
            ledger.get(bad)


def test_list_filters(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    a = _record(ledger)
    b = _record(ledger, status="failed", parameters={"lr": 0.5, "name": "x"})
    c = _record(ledger, notebook="other.ipynb")
    assert sorted(r.id for r in ledger.list()) == sorted([a, b, c])
    late = _record(ledger, started="2024-01-01T00:00:00.000+00:00")
    assert ledger.list()[0].id == late  # oldest first by start time, not by id
    assert [r.id for r in ledger.list(status="failed")] == [b]
    assert [r.id for r in ledger.list(notebook="other.ipynb")] == [c]
    assert [r.id for r in ledger.list(params={"lr": 0.5})] == [b]
    assert ledger.list(params={"lr": "0.5"}) == []  # values compare as data, not text
    assert ledger.list(params={"missing": None}) == []


def test_corrupt_and_half_written_manifests_are_skipped(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    good = _record(ledger)
    torn_id, torn = ledger.new_run_dir()
    (torn / "manifest.json").write_text('{"id": "x", "status": "succ')  # half-copied
    _, odd = ledger.new_run_dir()
    (odd / "manifest.json").write_text("[1, 2]")
    running_id, _ = ledger.new_run_dir()  # no manifest yet: a run in progress
    runs = ledger.list()
    assert [r.id for r in runs] == [good]
    assert len(ledger.problems) == 2
    assert any(torn_id in p for p in ledger.problems)
    with pytest.raises(BadInput, match="corrupt manifest"):
        ledger.get(torn_id)
    with pytest.raises(BadInput, match="no manifest"):
        ledger.get(running_id)


def test_index_is_rebuilt_and_is_not_the_truth(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ids = [_record(ledger) for _ in range(3)]
    index = tmp_path / ".nbkit" / "runs" / INDEX
    assert len(index.read_text().splitlines()) == 3
    index.unlink()  # missing: rebuilt from the manifests
    assert [r.id for r in ledger.list()] == sorted(ids)
    assert len(index.read_text().splitlines()) == 3
    with index.open("a") as fh:  # a torn last line is ignored
        fh.write('{"id": "2025')
    assert len(ledger.list()) == 3
    # a run deleted by hand disappears even though the index still names it
    import shutil

    shutil.rmtree(tmp_path / ".nbkit" / "runs" / ids[0])
    assert [r.id for r in ledger.list()] == sorted(ids[1:])
    # a run pulled from a teammate (folder + manifest, not in the local index) appears
    other = Ledger(tmp_path / "elsewhere")
    pulled = _record(other, notebook="pulled.ipynb")
    shutil.copytree(other.dir / pulled, ledger.dir / pulled)
    assert pulled in [r.id for r in ledger.list()]
    assert ledger.list(notebook="pulled.ipynb")[0].manifest["notebook"] == "pulled.ipynb"


def test_list_reads_only_the_index_for_known_runs(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    run_id = _record(ledger)
    ledger.list()
    (ledger.dir / run_id / "manifest.json").write_text("garbage")  # not read by list
    assert [r.status for r in ledger.list()] == ["succeeded"]
    assert ledger.problems == []


def test_gitignore_keeps_the_index_local(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _record(ledger)
    assert "index.jsonl" in (ledger.dir / ".gitignore").read_text().split()


def test_cli_list_show_and_errors(repo: Path, cli: Callable[..., Any]) -> None:
    ledger = Ledger(repo)
    a = _record(ledger, parameters={"lr": 0.1}, metrics={"acc": 0.5})
    b = _record(
        ledger,
        status="failed",
        parameters={"lr": 0.01},
        metrics={},
        error={"cell": 3, "ename": "ValueError", "evalue": "bad"},
    )
    (ledger.new_run_dir()[1] / "manifest.json").write_text("{")
    result = cli("runs")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["ID", "WHEN", "(UTC)"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "lr=0.1" in rows[a] and "acc=0.5" in rows[a] and "succeeded" in rows[a]
    assert "lr=0.01" in rows[b] and "failed" in rows[b] and len(rows) == 2
    assert "corrupt manifest" in result.err and "skipped" in result.err
    listed = cli("runs", "list", "--param", "lr=0.01", "--json")
    assert [json.loads(x)["id"] for x in listed.out.splitlines()] == [b]
    assert cli("runs", "--status", "succeeded").out.count("\n") == 2
    shown = cli("runs", "show", b)
    assert shown.code == 0 and "failed at cell 3: ValueError: bad" in shown.out
    full = json.loads(cli("runs", "show", a, "--json").out)
    assert full["id"] == a and full["metrics"] == {"acc": 0.5}
    for bad in ("20990101-000000-abcdef", "../../etc"):
        missing = cli("runs", "show", bad)
        assert missing.code == 2
        assert_one_line_error(missing.err, bad)
    assert cli("runs", "--param", "nonsense").code == 2


def test_manifest_is_strict_json(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    run_id, _ = ledger.new_run_dir()
    ledger.write(run_id, _manifest(metrics={"loss": float("nan")}), None)
    text = (ledger.dir / run_id / "manifest.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c))["metrics"] == {"loss": "nan"}


def test_cli_where_sort_and_sweep(repo: Path, cli: Callable[..., Any]) -> None:
    ledger = Ledger(repo)
    at = [f"2025-01-02T03:04:0{i}.000+00:00" for i in range(4)]  # ledger order: started
    low = _record(ledger, parameters={"lr": 0.1}, metrics={"acc": 0.5}, sweep="s1", started=at[0])
    high = _record(
        ledger, parameters={"lr": 0.01}, metrics={"acc": 0.95}, sweep="s1", started=at[1]
    )
    mid = _record(ledger, effective_parameters={"lr": 0.001}, metrics={"acc": 0.7}, started=at[2])
    bare = _record(ledger, metrics={}, started=at[3])

    def ids(*args: str) -> list[str]:
        result = cli("runs", *args, "--json")
        assert result.code == 0, result.err
        return [json.loads(line)["id"] for line in result.out.splitlines()]

    assert ids("--sort", "acc") == [low, mid, high, bare]  # no value: last
    assert ids("--sort", "acc", "--desc") == [high, mid, low, bare]
    assert ids("--where", "acc > 0.6") == [high, mid]
    assert ids("--where", "acc > 0.6", "--where", "lr < 0.005") == [mid]
    assert ids("--sweep", "s1", "--sort", "lr") == [high, low]
    assert ids("--param", "lr=0.001") == [mid]  # effective parameters count
    for bad, problem in (
        ("acc >", "expected METRIC OP EXPR"),
        ("acc > base", "'base' has no meaning"),
    ):
        result = cli("runs", "--where", bad)
        assert result.code == 2
        assert_one_line_error(result.err, "--where", problem)
    plotted = cli("runs", "plot", "acc", "--sweep", "s1", "--by", "lr", "--logx", "-o", "p.svg")
    assert plotted.code == 0, plotted.err
    assert plotted.out.strip() == "p.svg: acc of 2 runs"


def _reference_listing(manifests: list[dict[str, Any]]) -> str:
    """``nbkit runs`` as first written: per-cell ``ljust`` and ``safe``, one row at a time.
    The fast listing must print exactly this."""
    from nbkit.cli.output import safe

    def show(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or value is None:
            return json.dumps(value)
        return str(value) if isinstance(value, int | float) else json.dumps(value)

    def pairs(values: dict[str, Any]) -> str:
        text = " ".join(f"{k}={show(v)}" for k, v in values.items())
        return text if len(text) <= 40 else text[:39] + "…"

    rows = [("ID", "WHEN (UTC)", "NOTEBOOK", "COMMIT", "PARAMETERS", "METRICS", "STATUS")]
    for m in manifests:
        git = m.get("git") or {}
        rows.append(
            (
                m["id"],
                str(m.get("started") or "")[:16].replace("T", " "),
                str(m["notebook"]),
                (git.get("commit") or "-")[:8] + ("*" if git.get("dirty") else ""),
                safe(pairs(dict(m.get("parameters") or {}))),
                safe(pairs(dict(m.get("metrics") or {}))),
                str(m["status"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return safe(table) + "\n"


def _varied_manifests(count: int) -> list[dict[str, Any]]:
    """Runs whose cells vary in every way the listing formats: widths, value types, long
    values cut at 40, escapes in parameters and notebook names, dirty and missing commits."""
    values: list[Any] = [0.1, 3, True, None, "adam", [1, 2], {"a": 1}, "x" * 50, "\x1b[2J", "é"]
    notebooks = ["nb.ipynb", "deep/path/train.ipynb", "t\u202eab.ipynb", "ü.ipynb"]
    found = []
    for i in range(count):
        run_id = f"20250102-{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}-{i:06x}"
        started = None if i % 37 == 0 else f"2025-01-0{1 + i % 3}T{i % 24:02d}:{i % 60:02d}:00Z"
        found.append(
            _manifest(
                notebook=notebooks[i % 4],
                status=("succeeded", "failed", "timed_out", "interrupted")[i % 4],
                id=run_id,
                started=started,
                parameters={"lr": values[i % 10], "n": i} if i % 11 else {},
                metrics={"loss": i / 7, "tag": values[(i * 3) % 10]} if i % 5 else None,
                git={"commit": None if i % 13 == 0 else f"{i:040x}", "dirty": i % 6 == 0},
                sweep="s1" if i % 2 else None,
            )
        )
    return found


def test_cli_listing_is_byte_identical_to_reference(repo: Path, cli: Callable[..., Any]) -> None:
    from nbkit.runs.ledger import summarize

    ledger = Ledger(repo)
    ledger.dir.mkdir(parents=True)
    manifests = _varied_manifests(300)
    for manifest in manifests:  # pulled from a teammate: folders, no index yet
        (ledger.dir / manifest["id"]).mkdir()
        (ledger.dir / manifest["id"] / "manifest.json").write_text(json.dumps(manifest))
    ordered = sorted(manifests, key=lambda m: (str(m.get("started")), m["id"]))
    failed = [m for m in ordered if m["status"] == "failed"]
    expected_json = "".join(json.dumps(summarize(m), sort_keys=True) + "\n" for m in ordered)

    def check() -> None:
        assert cli("runs").out == _reference_listing(ordered)
        assert cli("runs", "list").out == _reference_listing(ordered)
        assert cli("runs", "--json").out == expected_json
        assert cli("runs", "--status", "failed").out == _reference_listing(failed)

    check()  # cold: the index is built from the manifests
    assert len((ledger.dir / INDEX).read_text().splitlines()) == 300
    check()  # warm: from the index
    lines = (ledger.dir / INDEX).read_text().splitlines(keepends=True)
    lines.insert(150, lines[150][:30] + "\n")  # a torn line mid-file: the rest still count
    (ledger.dir / INDEX).write_text("".join(lines))
    check()
