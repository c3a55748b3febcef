"""compare.py and gate.py on hand-written manifests and notebooks (pure, no kernels)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest

from nbkit.errors import BadInput
from nbkit.runs.compare import (
    Tolerance,
    compare_manifests,
    compare_outputs,
    image_difference,
    text_close,
    values_equal,
    volatile_difference,
)
from nbkit.runs.gate import evaluate, parse_gate


def manifest(run_id: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": run_id,
        "notebook": "train.ipynb",
        "notebook_sha256": "a" * 64,
        "git": {"commit": "c" * 40, "branch": "main", "dirty": False},
        "parameters": {"lr": 0.1, "depth": 3},
        "kernel": {
            "name": "python3",
            "python": "3.11.7",
            "packages": {"numpy": "1.26.4", "pandas": "2.2.0", "scipy": "1.12.0"},
        },
        "lock_hash": "L1",
        "inputs": [{"path": "data/train.csv", "sha256": "1" * 64, "size": 10}],
        "status": "succeeded",
        "duration": 1.5,
        "metrics": {"accuracy": 0.95, "loss": 0.2},
    }
    base.update(over)
    return base


# ---- side by side ---------------------------------------------------------------------------


def test_identical_runs_have_no_differences() -> None:
    comparison = compare_manifests([manifest("a"), manifest("b", duration=9.0)])
    assert comparison.run_ids == ("a", "b")
    assert not [row for row in comparison.rows if row.differs]
    assert {row.key for row in comparison.section("metrics")} == {"accuracy", "loss"}


def test_parameters_environment_inputs_and_metrics_side_by_side() -> None:
    new_kernel = {
        "name": "python3",
        "python": "3.12.1",
        "packages": {"numpy": "2.0.0", "pandas": "2.2.0", "torch": "2.3.0"},
    }
    comparison = compare_manifests(
        [
            manifest("a"),
            manifest(
                "b",
                parameters={"lr": 0.01, "depth": 3},
                kernel=new_kernel,
                inputs=[{"path": "data/train.csv", "sha256": "2" * 64, "size": 10}],
                metrics={"accuracy": 0.97},
            ),
        ]
    )
    differing = {(r.section, r.key): r.values for r in comparison.rows if r.differs}
    assert differing[("parameters", "lr")] == (0.1, 0.01)
    assert ("parameters", "depth") not in differing
    assert differing[("environment", "python")] == ("3.11.7", "3.12.1")
    # only the packages that differ are listed; an absent one shows as a dash
    assert differing[("environment", "package numpy")] == ("1.26.4", "2.0.0")
    assert differing[("environment", "package scipy")] == ("1.12.0", "—")
    assert differing[("environment", "package torch")] == ("—", "2.3.0")
    assert not [r for r in comparison.rows if r.key == "package pandas"]
    assert differing[("inputs", "data/train.csv")] == ("1" * 12, "2" * 12)
    assert differing[("metrics", "loss")] == (0.2, "—")
    assert comparison.to_json()["runs"] == ["a", "b"]


def test_metric_tolerance_applies_to_compare() -> None:
    runs = [manifest("a"), manifest("b", metrics={"accuracy": 0.9500001, "loss": 0.2})]
    assert [r.key for r in compare_manifests(runs).rows if r.differs] == ["accuracy"]
    assert not [r for r in compare_manifests(runs, Tolerance(atol=1e-3)).rows if r.differs]


def test_three_runs_compare_against_the_first() -> None:
    runs = [manifest("a"), manifest("b"), manifest("c", parameters={"lr": 0.5, "depth": 3})]
    row = next(r for r in compare_manifests(runs).rows if r.key == "lr")
    assert row.values == (0.1, 0.1, 0.5)
    assert row.differs


# ---- the --fail-if grammar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "base", "new", "failed"),
    [
        ("accuracy < base - 0.01", 0.95, 0.93, True),
        ("accuracy < base - 0.01", 0.95, 0.945, False),
        ("accuracy<base-0.01", 0.95, 0.93, True),
        ("loss > base * 1.1", 0.2, 0.23, True),
        ("loss > base * 1.1", 0.2, 0.21, False),
        ("loss >= (base + 0.1) / 2", 0.2, 0.16, True),
        ("accuracy < 0.9", 0.5, 0.95, False),
        ("accuracy <= -base + 2", 1.0, 1.0, True),
        ("accuracy != base", 1, 1.0, False),
        ("accuracy == 1e-3", 0, 0.001, True),
    ],
)
def test_gate_evaluates_numbers(gate: str, base: float, new: float, failed: bool) -> None:
    parsed = parse_gate(gate)
    result = evaluate(parsed, {parsed.metric: base}, {parsed.metric: new}, "a", "b")
    assert result.failed is failed, result.reason
    assert ("regression" in result.reason) is failed


def test_gate_metric_names_may_hold_dots_and_dashes() -> None:
    gate = parse_gate("val-loss.top1 > base")
    assert gate.metric == "val-loss.top1"
    assert evaluate(gate, {"val-loss.top1": 1}, {"val-loss.top1": 2}, "a", "b").failed


def test_missing_or_non_numeric_metric_fails_the_gate() -> None:
    gate = parse_gate("accuracy < base - 0.01")
    missing_new = evaluate(gate, {"accuracy": 0.9}, {}, "a", "b")
    assert missing_new.failed and "not recorded in run b" in missing_new.reason
    missing_base = evaluate(gate, {}, {"accuracy": 0.9}, "a", "b")
    assert missing_base.failed and "base run a" in missing_base.reason
    text = evaluate(gate, {"accuracy": 0.9}, {"accuracy": "high"}, "a", "b")
    assert text.failed and "not a number" in text.reason
    # a gate that does not use base does not need the base metric
    assert not evaluate(parse_gate("accuracy < 0.5"), {}, {"accuracy": 0.9}, "a", "b").failed


def test_division_by_zero_fails_the_gate() -> None:
    result = evaluate(parse_gate("x > 1 / base"), {"x": 0}, {"x": 1}, "a", "b")
    assert result.failed and "division by zero" in result.reason


@pytest.mark.parametrize(
    "text",
    [
        "accuracy",
        "accuracy < ",
        "accuracy < base -",
        "accuracy < __import__('os').system('true')",
        "accuracy < base.real",
        "accuracy < (base",
        "accuracy < base 2",
        "accuracy < other",
        "accuracy < base ** 2",
        "< base",
    ],
)
def test_malformed_gates_are_bad_input_and_never_evaluated(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_gate(text)
    assert info.value.path == "--fail-if"


# ---- outputs --------------------------------------------------------------------------------


def test_values_and_text_within_tolerance() -> None:
    tol = Tolerance(rtol=1e-6)
    assert values_equal({"a": [1.0, 2.0]}, {"a": [1.0000001, 2.0]}, tol)
    assert not values_equal({"a": [1.0]}, {"a": [1.1]}, tol)
    assert not values_equal(True, 1, tol)
    assert values_equal(float("nan"), float("nan"), tol)
    assert text_close("loss 0.30000000000000004 at step 3", "loss 0.3 at step 3", tol)
    assert not text_close("loss 0.31 at step 3", "loss 0.3 at step 3", tol)
    assert not text_close("loss 0.3 at step 3", "loss 0.3 at step 4 more", tol)


def test_volatile_text_is_recognised_by_kind() -> None:
    tol = Tolerance()
    cases = [
        ("now 2026-11-28 11:00:55.123456", "now 2026-11-29 09:01:02.000001", ("date and time",)),
        ("Sat Nov 28 11:00:55 2026", "Sun Nov 29 01:00:05 2026", ("date and time", "clock time")),
        ("Wall time: 2.3 ms", "Wall time: 5.01 µs", ("duration",)),
        ("trained in 0.003 s", "trained in 0.0041 s", ("duration",)),
        ("<Model at 0x7f3a9c2e1d50>", "<Model at 0x7f11000a0b20>", ("object address",)),
        (
            "100%|##########| 10/10 [00:01<00:00,  9.52it/s]",
            "100%|##########| 10/10 [00:00<00:00, 100.1it/s]",
            ("progress bar",),
        ),
    ]
    for old, new, kinds in cases:
        assert not text_close(old, new, tol)
        assert volatile_difference(old, new, tol) == kinds, (old, new)
    for old, new in [
        ("<Model at 0x7f3a9c2e1d50>", "<Other at 0x7f11000a0b20>"),
        ("acc 0.9 at 11:00:00", "acc 0.8 at 11:00:01"),
        ("5 samples", "6 samples"),
    ]:
        assert volatile_difference(old, new, tol) is None, (old, new)


def _png(color: tuple[int, int, int], size: tuple[int, int] = (8, 8), dot: bool = False) -> str:
    from PIL import Image

    image = Image.new("RGB", size, color)
    if dot:
        image.putpixel((0, 0), (color[0] ^ 1, color[1], color[2]))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_images_compared_by_pixels_not_bytes() -> None:
    from PIL import Image

    red = _png((200, 0, 0))
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(buffer, format="PNG", compress_level=0)
    same_pixels_other_bytes = base64.b64encode(buffer.getvalue()).decode()
    assert same_pixels_other_bytes != red
    assert image_difference(red, same_pixels_other_bytes) is None
    assert image_difference(red, _png((200, 0, 0), dot=True)) == "1 of 64 pixels changed (1.56%)"
    assert image_difference(red, _png((200, 0, 0), size=(4, 8))) == "image size 8x8 -> 4x8"


def executed(*outputs: list[dict[str, Any]]) -> dict[str, Any]:
    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "source": "# t", "metadata": {}}]
    for outs in outputs:
        cells.append({"cell_type": "code", "source": "", "metadata": {}, "outputs": outs})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def result(data: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": 1}


def test_outputs_compared_cell_by_cell() -> None:
    tol = Tolerance(rtol=1e-6)
    old = executed(
        [stream("x = 0.1\n"), stream("warning at /tmp/a\n", "stderr")],
        [result({"text/plain": "42"})],
        [result({"image/png": _png((0, 0, 200))})],
    )
    same = executed(
        [stream("x = 0.10000000001\n"), stream("warning at /tmp/b\n", "stderr")],
        [result({"text/plain": ["4", "2"]})],
        [result({"image/png": _png((0, 0, 200))})],
    )
    comparison = compare_outputs(old, same, tol)
    assert comparison.matched, comparison.diffs
    assert comparison.cells_compared == 3 and comparison.outputs_compared == 3

    changed = executed(
        [stream("x = 0.2\n")],
        [result({"text/plain": "42"})],
        [result({"image/png": _png((0, 0, 200), dot=True)})],
    )
    comparison = compare_outputs(old, changed, tol)
    assert comparison.cells() == [1, 3]
    assert [d.kind for d in comparison.diffs] == ["text", "image"]
    assert "'x = 0.1' -> 'x = 0.2'" in comparison.diffs[0].detail


def test_stream_chunks_are_compared_as_one_text() -> None:
    old = executed([stream("a\nb\n"), stream("warn\n", "stderr"), stream("c\n")])
    new = executed([stream("a\n"), stream("b\nc\n")])
    assert compare_outputs(old, new, Tolerance()).matched


def test_volatile_outputs_and_tagged_cells_are_kept_apart_from_differences() -> None:
    old = executed([stream("at 2026-01-01 10:00:00\n")], [stream("0.1\n")], [stream("x\n")])
    new = executed([stream("at 2026-01-02 11:00:00\n")], [stream("0.7\n")], [stream("y\n")])
    new["cells"][2]["metadata"]["tags"] = ["volatile"]
    # a progress bar redrawn with carriage returns is compared as the terminal shows it
    old["cells"][3]["outputs"] = [stream("10%\r50%\rdone\n")]
    new["cells"][3]["outputs"] = [stream("done\n")]
    found = compare_outputs(old, new, Tolerance())
    assert found.matched
    assert [(d.cell, d.kind) for d in found.volatile] == [(1, "volatile"), (2, "volatile")]
    assert found.volatile[0].detail.startswith("date and time: ")
    assert found.volatile[1].detail == "tagged volatile: '0.1' -> '0.7'"


def test_errors_records_and_missing_outputs_differ() -> None:
    tol = Tolerance()
    record = "application/vnd.nbkit.record+json"
    old = executed([result({record: {"name": "acc", "value": 0.9}, "text/plain": "acc"})], [])
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}
    new = executed([result({record: {"name": "acc", "value": 0.8}, "text/plain": "acc"})], [error])
    diffs = compare_outputs(old, new, tol).diffs
    assert [(d.cell, d.kind) for d in diffs] == [(1, "record"), (2, "missing")]
    fewer = compare_outputs(old, executed([]), tol)
    assert (
        fewer.diffs[0].kind == "missing" and "2 code cells recorded, 1 now" in fewer.diffs[0].detail
    )


# ---- plot -----------------------------------------------------------------------------------


def test_plot_metric_by_parameter_and_by_order(tmp_path: Any) -> None:
    from PIL import Image

    from nbkit.runs.plot import plot_metric

    runs = [
        manifest("a", started="2024-01-01T00:00:01", parameters={"lr": 0.1}, metrics={"acc": 0.5}),
        manifest("b", started="2024-01-01T00:00:02", parameters={"lr": 0.01}, metrics={"acc": 0.7}),
        manifest("c", started="2024-01-01T00:00:03", parameters={"lr": 0.001}, metrics={}),
        manifest("d", started="2024-01-01T00:00:04", parameters={"opt": "sgd"}, metrics={"acc": 1}),
    ]
    by_lr = plot_metric(runs, "acc", "lr", tmp_path / "by-lr.png")
    assert (by_lr.points, by_lr.skipped) == (2, 2)
    with Image.open(by_lr.path) as image:
        assert image.format == "PNG" and image.size == (640, 400)
    in_order = plot_metric(runs, "acc", None, tmp_path / "order.svg")
    assert (in_order.points, in_order.skipped) == (3, 1)
    assert in_order.path.read_text().lstrip().startswith("<?xml")
    categorical = plot_metric(runs, "acc", "opt", tmp_path / "opt.pdf")
    assert categorical.points == 1 and categorical.path.read_bytes().startswith(b"%PDF")


def test_plot_refuses_unknown_metric_and_format(tmp_path: Any) -> None:
    from nbkit.runs.plot import plot_metric

    with pytest.raises(BadInput, match="no run recorded a numeric metric 'f1'"):
        plot_metric([manifest("a")], "f1", None, tmp_path / "x.png")
    with pytest.raises(BadInput, match=r"\.png, \.svg or \.pdf"):
        plot_metric([manifest("a")], "accuracy", None, tmp_path / "x.jpg")
    assert not list(tmp_path.iterdir())


# ---- the commands, on a ledger of hand-written manifests ------------------------------------


def _record(repo: Any, m: dict[str, Any], nb: dict[str, Any] | None = None) -> str:
    import json

    from nbkit.runs.ledger import Ledger

    ledger = Ledger(repo)
    run_id, run_dir = ledger.new_run_dir()
    path = None
    if nb is not None:
        path = run_dir / "executed.ipynb"
        path.write_text(json.dumps(nb))
        m = {**m, "files": {"executed": "executed.ipynb"}}
    ledger.write(run_id, m, path)
    return run_id


def test_runs_compare_puts_outputs_side_by_side(repo: Any, cli: Any) -> None:
    import json

    old = executed([stream("x = 0.1\n")], [result({"text/plain": "42"})])
    same = executed([stream("x = 0.1\n")], [result({"text/plain": "42"})])
    other = executed([stream("x = 0.2\n")], [result({"text/plain": "43"})])
    base, good, bad = (_record(repo, manifest("x"), nb) for nb in (old, same, other))
    lost = _record(repo, manifest("x"))
    done = cli("runs", "compare", base, good, bad, lost, "--json")
    assert done.code == 0, done.err
    row = json.loads(done.out)["rows"][-1]
    assert row == {
        "section": "outputs",
        "key": "executed notebook",
        "values": ["base", "same", "cells 1, 2 differ", "—"],
        "differs": True,
    }
    text = cli("runs", "compare", base, good).out
    assert "outputs\n  executed notebook            base                     same" in text


def test_runs_compare_command_and_fail_if_gate(repo: Any, cli: Any) -> None:
    import json

    base = _record(repo, manifest("x", metrics={"accuracy": 0.95, "loss": 0.2}))
    good = _record(repo, manifest("x", metrics={"accuracy": 0.945, "loss": 0.2}))
    bad = _record(repo, manifest("x", metrics={"accuracy": 0.90, "loss": 0.2}))

    result = cli("runs", "compare", base, good, "--fail-if", "accuracy < base - 0.01")
    assert result.code == 0, result.err
    assert f"ok   {good}: accuracy < base - 0.01: accuracy = 0.945, not < 0.94: ok" in result.out
    assert "≠ accuracy" in result.out and "  loss" in result.out

    result = cli("runs", "compare", base, good, bad, "--fail-if", "accuracy < base - 0.01")
    assert result.code == 1
    assert f"FAIL {bad}: accuracy < base - 0.01: accuracy = 0.9 < 0.94: regression" in result.out

    result = cli("runs", "compare", base, bad, "--json", "--fail-if", "loss > base")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["runs"] == [base, bad]
    assert data["gates"] == [
        {"gate": "loss > base", "run": bad, "failed": False, "reason": "loss = 0.2, not > 0.2: ok"}
    ]
    assert {
        "section": "metrics",
        "key": "accuracy",
        "values": [0.95, 0.9],
        "differs": True,
    } in data["rows"]


def test_runs_compare_bad_input_is_one_line(repo: Any, cli: Any) -> None:
    from tests.conftest import assert_one_line_error

    base = _record(repo, manifest("x"))
    result = cli("runs", "compare", base, "20990101-000000-abcdef")
    assert result.code == 2
    assert_one_line_error(result.err, "unknown run id '20990101-000000-abcdef'")
    result = cli("runs", "compare", base, base, "--fail-if", "accuracy < os.system(1)")
    assert result.code == 2
    assert_one_line_error(result.err, "--fail-if: unknown name 'os'")
    result = cli("runs", "compare", base)
    assert result.code == 2
    assert_one_line_error(result.err, "give at least two run ids")


def test_runs_plot_command(repo: Any, cli: Any) -> None:
    from tests.conftest import assert_one_line_error

    for lr, acc in ((0.1, 0.8), (0.01, 0.9), (0.001, 0.85)):
        _record(repo, manifest("x", parameters={"lr": lr}, metrics={"accuracy": acc}))
    _record(repo, manifest("x", status="failed", metrics={}))
    result = cli("runs", "plot", "accuracy", "--by", "lr", "-o", "acc.png")
    assert result.code == 0, result.err
    assert result.out.strip() == "acc.png: accuracy of 3 runs"
    assert (repo / "acc.png").read_bytes().startswith(b"\x89PNG")
    result = cli("runs", "plot", "f1", "-o", "f1.png")
    assert result.code == 2
    assert_one_line_error(result.err, "f1.png: no run recorded a numeric metric 'f1'")
    assert not (repo / "f1.png").exists()


def test_untrusted_values_cannot_drive_the_terminal(repo: Any, cli: Any) -> None:
    base = _record(repo, manifest("x", metrics={"note": "\x1b[2J\x1b[31mred"}))
    other = _record(repo, manifest("x", metrics={"note": "plain"}))
    result = cli("runs", "compare", base, other)
    assert result.code == 0
    assert "\x1b" not in result.out
    assert "\\x1b[2J\\x1b[31mred" in result.out


def test_plot_draws_one_line_per_group_and_series_over_steps(tmp_path: Any) -> None:
    from nbkit.runs.plot import plot_metric

    def run(name: str, lr: float, depth: int, acc: float, **kw: Any) -> dict[str, Any]:
        params = {"lr": lr, "depth": depth, "seed": 0}
        return manifest(name, effective_parameters=params, metrics={"acc": acc}, **kw)

    runs = [run("a", 0.1, 3, 0.5), run("b", 0.01, 3, 0.6), run("c", 0.1, 5, 0.7)]
    runs.append(run("d", 0.01, 5, 0.8))
    grouped = plot_metric(runs, "acc", "lr", tmp_path / "g.png", group="depth", logx=True)
    assert grouped.lines == ("depth=3", "depth=5") and grouped.points == 4
    # without --group, the other parameters that vary (depth, not seed) separate the lines
    implicit = plot_metric(runs, "acc", "lr", tmp_path / "i.png")
    assert implicit.lines == ("depth=3", "depth=5")
    steps = {"loss": [[0, 1.0], [1, 0.5], [2, 0.25]]}
    series = [run("s1", 0.1, 3, 0.5, series=steps), run("s2", 0.01, 3, 0.6, series=steps)]
    over_steps = plot_metric(series, "loss", None, tmp_path / "s.png", group="lr")
    assert over_steps.lines == ("lr=0.1 (s1)", "lr=0.01 (s2)") and over_steps.points == 2
