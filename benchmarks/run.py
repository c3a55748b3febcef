"""Run the benchmark suite: ``make bench`` or ``python benchmarks/run.py [--quick] [--only NAME]``.

Prints the table and, for a run of every family, writes ``docs/benchmarks.md``. A family
that cannot run (a command not built yet, a tool missing) becomes a row saying so; it never
stops the others.
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
    "filter": "benchmarks.bench_filter",
    "diff": "benchmarks.bench_diff",
    "merge": "benchmarks.bench_merge",
    "run": "benchmarks.bench_run",
    "env": "benchmarks.bench_env",
    "sweep": "benchmarks.bench_sweep",
    "runs": "benchmarks.bench_ledger",
}
DOCS = REPO_ROOT / "docs" / "benchmarks.md"


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
        help="do not create benchmarks/.tools-venv; use the tools already on hand",
    )
    parser.add_argument("--corpus", type=Path, default=None, help="corpus cache folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
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
    started = time.perf_counter()
    machine = tools.machine()
    problem = "" if args.no_install else tools.ensure_tools_venv()
    if problem:
        _log(problem)
    rows: list[Row] = []
    try:
        for name in args.only or list(FAMILIES):
            _log(f"{name}: running")
            rows += run_family(name, settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print(report.console(rows))
    if output is not None:
        command_line = "python benchmarks/run.py " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        page = report.markdown(
            rows, settings, machine, tools.versions(), command_line.strip(), elapsed
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output, page)
        _log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
