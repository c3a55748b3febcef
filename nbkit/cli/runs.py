"""Commands for experiment runs: ``nbkit run`` and ``nbkit runs`` (list, show).

``runs compare`` and ``runs plot`` live in ``nbkit.cli.experiments`` (part B) and are added
to the ``runs`` group lazily from ``SUBCOMMANDS`` so each module keeps its own commands.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# ``runs`` subcommands defined elsewhere, loaded on use: name -> (module, attribute). A module
# not built yet simply has no command. ``list`` and ``show`` are added below.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("nbkit.cli.experiments", "compare"),
    "plot": ("nbkit.cli.experiments", "plot"),
}
_EXIT = {"succeeded": 0, "failed": 1, "timed_out": 1, "interrupted": 130}


def _err(line: str) -> None:
    click.echo(line, err=True)


def _print_declared(notebook: str) -> int:
    from nbkit.notebook import read
    from nbkit.runs.params import declared

    found = declared(read(notebook), notebook)
    if found is None:
        click.echo(f"{notebook}: no cell tagged 'parameters'; it takes no parameters")
        return 0
    rows = [("NAME", "TYPE", "DEFAULT", "HELP")]
    rows += [(d.name, d.type or "?", d.default, d.help) for d in found]
    click.echo(_table(rows))
    return 0


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
@click.option("--kernel", help="Kernel to run with (default: project env, notebook, this Python).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds each cell may run before the run is timed_out.",
)
@click.option("--allow-dirty", is_flag=True, help="Run with uncommitted changes (diff stored).")
@click.option(
    "--allow-unknown", is_flag=True, help="Pass parameters the notebook does not declare."
)
@click.option(
    "--inputs",
    multiple=True,
    metavar="GLOB",
    help="Input files to fingerprint (quote globs). Repeatable.",
)
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
    from nbkit.runs import params, settings
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
    if request.kernel is None:  # the project's kernel will be chosen: say if it drifted
        from nbkit.env.venv import project_drift

        for line in project_drift(cfg.root):
            _err(f"warning: {line} (the run records what is installed; `nbkit env` resyncs)")
    result = execute(request)
    if as_json:
        click.echo(json.dumps(result.manifest, indent=1, sort_keys=True))
    else:
        _err(_run_line(result.manifest, result.dir, cfg.root))
    untracked = (result.manifest.get("git") or {}).get("untracked") or []
    if untracked:
        _err(
            f"nbkit: warning: the run read files git does not track: {', '.join(untracked)} "
            "(stored in its patch)\nhint: git add them, so the commit alone reproduces the run"
        )
    return _EXIT.get(result.status, 1)


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
    text = " ".join(f"{k}={_show(v)}" for k, v in values.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value) if isinstance(value, int | float) else json.dumps(value)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


class _RunsGroup(click.Group):
    """``nbkit runs`` lists by default; subcommands of other modules load from SUBCOMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [n for n in SUBCOMMANDS if self.get_command(ctx, n) is not None]
        return [*self.commands, *lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        try:
            module = importlib.import_module(entry[0])
        except ModuleNotFoundError as exc:
            if exc.name != entry[0]:
                raise
            return None
        command = getattr(module, entry[1], None)
        return command if isinstance(command, click.Command) else None


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
            click.option("--json", "as_json", is_flag=True, help="One JSON summary per line."),
        ]
    ):
        func = option(func)
    return func


def _list(notebook: str | None, status: str | None, filters: tuple[str, ...], as_json: bool) -> int:
    from nbkit import config, git
    from nbkit.runs import params, settings
    from nbkit.runs.ledger import Ledger

    cfg = config.load()
    ledger = Ledger(cfg.root, settings(cfg).ledger)
    wanted = dict(params.parse_assignment(f) for f in filters)
    rel = git.relpath(cfg.root, notebook) if notebook else None
    runs = ledger.list(notebook=rel, status=status, params=wanted)
    for problem in ledger.problems:
        _err(f"nbkit: warning: {problem} (skipped)")
    if as_json:
        for item in runs:
            click.echo(json.dumps(item.summary, sort_keys=True))
        return 0
    if not runs:
        _err("no runs recorded" + (" match" if (notebook or status or filters) else ""))
        return 0
    rows = [("ID", "WHEN (UTC)", "NOTEBOOK", "COMMIT", "PARAMETERS", "METRICS", "STATUS")]
    for item in runs:
        s = item.summary
        commit = (s.get("commit") or "-")[:8] + ("*" if s.get("dirty") else "")
        when = str(s.get("started") or "")[:16].replace("T", " ")
        rows.append(
            (
                item.id,
                when,
                item.notebook,
                commit,
                _pairs(item.parameters, 40),
                _pairs(item.metrics, 40),
                item.status,
            )
        )
    click.echo(_table(rows))
    return 0


@click.group(cls=_RunsGroup, invoke_without_command=True)
@_list_options
@click.pass_context
def runs(
    ctx: click.Context,
    notebook: str | None,
    status: str | None,
    param_filters: tuple[str, ...],
    as_json: bool,
) -> int:
    """List, show and compare recorded runs (with no subcommand: list).

    \b
    Examples:
      nbkit runs                              every run, oldest first
      nbkit runs --status failed --notebook train.ipynb
      nbkit runs --param lr=0.01 --json
      nbkit runs show 20250101-120000-a1b2c3
    """
    if ctx.invoked_subcommand is None:
        return _list(notebook, status, param_filters, as_json)
    return 0


@click.command("list")
@_list_options
def list_runs(
    notebook: str | None, status: str | None, param_filters: tuple[str, ...], as_json: bool
) -> int:
    """List recorded runs: id, when, notebook, commit (* = dirty), parameters, metrics, status.

    \b
    Examples:
      nbkit runs list --status succeeded --param lr=0.1
    """
    return _list(notebook, status, param_filters, as_json)


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
        click.echo(json.dumps(found.manifest, indent=1, sort_keys=True))
        return 0
    click.echo(_describe(found.manifest, found.executed_notebook, cfg.root))
    return 0


def _describe(m: dict[str, Any], executed: Path, root: Path) -> str:
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
        lines.append(f"executed   {executed.relative_to(root)}")
    except ValueError:
        lines.append(f"executed   {executed}")
    return "\n".join(lines)


runs.add_command(list_runs)
runs.add_command(show)
