"""Real notebooks: cleaning the shipped real corpus against the floor and the other cleaners.

The generated corpus is shaped by its generator; real notebooks have other shapes (few
cells with large outputs, widget state, attachments, SVG and JPEG figures, prose-only
documentation). The 29 real notebooks of ``benchmarks/real-notebooks`` (see its README for
their sources and licences), seven copies in seven folders (203 files, ~4.8 MB), are cleaned
in place by ``nbkit clean`` (cold cache), nbstripout, nbstripout-fast and nb-clean, and
by the floor: a bare ``json.load`` + ``json.dump`` of each file (``floor.py``). Whatever the
ratio to the floor is, it is reported: the claim "faster than a plain json load + dump" holds
only where this row says so.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

from benchmarks import corpus
from benchmarks.harness import (
    Command,
    Row,
    Settings,
    Target,
    command,
    committed_repo,
    exit_note,
    measure_together,
    nbkit_bin,
    restore_tree,
    tool,
    unavailable,
)

FAMILY = "real notebooks"
FLOOR = Path(__file__).resolve().parent / "floor.py"
CACHE = Path(".git") / "nbkit-cache.json"
COPIES = 7
FLOOR_TARGET = Target(">= 0.5x (within 2x of the floor)", min_ratio=0.5)
CLEANERS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "nbstripout": (("--keep-id",), ("--verify", "--keep-id")),
    "nb-clean": (("clean",), ("check",)),
    "nbstripout-fast": ((), None),
}


def _copies(root: Path) -> Path:
    def make(folder: Path) -> None:
        for copy in range(COPIES):
            shutil.copytree(
                corpus.REAL_ROOT,
                folder / f"copy{copy}",
                ignore=shutil.ignore_patterns("LICENSE*", "README*"),
            )

    return corpus.cached(root, f"real-x{COPIES}", make)


def _drop_cache(repo: Path, then: Callable[[], None]) -> Callable[[], None]:
    def setup() -> None:
        then()
        with contextlib.suppress(FileNotFoundError):
            (repo / CACHE).unlink()

    return setup


def run(settings: Settings, log: Callable[[str], None]) -> list[Row]:
    source = _copies(settings.corpus_root)
    repo = committed_repo(source, settings.work / "real")
    files = [str(p.relative_to(repo)) for p in corpus.notebooks(repo)]
    case = f"{len(files)} real notebooks ({COPIES} copies of the {len(files) // COPIES} shipped)"
    restore = restore_tree(source, repo)
    sides: dict[str, tuple[Command, Callable[[], None] | None]] = {
        "nbkit": (
            command("nbkit clean (cold cache)", [nbkit_bin() / "nbkit", "clean", *files], cwd=repo),
            _drop_cache(repo, restore),
        ),
        "floor": (
            command("json load+dump", [nbkit_bin() / "python", FLOOR, *files], cwd=repo),
            restore,
        ),
    }
    missing: dict[str, str] = {}
    for name, (args, _check) in CLEANERS.items():
        exe = tool(name)
        if exe is None:
            missing[name] = f"{name} venv missing"
            continue
        sides[name] = (command(name, [exe, *args, *files], cwd=repo), restore)
    measured = dict(
        zip(sides, measure_together(list(sides.values()), settings, warmup=True), strict=True)
    )
    ours = measured.pop("nbkit")
    log(
        f"{FAMILY}: nbkit clean {ours.shown()}, "
        + ", ".join(f"{k} {v.shown()}" for k, v in measured.items())
    )
    rows = [
        Row(
            FAMILY,
            f"{case}, clean in place: nbkit clean (cold cache) vs floor",
            ours,
            measured.pop("floor"),
            FLOOR_TARGET,
            exit_note(ours),
        )
    ]
    for name in CLEANERS:
        if name in missing:
            rows.append(unavailable(FAMILY, f"{case}, clean in place vs {name}", missing[name]))
            continue
        rows.append(
            Row(
                FAMILY,
                f"{case}, clean in place: nbkit clean (cold cache) vs {name}",
                ours,
                measured[name],
                Target("report only"),
                exit_note(ours, measured[name]),
            )
        )
    rows.append(_check_row(settings, source, case, log))
    return rows


def _check_row(settings: Settings, source: Path, case: str, log: Callable[[str], None]) -> Row:
    """The same files once clean, checked: nbkit clean --check (cold cache) vs the floor's
    check (parse, serialise, compare)."""
    from nbkit.clean import clean_file
    from nbkit.config import CleanPolicy

    def make(folder: Path) -> None:
        shutil.copytree(
            source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete")
        )
        for path in corpus.notebooks(folder):
            clean_file(path, CleanPolicy())

    cleaned = corpus.cached(settings.corpus_root, f"real-x{COPIES}-cleaned", make)
    repo = committed_repo(cleaned, settings.work / "real-check")
    files = [str(p.relative_to(repo)) for p in corpus.notebooks(repo)]
    ours, floor = measure_together(
        [
            (
                command(
                    "nbkit clean --check (cold cache)",
                    [nbkit_bin() / "nbkit", "clean", "--check", *files],
                    cwd=repo,
                ),
                _drop_cache(repo, lambda: None),
            ),
            (
                command(
                    "json load+dumps, compare",
                    [nbkit_bin() / "python", FLOOR, "--check", *files],
                    cwd=repo,
                ),
                None,
            ),
        ],
        settings,
        warmup=True,
    )
    log(f"{FAMILY}: check: nbkit {ours.shown()}, floor {floor.shown()}")
    return Row(
        FAMILY,
        f"{case}, once clean, check: nbkit clean --check (cold cache) vs floor",
        ours,
        floor,
        FLOOR_TARGET,
        exit_note(ours, floor),
    )
