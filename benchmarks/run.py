"""Run the benchmark suite: ``make bench`` or ``python benchmarks/run.py [--quick] [--only NAME]``.

Prints the table, saves each family's results as ``benchmarks/results/<family>.json`` (with
the date, the load average before and after, the machine and the versions) and, for a run of
every family, writes ``docs/benchmarks.md`` from those files. ``--page-only`` regenerates the
page from the saved files without measuring (families measured in separate runs make one
page). A family that cannot run (a command not built yet, a tool missing) becomes a row saying
so; it never stops the others.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import report, tools  # noqa: E402
from benchmarks.harness import Row, Settings, unavailable  # noqa: E402
from nbkit.fsutil import atomic_write_text  # noqa: E402

# family name -> module (each has ``FAMILY`` and ``run(settings, log) -> list[Row]``)
FAMILIES: dict[str, str] = {
    "start-up": "benchmarks.bench_startup",
    "commit": "benchmarks.bench_commit",
    "all-files": "benchmarks.bench_clean",
    "real": "benchmarks.bench_real",
    "filter": "benchmarks.bench_filter",
    "diff": "benchmarks.bench_diff",
    "merge": "benchmarks.bench_merge",
    "run": "benchmarks.bench_run",
    "env": "benchmarks.bench_env",
    "sweep": "benchmarks.bench_sweep",
    "runs": "benchmarks.bench_ledger",
}
DOCS = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS = REPO_ROOT / "benchmarks" / "results"


def _log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def run_family(name: str, settings: Settings) -> list[Row]:
    """One family's rows; a crash becomes one row naming the error (the table goes on)."""
    try:
        module = importlib.import_module(FAMILIES[name])
        rows: list[Row] = module.run(settings, _log)
        return rows
    except Exception as exc:
        _log(f"{name}: failed\n{traceback.format_exc()}")
        return [unavailable(name, "(whole family)", f"failed: {type(exc).__name__}: {exc}")]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sets, ~3 minutes")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(FAMILIES),
        metavar="NAME",
        help=f"run only this family (repeatable): {', '.join(FAMILIES)}",
    )
    parser.add_argument("--repeat", type=int, default=None, help="timed runs a command (median)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the page (default docs/benchmarks.md for a run "
        "of every family; none with --only)",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="do not create the anchors' venvs (benchmarks/.tools); rows whose anchor is "
        "missing say so",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="where each family's JSON results are saved and read (default benchmarks/results)",
    )
    parser.add_argument(
        "--page-only",
        action="store_true",
        help="measure nothing: write the page from the saved results of every family",
    )
    parser.add_argument("--corpus", type=Path, default=None, help="corpus cache folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    command_line = (
        "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    ).strip()
    if args.page_only:
        return write_page(args.results, args.output or DOCS, command_line)
    repeat = args.repeat or (3 if args.quick else 5)
    if repeat < 1:
        print("run.py: --repeat must be at least 1", file=sys.stderr)
        return 2
    output = args.output or (None if args.only else DOCS)
    work = Path(tempfile.mkdtemp(prefix="nbkit-bench-"))
    settings = Settings(
        repeat=repeat,
        quick=args.quick,
        work=work,
        corpus_root=args.corpus or Settings().corpus_root,
        budget_s=20.0 if args.quick else 30.0,
    )
    problem = "" if args.no_install else tools.ensure_tools_venv()
    if problem:
        _log(problem)
    machine, versions = tools.machine(), tools.versions()
    rows: list[Row] = []
    try:
        for name in args.only or list(FAMILIES):
            _log(f"{name}: running (load {tools.load_average()})")
            before, started = tools.load_average(), time.perf_counter()
            family_rows = run_family(name, settings)
            rows += family_rows
            meta = {
                "generated": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                "load_before": before,
                "load_after": tools.load_average(),
                "elapsed_s": time.perf_counter() - started,
                "repeat": settings.repeat,
                "quick": settings.quick,
                "command_line": command_line,
                "machine": machine,
                "versions": versions,
            }
            report.save_family(args.results, name, family_rows, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report.console(rows))
    if output is not None:
        return write_page(args.results, output, command_line, only=args.only)
    return 0


def write_page(
    results: Path, output: Path, command_line: str, only: list[str] | None = None
) -> int:
    """The page from the saved families (``only``: just those, e.g. a run with --output)."""
    saved = report.load_results(results, only or list(FAMILIES))
    if not saved:
        print(f"run.py: no saved results in {results}", file=sys.stderr)
        return 2
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, report.page_from_results(saved, command_line))
    _log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
