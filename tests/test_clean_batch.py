"""Cleaning many notebooks at once: worker processes, writes behind, what is fsynced, and
what a file with nothing to clean keeps."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit import clean as cleaning
from nbkit import notebook
from nbkit.cache import Caches
from nbkit.config import CleanPolicy
from nbkit.fsutil import WriteBehind
from tests.conftest import commit_all, make_nb, read_nb, write_nb
from tests.test_clean import DIRTY


def _batch(repo: Path, count: int) -> list[Path]:
    """Dirty, clean and broken notebooks, interleaved."""
    paths = []
    for index in range(count):
        path = repo / f"d{index % 3}" / f"nb{index:03d}.ipynb"
        if index % 7 == 3:
            path.parent.mkdir(exist_ok=True)
            path.write_text('{"cells": [')
        else:
            nb = json.loads(json.dumps(DIRTY))
            nb["cells"][0]["source"] = f"lr = {index}"  # each file its own content
            write_nb(path, nb if index % 2 else cleaning.clean_notebook(nb))
        paths.append(path)
    return paths


def test_worker_processes_give_what_one_process_gives(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial_repo, pooled_repo = repo / "serial", repo / "pooled"
    serial, pooled = _batch(serial_repo, 30), _batch(pooled_repo, 30)
    commit_all(repo)
    monkeypatch.setattr(cleaning, "POOL_MIN_FILES", 1)
    monkeypatch.setattr(cleaning, "_workers", lambda: 1)
    one = cleaning.clean_files(serial, CleanPolicy(), check=False, caches=Caches())
    monkeypatch.setattr(cleaning, "_workers", lambda: 2)
    caches = Caches()
    many = cleaning.clean_files(pooled, CleanPolicy(), check=False, caches=caches)
    shown = [(Path(o.path).name, o.changed, str(o.error).split(": ", 1)[-1]) for o in many]
    assert shown == [(Path(o.path).name, o.changed, str(o.error).split(": ", 1)[-1]) for o in one]
    assert [p.read_bytes() for p in pooled] == [p.read_bytes() for p in serial]
    assert sum(o.changed for o in many) == 13 and sum(o.error is not None for o in many) == 4
    # The workers' cache entries reach the parent's cache: a second run reads nothing new.
    caches.save()
    recorded = json.loads((repo / ".git" / "nbkit-cache.json").read_text())
    assert len(recorded["clean"]) == 26  # every readable notebook, clean now
    again = cleaning.clean_files(pooled, CleanPolicy(), check=True, caches=Caches())
    assert not any(o.changed for o in again)


def test_a_notebook_with_nothing_to_clean_keeps_its_bytes(
    repo: Path, cli: Callable[..., Any]
) -> None:
    """Cleaning changes content, not formatting: a clean notebook saved by another tool (here
    with two-space indent, keys unsorted) is neither rewritten nor reported by --check."""
    nb = cleaning.clean_notebook(DIRTY)
    path = repo / "other-tool.ipynb"
    path.write_text(json.dumps(nb, indent=2) + "\n")
    before = path.read_bytes()
    assert cli("clean", "--check", path).code == 0
    assert cli("clean", path).code == 0
    assert path.read_bytes() == before
    write_nb(path, DIRTY)
    assert cli("clean", path).code == 0  # something to clean: written the way nbformat does
    assert path.read_text() == notebook.dumps(nb)


def test_notebooks_are_fsynced_before_rename_and_the_cache_is_not(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook is the user's data: its new bytes reach the disk before the rename that
    replaces the old ones. The cache can be rebuilt: no fsync."""
    paths = [write_nb(repo / f"nb{i}.ipynb", DIRTY) for i in range(5)]
    synced: list[str] = []
    real_fsync = os.fsync

    def watching_fsync(fd: int) -> None:  # the real fsync, and which file it was for
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watching_fsync)
    caches = Caches()
    outcomes = cleaning.clean_files(paths, CleanPolicy(), check=False, caches=caches)
    caches.save()
    assert all(o.changed for o in outcomes)
    assert (repo / ".git" / "nbkit-cache.json").is_file()
    names = sorted(Path(p).name.split(".")[1] for p in synced)
    assert names == sorted(p.stem for p in paths), synced  # one per notebook, none for the cache


def test_a_failed_write_is_reported_for_its_file_and_the_others_are_written(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, cli: Callable[..., Any]
) -> None:
    outside = write_nb(tmp_path_factory.mktemp("outside") / "theirs.ipynb", DIRTY)
    first, last = write_nb(repo / "a.ipynb", DIRTY), write_nb(repo / "c.ipynb", DIRTY)
    link = repo / "b.ipynb"
    link.symlink_to(outside)
    result = cli("clean", first, link, last)
    assert result.code == 2
    assert [line for line in result.err.splitlines() if "refusing to write" in line] == [
        line for line in result.err.splitlines() if "b.ipynb" in line
    ]
    assert read_nb(first)["cells"][1]["outputs"] == [] == read_nb(last)["cells"][1]["outputs"]
    assert read_nb(outside)["cells"][1]["outputs"] != []  # never written through the link


def test_write_behind_keeps_each_failure_with_its_path(tmp_path: Path) -> None:
    writer = WriteBehind()
    good = tmp_path / "good.ipynb"
    missing_folder = tmp_path / "no" / "such" / "folder.ipynb"
    writer(good, b"{}\n")
    writer(missing_folder, b"{}\n")
    failed = writer.close()
    assert good.read_bytes() == b"{}\n"
    assert list(failed) == [missing_folder] and "cannot write" in str(failed[missing_folder])


def test_a_batch_of_one_policy_cleans_like_one_file(repo: Path) -> None:
    nb = make_nb(("markdown", "text"), {"cell_type": "code", "source": "x", "execution_count": 9})
    path = write_nb(repo / "one.ipynb", nb)
    [outcome] = cleaning.clean_files([path], CleanPolicy(), check=True, caches=Caches())
    assert outcome.changed and outcome.error is None
    assert read_nb(path)["cells"][1]["execution_count"] == 9  # a check writes nothing
