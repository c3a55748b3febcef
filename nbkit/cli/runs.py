"""Commands for experiment runs: ``nbkit run`` and the whole ``nbkit runs`` group (list,
show, compare, plot). ``run_options`` declares the options ``run`` and ``sweep`` share.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from nbkit.cli.output import safe, say

if TYPE_CHECKING:
    from nbkit.runs.compare import Comparison
    from nbkit.runs.ledger import Ledger, Run

F = TypeVar("F", bound=Callable[..., Any])


def _say(line: str) -> None:
    say(line)  # notebook-derived text: escaped (nbkit/cli/output.py)


def _echo(line: str) -> None:
    say(line, err=True)


def _ledger() -> Ledger:
    """The project's ledger, in the folder ``[tool.nbkit.runs] ledger`` names."""
    from nbkit import config
    from nbkit.runs import settings
    from nbkit.runs.ledger import Ledger

    cfg = config.load()
    return Ledger(cfg.root, settings(cfg).ledger)


_EXIT = {"succeeded": 0, "failed": 1, "timed_out": 1, "interrupted": 130}


def _err(line: str) -> None:
    say(line, err=True)


_safe_text = safe  # notebook-derived text: control characters escaped


def _print_declared(notebook: str) -> int:
    from nbkit.notebook import read
    from nbkit.runs.params import declared

    found = declared(read(notebook), notebook)
    if found is None:
        say(f"{notebook}: no cell tagged 'parameters'; it takes no parameters")
        return 0
    rows = [("NAME", "TYPE", "DEFAULT", "HELP")]
    rows += [(d.name, d.type or "?", d.default, d.help) for d in found]
    say(_table(rows))
    return 0


