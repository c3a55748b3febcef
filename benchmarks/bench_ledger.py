"""``nbkit runs`` over a ledger of 10,000 recorded runs.

The manifests are clones of a real one (made by ``nbkit run`` on the 5-cell notebook), each
with its own id, time, parameters, metrics and status. ``nbkit runs`` is timed with its
local index missing (cold: every manifest is read and the index rebuilt) and present (warm),
against a naive reader that ``json.load``s every manifest (the floor without an index); the
four are measured round-robin, so the machine's load falls on each alike.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_run import experiment_repo
from benchmarks.harness import (
    Row,
    Settings,
    Target,
    base_env,
    command,
    measure_together,
    nbkit_bin,
    nbkit_has,
    unavailable,
)

FAMILY = "runs"
NAIVE = """
import json, pathlib, sys
rows = [json.loads(p.read_bytes()) for p in sorted(pathlib.Path(sys.argv[1]).glob('*/manifest.json'))]
print(len(rows), sum(r['status'] == 'succeeded' for r in rows))
"""


def _template(repo: Path, settings: Settings) -> dict[str, object] | None:
    proc = subprocess.run(
        [str(nbkit_bin() / "nbkit"), "run", "nb.ipynb", "-p", "n=3"],
        cwd=repo,
        env=base_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    found = sorted((repo / ".nbkit" / "runs").glob("*/manifest.json"))
    if proc.returncode != 0 or not found:
        return None
    loaded: dict[str, object] = json.loads(found[-1].read_bytes())
    return loaded


def make_ledger(runs_dir: Path, template: dict[str, object], count: int) -> None:
    """``count`` manifests shaped like ``template``, deterministic."""
    rng = random.Random(count)
    for index in range(count):
        day, second = divmod(index, 86_400)
        run_id = f"202501{1 + day % 28:02d}-{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}-{index:06x}"
        manifest = {
            **template,
            "id": run_id,
            "started": f"2025-01-{1 + day % 28:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00:00",
            "parameters": {"n": rng.randint(1, 100), "lr": rng.choice([0.1, 0.01, 0.001])},
            "metrics": {"total": rng.random(), "loss": rng.random()},
            "status": "succeeded" if rng.random() < 0.9 else "failed",
        }
        folder = runs_dir / run_id
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    count = 1_000 if settings.quick else 10_000
    case = f"nbkit runs over {count:,} manifests"
    if not nbkit_has("runs") or not nbkit_has("run"):
        return [unavailable(FAMILY, case, "`nbkit runs` / `nbkit run` do not exist yet")]
    repo = experiment_repo(settings.work / "ledger")
    template = _template(repo, settings)
    if template is None:
        return [unavailable(FAMILY, case, "`nbkit run` could not record a template run")]
    runs_dir = repo / ".nbkit" / "runs"
    for old in runs_dir.glob("2*"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    with contextlib.suppress(FileNotFoundError):
        (runs_dir / "index.jsonl").unlink()
    make_ledger(runs_dir, template, count)

    def drop_index() -> None:
        with contextlib.suppress(FileNotFoundError):
            (runs_dir / "index.jsonl").unlink()

    argv = [nbkit_bin() / "nbkit", "runs"]
    naive_cmd = command(
        "json.load of every manifest", [nbkit_bin() / "python", "-c", NAIVE, runs_dir], cwd=repo
    )
    # round-robin (cold, warm, filtered, naive, cold, ...): the machine's load falls on each
    # alike; cold drops the index first, so the warm side after it finds it rebuilt
    cold, warm, filtered, naive = measure_together(
        [
            (command("nbkit runs (no index)", argv, cwd=repo), drop_index),
            (command("nbkit runs (index)", argv, cwd=repo), None),
            (
                command(
                    "nbkit runs --status failed (index)", [*argv, "--status", "failed"], cwd=repo
                ),
                None,
            ),
            (naive_cmd, None),
        ],
        settings,
        warmup=True,
    )
    log(f"{FAMILY}: cold {cold.shown()}, warm {warm.shown()}, naive {naive.shown()}")
    return [
        Row(
            FAMILY,
            f"{case}: with its index vs reading every manifest",
            warm,
            naive,
            Target("< 0.5 s and >= 2x", min_ratio=2, max_s=0.5),
        ),
        Row(
            FAMILY,
            f"{case}, --status filter: with its index vs reading every manifest",
            filtered,
            naive,
            Target("<= 1 s", max_s=1.0),
        ),
        Row(
            FAMILY,
            f"{case}: no index (rebuilt) vs reading every manifest",
            cold,
            naive,
            Target(">= 0.5x", min_ratio=0.5),
        ),
    ]
