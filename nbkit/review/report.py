"""Which notebooks changed between two sides, and their diffs, as one ``Report``.

Sides are two files, or git's: a revision, the index, the working tree. A notebook and its
paired script changed together are reported once (the script is named on the notebook's
entry); a paired script changed alone gets a note, since the pair is then out of step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from nbkit import git, notebook
from nbkit.clean import clean_notebook
from nbkit.errors import BadInput, with_hint
from nbkit.pairing import paths
from nbkit.pairing.languages import LANGUAGES
from nbkit.review.diff import DiffSettings, NotebookDiff, Report, diff_notebooks
from nbkit.review.outputs import PixelBudget
from nbkit.review.sides import (
    INDEX,
    WORKTREE,
    FileChange,
    Side,
    changed_files,
    clean_filtered,
    existing,
    parse_range,
    read_files,
    resolve,
)

# The formats the project declares for a file, by its absolute path (``paths.formats_resolver``
# reads them as pairing does); a formats string stands for the same formats everywhere.
FormatsOf = Callable[[Path], str]
_DEFAULT_FORMATS = "ipynb,py:percent"


def _formats_of(formats: str | FormatsOf) -> FormatsOf:
    return formats if callable(formats) else lambda _path: formats


def _load_file(path: Path, label: str) -> notebook.Notebook:
    try:
        return notebook.loads(notebook.read_bytes(path), label)
    except BadInput as exc:
        if path.suffix != ".ipynb":
            raise BadInput(f"not a notebook ({exc.message})", label) from None
        raise


def diff_files(
    old: Path, new: Path, settings: DiffSettings, labels: tuple[str, str] | None = None
) -> Report:
    """Two notebook files on disk (``labels``: the names to show, default the paths)."""
    a_label, b_label = labels or (str(old), str(new))
    a, b = _load_file(old, a_label), _load_file(new, b_label)
    nb = diff_notebooks(a, b, b_label, old_path=a_label, settings=settings)
    if nb.status == "renamed":  # two different files are compared, not a rename
        nb = NotebookDiff(nb.path, nb.old_path, "unchanged", (), (), nb.unchanged)
    return Report(a_label, b_label, (nb,))


def sides(root: Path, revs: Sequence[str], cached: bool) -> tuple[Side, Side]:
    """git diff's meaning of 0, 1 or 2 revisions (and of ``A..B`` / ``A...B``)."""
    if len(revs) > 2:
        raise BadInput("at most two revisions", " ".join(revs))
    if len(revs) == 2:
        return resolve(root, revs[0]), resolve(root, revs[1])
    if len(revs) == 1 and ".." in revs[0]:
        return parse_range(root, revs[0])
    if len(revs) == 1:
        return resolve(root, revs[0]), (INDEX if cached else WORKTREE)
    return (resolve(root, "HEAD"), INDEX) if cached else (INDEX, WORKTREE)


def script_candidates(nb_path: str, formats: str) -> set[str]:
    """Paths a notebook's paired script may have: where ``formats`` puts it (a mirror folder
    such as ``notebooks///ipynb,scripts///py:percent`` included), and the same stem beside it."""
    p = PurePosixPath(nb_path)
    found = {str(p.with_suffix(ext)) for ext in paths.SCRIPT_EXTENSIONS}
    try:
        options = [formats]
        if paths.has_auto(formats):  # the notebook's language decides: any of them
            options = [paths.resolve_auto(formats, ext) for ext in LANGUAGES]
        paired = [paths.script_path(nb_path, option) for option in options]
    except BadInput:
        return found  # formats nbkit cannot pair: the stem beside it
    return found | {one[0] for one in paired if one}


def _label(side: Side, path: str) -> str:
    return path if side.kind == "worktree" else f"{side.label}:{path}"


def _parse(side: Side, contents: dict[str, bytes], path: str | None) -> notebook.Notebook | None:
    if path is None or path not in contents:
        return None
    return notebook.loads(contents[path], _label(side, path))


def diff_revisions(
    root: Path,
    old: Side,
    new: Side,
    pathspecs: Sequence[str],
    settings: DiffSettings,
    formats: str | FormatsOf = _DEFAULT_FORMATS,
) -> Report:
    """Every notebook that changed between the sides, paired scripts folded in."""
    changes = changed_files(root, old, new, pathspecs)
    nb_changes = [c for c in changes if (c.new_path or c.old_path or "").endswith(".ipynb")]
    scripts = {c.new_path or c.old_path or "": c for c in changes if c not in nb_changes}
    old_files = read_files(root, old, [c.old_path for c in nb_changes if c.old_path])
    new_files = read_files(root, new, [c.new_path for c in nb_changes if c.new_path])
    filtered = clean_filtered(root, new_files) if new.kind == "worktree" else set()
    budget = PixelBudget(settings.max_images)
    formats_of = _formats_of(formats)
    results: list[NotebookDiff] = []
    for change in nb_changes:
        a = _parse(old, old_files, change.old_path)
        b = _parse(new, new_files, change.new_path)
        if b is not None and change.new_path in filtered:
            b = clean_notebook(b, settings.clean_policy)
        path = change.new_path or change.old_path or ""
        own = paths.notebook_formats(b or a or {})
        wanted = script_candidates(path, own or formats_of(root / path))
        paired = tuple(sorted(s for s in scripts if s in wanted))
        for s in paired:
            scripts.pop(s)
        nb = diff_notebooks(a, b, path, old_path=change.old_path, settings=settings, budget=budget)
        results.append(_with_paired(nb, paired))
    notes = _lone_scripts(root, new, scripts, formats_of)
    return Report(old.label, new.label, tuple(results), notes)