def run_options(func: F) -> F:
    """Options ``nbkit run`` and ``nbkit sweep`` share, declared once."""
    for option in reversed(
        [
            click.option(
                "--kernel", help="Kernel to run with (default: project env, notebook, this Python)."
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0, min_open=True),
                help="Seconds each cell may run before the run is timed_out.",
            ),
            click.option(
                "--allow-dirty", is_flag=True, help="Run with uncommitted changes (diff stored)."
            ),
            click.option(
                "--allow-unknown",
                is_flag=True,
                help="Pass parameters the notebook does not declare.",
            ),
            click.option(
                "--inputs",
                multiple=True,
                metavar="GLOB",
                help="Input files to fingerprint (quote globs). Repeatable.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.command()
@click.argument("notebook", type=click.Path())
@click.option(
    "-p",
    "--param",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter typed as papermill types it (True, None, 3, 1e-3, else text). Repeatable.",
)
@click.option(
    "-y",
    "--param-yaml",
    "yaml_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter whose value is YAML ([1, 2], {a: 1}). Repeatable.",
)
@click.option(
    "-r",
    "--param-raw",
    "raw_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter passed as the raw string. Repeatable.",
)
@click.option(
    "-f",
    "--params-file",
    "files",
    multiple=True,
    type=click.Path(),
    help="A YAML file of NAME: VALUE parameters (before -y, -p, -r). Repeatable.",
)
@run_options
@click.option("--help-notebook", is_flag=True, help="List the notebook's parameters and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def run(
    notebook: str,
    assignments: tuple[str, ...],
    yaml_values: tuple[str, ...],
    raw_values: tuple[str, ...],
    files: tuple[str, ...],
    kernel: str | None,
    timeout: float | None,
    allow_dirty: bool,
    allow_unknown: bool,
    inputs: tuple[str, ...],
    help_notebook: bool,
    as_json: bool,
) -> int:
    """Execute a notebook with papermill and record the run in the ledger.

    Parameters go after the cell tagged `parameters`; a parameter the notebook does not
    declare, or whose value does not fit its declared type, is an error. Exit 0 succeeded,
    1 failed or timed out, 2 bad input, 130 interrupted (the partial notebook is kept).

    \b
    Examples:
      nbkit run train.ipynb -p lr=1e-3 -y layers=[64,32] -r tag=010
      nbkit run train.ipynb -f params.yaml --timeout 600 --inputs 'data/*.csv'
      nbkit run --help-notebook train.ipynb
    """
    from nbkit import config
    from nbkit.runs import artifacts, params, settings
    from nbkit.runs.execute import RunRequest, execute

    if help_notebook:
        return _print_declared(notebook)
    cfg = config.load(Path(notebook).absolute().parent)
    defaults = settings(cfg)
    request = RunRequest(
        notebook=Path(notebook),
        root=cfg.root,
        parameters=params.collect(
            files,
            assignments,
            yaml_values,
            raw_values,
            types=params.declared_types(notebook)
            if (files or assignments or yaml_values)
            else None,
        ),
        kernel=kernel or defaults.kernel,
        timeout=timeout or defaults.timeout,
        allow_dirty=allow_dirty,
        allow_unknown=allow_unknown,
        inputs=inputs or defaults.inputs,
        ledger_dir=Path(defaults.ledger),
    )
    store = artifacts.store_for(cfg.root)
    if store is not None:  # a folder or URL store: refused before the kernel starts
        store.check_writable()
    if request.kernel is None:  # the project's kernel will be chosen: say if it drifted
        from nbkit.env.venv import project_drift

        for line in project_drift(cfg.root):
            _err(f"warning: {line} (the run records what is installed; `nbkit env` resyncs)")
    result = execute(request)
    if as_json:
        say(json.dumps(result.manifest, indent=1, sort_keys=True))
    else:
        _err(_run_line(result.manifest, result.dir, cfg.root))
    export_recorded(cfg.root, [result])
    untracked = (result.manifest.get("git") or {}).get("untracked") or []
    if untracked:
        _err(
            f"nbkit: warning: the run read files git does not track: {', '.join(untracked)} "
            "(stored in its patch)\nhint: git add them, so the commit alone reproduces the run"
        )
    return _EXIT.get(result.status, 1)


def export_recorded(root: Path, recorded: Sequence[Run]) -> None:
    """``[tool.nbkit.runs] mlflow``: export the runs just recorded; a server that does not
    answer is a warning, never a failure (the runs are recorded)."""
    from nbkit.runs.export import auto_export

    exporter = auto_export(root)
    if exporter is None:
        return
    for item in recorded:
        warning = exporter(item)
        if warning:
            _err(warning)


def _run_line(manifest: dict[str, Any], folder: Path, root: Path) -> str:
    line = f"run {manifest['id']} {manifest['status']}"
    error = manifest.get("error") or {}
    if error.get("cell") is not None:
        line += f" at cell {error['cell']}"
    if error.get("ename"):
        line += f": {error['ename']}: {str(error.get('evalue', '')).splitlines()[0][:200]}"
    if error.get("signal"):
        line += f" ({error['signal']})"
    line += f" in {manifest.get('duration') or 0:.1f} s"
    metrics = manifest.get("metrics") or {}
    if metrics:
        line += "; " + _pairs(metrics, 200)
    try:
        shown = folder.relative_to(root)
    except ValueError:
        shown = folder
    return f"{line}\n  {shown}/"


def _pairs(values: dict[str, Any], limit: int) -> str:
    text = " ".join(
        [f"{k}={v}" if type(v) in _PLAIN else f"{k}={_show(v)}" for k, v in values.items()]
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PLAIN = frozenset((str, int, float))  # exact types whose f-string is ``_show``'s text


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value) if isinstance(value, int | float) else json.dumps(value)


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, trailing blanks dropped: one
    format string for every row (``nbkit runs`` lays out 10,000)."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths).format
    return "\n".join([line(*r).rstrip() for r in rows])


def _list_options(func: F) -> F:
    for option in reversed(
        [
            click.option("--notebook", help="Only runs of this notebook."),
            click.option(
                "--status",
                type=click.Choice(["succeeded", "failed", "timed_out", "interrupted"]),
                help="Only runs with this status.",
            ),
            click.option(
                "--param",
                "param_filters",
                multiple=True,
                metavar="NAME=VALUE",
                help="Only runs with this parameter value. Repeatable.",
            ),
            click.option("--sweep", help="Only the runs of this sweep."),
            click.option(
                "--where",
                "wheres",
                multiple=True,
                metavar="EXPR",
                help="Only runs where EXPR holds, e.g. 'accuracy > 0.9' (see --fail-if).",
            ),
        ]
    ):
        func = option(func)
    return func


def _selected(
    notebook: str | None,
    status: str | None,
    filters: tuple[str, ...],
    sweep: str | None,
    wheres: tuple[str, ...],
    sort: str | None = None,
    desc: bool = False,
) -> list[Run]:
    """The runs the filters choose, in ledger order or sorted."""
    from nbkit import config, git
    from nbkit.runs import params
    from nbkit.runs.explore import select
    from nbkit.runs.gate import parse_where

    gates = [parse_where(w) for w in wheres]
    cfg = config.load()
    ledger = _ledger()
    wanted = dict(params.parse_assignment(f) for f in filters)
    rel = git.relpath(cfg.root, notebook) if notebook else None
    runs = ledger.list(notebook=rel, status=status, params=wanted, sweep=sweep)
    for problem in ledger.problems:
        _err(f"nbkit: warning: {problem} (skipped)")
    return select(runs, gates, sort, desc) if gates or sort is not None else runs


def _listing_options(func: F) -> F:
    func = click.option("--desc", is_flag=True, help="Sort largest first.")(func)
    func = click.option("--sort", metavar="NAME", help="Sort by this metric or parameter.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="One JSON summary per line.")(func)
    return _list_options(func)


def _list(
    notebook: str | None,
    status: str | None,
    filters: tuple[str, ...],
    sweep: str | None,
    wheres: tuple[str, ...],
    sort: str | None,
    desc: bool,
    as_json: bool,
) -> int:
    with _no_gc():  # 10,000 summaries and rows are all live till printed: nothing to collect
        runs = _selected(notebook, status, filters, sweep, wheres, sort, desc)
        listing = _listing(runs, as_json)
    if listing:
        say(listing)
    elif not as_json:
        chosen = notebook or status or filters or sweep or wheres
        _err("no runs recorded" + (" match" if chosen else ""))
    return 0


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector paused: it would rescan every summary dict made so far, many
    times over, while the listing only grows (a quarter of its time on 10,000 runs)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _listing(runs: Sequence[Run], as_json: bool) -> str:
    """What ``nbkit runs`` prints for ``runs``; empty when there are none."""
    if not runs:
        return ""
    if as_json:  # json.dumps escapes every control character: one say for all lines
        encode = json.JSONEncoder(sort_keys=True).encode
        return "\n".join([encode(item.summary) for item in runs])
    return _table(_rows(runs))


_HEADER = ("ID", "WHEN (UTC)", "NOTEBOOK", "COMMIT", "PARAMETERS", "METRICS", "STATUS")


def _rows(runs: Sequence[Run]) -> list[tuple[str, ...]]:
    """The listing's cells, read straight from each run's index summary."""
    rows = []
    for item in runs:
        s = item.summary
        rows.append(
            (
                item.id,
                str(s.get("started") or "")[:16].replace("T", " "),
                str(s.get("notebook")),
                (s.get("commit") or "-")[:8] + ("*" if s.get("dirty") else ""),
                _pairs(_mapping(s.get("parameters")), 40),
                _pairs(_mapping(s.get("metrics")), 40),
                str(s.get("status")),
            )
        )
    # parameters and metrics are escaped before the widths are taken (the whole table is
    # escaped again when printed); one check over all of them spares 20,000 calls.
    shown = " ".join([cell for row in rows for cell in row[4:6]])
    if _safe_text(shown) != shown:
        rows = [(*r[:4], _safe_text(r[4]), _safe_text(r[5]), r[6]) for r in rows]
    return [_HEADER, *rows]


def _mapping(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else dict(value or {})


@click.group(invoke_without_command=True)
@_listing_options
@click.pass_context
def runs(
    ctx: click.Context,
    notebook: str | None,
    status: str | None,
    param_filters: tuple[str, ...],
    sweep: str | None,
    wheres: tuple[str, ...],
    sort: str | None,
    desc: bool,
    as_json: bool,
) -> int:
    """List, show, compare and plot recorded runs (with no subcommand: list).

    \b
    Examples:
      nbkit runs                              every run, oldest first
      nbkit runs --status failed --notebook train.ipynb
      nbkit runs --param lr=0.01 --json
      nbkit runs --where 'accuracy > 0.9' --sort accuracy --desc
      nbkit runs --sweep 3f2a9c1d0b7e
      nbkit runs show 20250101-120000-a1b2c3
    """
    if ctx.invoked_subcommand is None:
        return _list(notebook, status, param_filters, sweep, wheres, sort, desc, as_json)
    return 0


@click.command("list")
@_listing_options
def list_runs(
    notebook: str | None,
    status: str | None,
    param_filters: tuple[str, ...],
    sweep: str | None,
    wheres: tuple[str, ...],
    sort: str | None,
    desc: bool,
    as_json: bool,
) -> int:
    """List recorded runs: id, when, notebook, commit (* = dirty), parameters, metrics, status.

    \b
    Examples:
      nbkit runs list --status succeeded --param lr=0.1
      nbkit runs list --where 'loss < 0.3' --sort loss
    """
    return _list(notebook, status, param_filters, sweep, wheres, sort, desc, as_json)


@click.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def show(run_id: str, as_json: bool) -> int:
    """Show one run's manifest: status, error, parameters, metrics, git, kernel, inputs.

    \b
    Examples:
      nbkit runs show 20250101-120000-a1b2c3
      nbkit runs show 20250101-120000-a1b2c3 --json | jq .metrics
    """
    from nbkit import config
    from nbkit.runs import settings
    from nbkit.runs.ledger import Ledger

    cfg = config.load()
    found = Ledger(cfg.root, settings(cfg).ledger).get(run_id)
    if as_json:
        say(json.dumps(found.manifest, indent=1, sort_keys=True))
        return 0
    say(_describe(found.manifest, _executed(found), cfg.root))
    return 0


def _executed(found: Any) -> Path | str:
    """The executed notebook, restored from the artifact store if need be; else what is
    missing and how to get it (the rest of the run is still worth showing)."""
    from nbkit.errors import BadInput, with_hint

    try:
        path: Path = found.executed_notebook
    except BadInput as exc:
        return f"missing: {with_hint(exc.message, exc.hint)}"
    return path if path.exists() else "missing"


def _describe(m: dict[str, Any], executed: Path | str, root: Path) -> str:
    gitinfo, kernel = m.get("git") or {}, m.get("kernel") or {}
    error = m.get("error") or {}
    lines = [
        f"run        {m['id']}",
        f"notebook   {m['notebook']} (sha256 {str(m.get('notebook_sha256'))[:12]})",
        f"status     {m['status']}"
        + (f" at cell {error.get('cell')}" if error else "")
        + (f": {error.get('ename')}: {error.get('evalue')}" if error.get("ename") else "")
        + (f" ({error['signal']})" if error.get("signal") else ""),
        f"when       {m.get('started')} .. {m.get('ended')} ({m.get('duration')} s)",
        f"git        {gitinfo.get('commit')} on {gitinfo.get('branch')}"
        + (f", dirty ({gitinfo.get('why')})" if gitinfo.get("dirty") else ""),
        f"kernel     {kernel.get('name')} ({kernel.get('reason')}), Python {kernel.get('python')}"
        f", {len(kernel.get('packages') or {})} packages",
        f"lock       {m.get('lock_hash') or '-'}",
        f"parameters {_pairs(m.get('parameters') or {}, 400) or '-'}",
        f"metrics    {_pairs(m.get('metrics') or {}, 400) or '-'}",
    ]
    for label, key in (("inputs", "inputs"), ("files read", "files_read")):
        for item in m.get(key) or []:
            digest = str(item.get("sha256") or "content unknown")[:12]
            changed = ", modified during the run" if item.get("modified") else ""
            lines.append(f"{label:<10} {item['path']} ({item['size']} B, {digest}{changed})")
    for key, value in (m.get("experiment") or {}).items():
        lines.append(f"{key:<10} {value}")
    try:
        shown = executed.relative_to(root) if isinstance(executed, Path) else executed
    except ValueError:
        shown = executed
    lines.append(f"executed   {shown}")
    return "\n".join(lines)


def _cell(value: Any, width: int = 24) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_comparison(comparison: Comparison) -> None:
    ids = comparison.run_ids
    widths = [max(24, len(i)) for i in ids]
    say(f"  {'':28} " + " ".join(i.ljust(w) for i, w in zip(ids, widths, strict=True)))
    section = ""
    for row in comparison.rows:
        if row.section != section:
            section = row.section
            _say(section)
        mark = "≠" if row.differs else " "
        values = " ".join(_cell(v, w).ljust(w) for v, w in zip(row.values, widths, strict=True))
        _say(f"{mark} {_cell(row.key, 28):28} {values}".rstrip())


@click.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="BASE NEW...")
@click.option(
    "--fail-if",
    "gates",
    multiple=True,
    metavar="EXPR",
    help="Exit 1 when EXPR holds for a NEW run, e.g. 'accuracy < base - 0.01' (repeatable).",
)
@click.option("--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(
    run_ids: tuple[str, ...], gates: tuple[str, ...], rtol: float, atol: float, as_json: bool
) -> int:
    """Put runs side by side: parameters, environment, inputs and metrics.

    The first run is the base; rows marked ≠ differ from it (metrics within --rtol/--atol,
    packages listed only where they differ). --fail-if turns the comparison into a CI gate:
    METRIC OP EXPR, where OP is < <= > >= == != and EXPR uses numbers, `base` (the base
    run's value of METRIC) and + - * / ( ). It is parsed, never evaluated as code.

    \b
    Examples:
      nbkit runs compare 20240601-101500-a1b2c3 20240602-093000-d4e5f6
      nbkit runs compare BASE NEW --fail-if 'accuracy < base - 0.01'
      nbkit runs compare BASE NEW --fail-if 'loss > base * 1.05' --json
    """
    from nbkit.errors import UsageError
    from nbkit.runs.compare import Tolerance, compare_runs
    from nbkit.runs.gate import evaluate, parse_gate

    parsed = [parse_gate(g) for g in gates]
    if len(run_ids) < 2:
        raise UsageError("give at least two run ids (BASE NEW...)", "nbkit runs compare")
    ledger = _ledger()
    runs = [ledger.get(run_id) for run_id in run_ids]
    manifests = [run.manifest for run in runs]
    comparison = compare_runs(runs, Tolerance(rtol=rtol, atol=atol))
    base = manifests[0].get("metrics") or {}
    results = [
        evaluate(gate, base, m.get("metrics") or {}, run_ids[0], run_id)
        for gate in parsed
        for run_id, m in zip(run_ids[1:], manifests[1:], strict=True)
    ]
    if as_json:
        data = comparison.to_json()
        data["gates"] = [
            {"gate": r.gate.text, "run": r.run, "failed": r.failed, "reason": r.reason}
            for r in results
        ]
        say(json.dumps(data, indent=1, ensure_ascii=False))
    else:
        _print_comparison(comparison)
        for result in results:
            verdict = "FAIL" if result.failed else "ok"
            _say(f"{verdict:4} {result.run}: {result.gate.text}: {result.reason}")
    return 1 if any(r.failed for r in results) else 0


@click.command()
@click.argument("metric")
@click.option("--by", metavar="PARAM", help="Plot against this parameter instead of run order.")
@click.option("--group", metavar="PARAM", help="One line per value of this parameter.")
@click.option("--logx", is_flag=True, help="Logarithmic x axis.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("runs.png"),
    show_default=True,
    help="Image to write (.png, .svg or .pdf).",
)
@_list_options
def plot(
    metric: str,
    by: str | None,
    group: str | None,
    logx: bool,
    output: Path,
    notebook: str | None,
    status: str | None,
    param_filters: tuple[str, ...],
    sweep: str | None,
    wheres: tuple[str, ...],
) -> int:
    """Plot a recorded metric of the selected runs: against a parameter (--by), one line
    per group (--group, else per combination of the other parameters that vary), or over
    steps when the runs recorded it with nbkit.record(name, value, step=N).

    \b
    Examples:
      nbkit runs plot accuracy -o accuracy.png
      nbkit runs plot loss --by lr --group depth --logx -o loss-by-lr.svg
      nbkit runs plot loss --sweep 3f2a9c1d0b7e --where 'epochs == 10'
    """
    from nbkit.runs.plot import plot_metric

    chosen = _selected(notebook, status or "succeeded", param_filters, sweep, wheres)
    manifests = [r.manifest for r in chosen]
    summary = plot_metric(manifests, metric, by, output, group=group, logx=logx)
    skipped = f" ({summary.skipped} runs without it skipped)" if summary.skipped else ""
    _say(f"{summary.path}: {metric} of {summary.points} runs{skipped}")
    return 0


runs.add_command(list_runs)
runs.add_command(show)
runs.add_command(compare)
runs.add_command(plot)


def _add_sharing() -> None:
    """``push``, ``fetch``, ``export`` and ``collect`` live in ``nbkit.cli.share`` (which
    imports nothing heavy at the top)."""
    from nbkit.cli import share

    for command in (share.push, share.fetch, share.export, share.collect):
        runs.add_command(command)


_add_sharing()
