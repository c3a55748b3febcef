"""A sweep's record, and ``nbkit sweep --resume``: run the points with no successful run.

At submit a sweep writes ``<ledger>/sweeps/<id>.json`` (small text, shared like manifests):
the notebook, the grid, the options, the snapshot's commit and tree (pinned by
``refs/nbkit/sweeps/<id>``), the dirty patch's file and the inputs' sha256. Every point's
manifest carries ``sweep`` (the id), ``sweep_index`` (its grid point) and ``snapshot``.
Resuming rebuilds the same snapshot from the tree (never from the checkout), so resumed
points run the same code as the first ones.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from nbkit.errors import BadInput
from nbkit.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from nbkit.runs.execute import Prepared
    from nbkit.runs.ledger import Ledger
    from nbkit.runs.snapshot import Snapshot

FOLDER = "sweeps"
SCHEMA = 1


def record_path(ledger: Ledger, sweep_id: str) -> Path:
    return ledger.dir / FOLDER / f"{sweep_id}.json"


def write_record(
    ledger: Ledger,
    sweep_id: str,
    prepared: Prepared,
    grid: tuple[dict[str, Any], ...],
    snapshot: Snapshot,
    address: str | None = None,
) -> Path:
    request = prepared.request
    folder = ledger.dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    patch = bytes(prepared.git.get("patch") or b"")
    if patch:
        atomic_write_bytes(folder / f"{sweep_id}.patch", patch)
    record = {
        "schema": SCHEMA,
        "id": sweep_id,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "notebook": prepared.notebook_rel,
        "grid": list(grid),
        "kernel": request.kernel,
        "timeout": request.timeout,
        "inputs": list(request.inputs),
        "allow_dirty": request.allow_dirty,
        "allow_unknown": request.allow_unknown,
        "git": {k: v for k, v in prepared.git.items() if k != "patch"},
        "patch": f"{sweep_id}.patch" if patch else None,
        "snapshot": {"tree": snapshot.tree, "inputs": dict(snapshot.input_hashes)},
        "lock_hash": prepared.lock_hash,
        "env_names": list(prepared.env_names),
        "dask": address,  # where a detached sweep's results wait
    }
    path = record_path(ledger, sweep_id)
    atomic_write_bytes(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return path


def read_record(ledger: Ledger, sweep_id: str) -> dict[str, Any]:
    path = record_path(ledger, sweep_id)
    if "/" in sweep_id or not path.is_file():
        raise BadInput(
            f"unknown sweep {sweep_id!r}",
            ledger.dir / FOLDER,
            hint="nbkit sweep prints its id when it starts; recorded sweeps are in that folder",
        )
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BadInput(f"corrupt sweep record: {str(exc)[:120]}", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("grid"), list):
        raise BadInput("corrupt sweep record: no grid", path)
    return data


def done_points(ledger: Ledger, sweep_id: str, notebook: str) -> set[int]:
    """Grid indexes of the sweep that already have a successful run."""
    return recorded_points(ledger, sweep_id, notebook, "succeeded")


def recorded_points(
    ledger: Ledger, sweep_id: str, notebook: str, status: str | None = None
) -> set[int]:
    """Grid indexes of the sweep with a recorded run (of this status)."""
    done: set[int] = set()
    for run in ledger.list(notebook=notebook, status=status, sweep=sweep_id):
        index = run.manifest.get("sweep_index")
        if isinstance(index, int):
            done.add(index)
    return done


class Resumed(NamedTuple):
    """What a resumed sweep runs: the recorded base point, grid and snapshot, and which
    grid indexes still need a run."""

    prepared: Prepared
    grid: tuple[dict[str, Any], ...]
    snapshot: Snapshot
    indexes: tuple[int, ...]


def plan(ledger: Ledger, sweep_id: str) -> Resumed | None:
    """What runs the recorded sweep's missing points (None: nothing is missing)."""
    from nbkit.runs import snapshot as snap

    record = read_record(ledger, sweep_id)
    grid = tuple(record["grid"])
    missing = sorted(set(range(len(grid))) - done_points(ledger, sweep_id, record["notebook"]))
    if not missing:
        return None
    root = ledger.root.resolve()
    info = record.get("snapshot") or {}
    taken = snap.retake(root, str(info.get("tree")), ledger.dir, record["git"].get("commit"))
    inputs = _inputs(root, info.get("inputs") or {})
    taken = snap.with_inputs(root, taken, inputs)
    prepared = _prepare(ledger, record, taken, inputs)
    return Resumed(prepared, grid, taken, tuple(missing))


def _inputs(root: Path, recorded: dict[str, str]) -> tuple[Path, ...]:
    """The recorded inputs, checked unchanged since submit (they are not in the tree)."""
    paths = []
    for rel, digest in sorted(recorded.items()):
        path = root / rel
        try:
            now = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            now = ""
        if now != digest:
            raise BadInput(
                "this input changed or went missing since the sweep was submitted",
                path,
                hint="restore it, or start a new sweep",
            )
        paths.append(path)
    return tuple(paths)


def _prepare(
    ledger: Ledger, record: dict[str, Any], taken: Snapshot, inputs: tuple[Path, ...]
) -> Prepared:
    """The base point as it was prepared at submit: the notebook read from the snapshot."""
    from nbkit import notebook as nbio
    from nbkit.runs import kernels, params
    from nbkit.runs.execute import Prepared, RunRequest

    root = ledger.root.resolve()
    rel = str(record["notebook"])
    data = _member(taken.archive, rel)
    nb = nbio.loads(data, rel)
    patch_name = record.get("patch")
    patch = (ledger.dir / FOLDER / patch_name).read_bytes() if patch_name else b""
    timeout = record.get("timeout")
    request = RunRequest(
        notebook=root / rel,
        root=root,
        kernel=record.get("kernel"),
        timeout=float(timeout) if timeout else None,
        allow_dirty=bool(record.get("allow_dirty")),
        allow_unknown=bool(record.get("allow_unknown")),
        inputs=tuple(record.get("inputs") or ()),
    )
    return Prepared(
        request=request,
        notebook=root / rel,
        notebook_rel=rel,
        notebook_sha256=hashlib.sha256(data).hexdigest(),
        nb=nb,
        kernel=kernels.choose(root, nb, request.kernel, rel),
        git={**record["git"], "patch": patch},
        inputs=inputs,
        language=params.language(nb, as_written=True),
        lock_hash=record.get("lock_hash"),
        env_names=tuple(record.get("env_names") or ()),
        defaults=_defaults(nb, rel),
    )


def _defaults(nb: dict[str, Any], rel: str) -> dict[str, Any]:
    from nbkit.runs import params

    try:
        return params.defaults(nb, rel)
    except BadInput:
        return {}


def _member(archive: bytes, rel: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        try:
            member = tar.extractfile(rel)
        except KeyError:
            member = None
        if member is None:
            raise BadInput("the sweep's notebook is not in its snapshot", rel)
        return member.read()