def _with_paired(nb: NotebookDiff, paired: tuple[str, ...]) -> NotebookDiff:
    return dataclasses.replace(nb, paired=paired)


def _lone_scripts(
    root: Path, new: Side, scripts: dict[str, FileChange], formats_of: FormatsOf
) -> tuple[str, ...]:
    twins = {path: twin for path in sorted(scripts) if (twin := _twin(root, path, formats_of))}
    present = existing(root, new, twins.values())
    return tuple(
        with_hint(f"{path} changed but its paired notebook {twin} did not", f"nbkit sync {twin}")
        for path, twin in twins.items()
        if twin in present
    )


def _twin(root: Path, path: str, formats_of: FormatsOf) -> str | None:
    """The notebook the script at ``path`` may be paired with: where the declared formats
    put it (``scripts/a.R`` -> ``notebooks/a.ipynb``), else the same stem beside it."""
    suffix = PurePosixPath(path).suffix
    if suffix not in paths.JUPYTEXT_EXTENSIONS or suffix == ".ipynb":
        return None
    try:
        declared = paths.notebook_path(path, formats_of(root / path))
    except BadInput:  # formats nbkit cannot pair: the stem beside it
        declared = None
    if declared is None and suffix in paths.SCRIPT_EXTENSIONS:
        return str(PurePosixPath(path).with_suffix(".ipynb"))
    return declared


def _toplevel(cwd: Path) -> Path:
    root = git.toplevel(cwd)
    if root is None:
        raise BadInput(
            "not inside a git repository, so there are no revisions to compare",
            cwd,
            hint="compare two files with: nbkit diff A.ipynb B.ipynb",
        )
    return root


def review_range(
    cwd: Path,
    spec: str,
    paths: Sequence[str],
    settings: DiffSettings,
    formats: str | FormatsOf = _DEFAULT_FORMATS,
) -> Report:
    """``BASE...HEAD`` (what a pull request shows), ``BASE..HEAD`` or ``BASE``; ``paths``
    are relative to ``cwd``."""
    root = _toplevel(cwd)
    old, new = parse_range(root, spec)
    specs = [git.relpath(root, cwd / p) for p in paths]
    return diff_revisions(root, old, new, specs, settings, formats)


def _split_args(root: Path, cwd: Path, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """git's rule: leading revisions, then paths; a word that is neither is an error."""
    revs: list[str] = []
    paths: list[str] = []
    for arg in args:
        if paths or (cwd / arg).exists():
            if not (cwd / arg).exists():
                raise BadInput("no such file", arg)
            paths.append(arg)
        elif arg.endswith(".ipynb"):
            raise BadInput("no such file", arg)
        else:
            resolve(root, arg.split("..")[0] or "HEAD")  # fails early, naming the word
            revs.append(arg)
    return revs, paths


def compare(
    cwd: Path,
    args: Sequence[str],
    paths: Sequence[str],
    *,
    cached: bool,
    settings: DiffSettings,
    formats: str | FormatsOf = _DEFAULT_FORMATS,
) -> Report:
    """``nbkit diff``'s arguments: two files, or revisions and paths as ``git diff`` takes."""
    if len(args) == 2 and not paths and not cached and all((cwd / a).is_file() for a in args):
        return diff_files(cwd / args[0], cwd / args[1], settings, labels=(args[0], args[1]))
    missing = [a for a in args if a.endswith(".ipynb") and not (cwd / a).exists()]
    if missing and git.toplevel(cwd) is None:
        raise BadInput("no such file", missing[0])
    root = _toplevel(cwd)
    revs, arg_paths = _split_args(root, cwd, args)
    for p in (*arg_paths, *paths):
        if p.endswith(".ipynb") and (cwd / p).is_dir():
            raise BadInput("is a directory, not a notebook", p)
        if (cwd / p).is_file() and not p.endswith(".ipynb"):
            raise BadInput(
                "not a notebook (.ipynb)",
                p,
                hint="nbkit diff shows notebooks; use git diff for other files",
            )
    old, new = sides(root, revs, cached)
    specs = [git.relpath(root, cwd / p) for p in (*arg_paths, *paths)]
    return diff_revisions(root, old, new, specs, settings, formats)
