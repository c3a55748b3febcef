"""``nbkit init``: give a repository nbkit's config, hooks, attributes and an experiment template.

Every file comes from the shipped ``templates/`` (package data, see ``nbkit.resources``).
Nothing that exists is overwritten: such files are reported as skipped. Two existing files
are edited, each by appending text and checking the parsed result before it replaces the
original: ``[tool.nbkit]`` goes into a pyproject.toml that has none, and nbkit's hook into the
``repos:`` of an existing .pre-commit-config.yaml (else no nbkit hook would ever run).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import __version__, resources
from nbkit.errors import BadInput, NbkitError, shown
from nbkit.fsutil import atomic_write_bytes, detect_newline, make_folder
from nbkit.hooks.origin import (
    HOOK_ID,
    UNKNOWN_ACTION,
    Origin,
    action_ref,
    describe,
    hooks_yaml,
    install_origin,
    review_requirement,
)

CONFIG_TEMPLATE = "nbkit.toml"
# template name -> where it goes in the project
FILES: dict[str, str] = {
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
    "gitattributes": ".gitattributes",
    "experiment.ipynb": "notebooks/experiment.ipynb",
    "review-workflow.yml": ".github/workflows/nbkit-review.yml",
}


class InitStep(NamedTuple):
    path: str  # relative to the project root
    action: str  # "created", "added [tool.nbkit]", "skipped (...)"

    def __str__(self) -> str:
        return f"{self.path}: {self.action}"


def _render(name: str, origin: Origin) -> bytes:
    """A template with nbkit's version and install origin filled in."""
    values = {
        "@NBKIT_VERSION@": __version__,
        "@NBKIT_ORIGIN@": describe(origin),
        "@NBKIT_HOOK_REPOS@\n": hooks_yaml(origin),
        "@NBKIT_REVIEW_REQUIREMENT@": review_requirement(origin),
        "@NBKIT_ACTION@": action_ref(origin),
    }
    text = resources.read_text("templates", name)
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text.encode()


def _create(root: Path, rel: str, data: bytes) -> InitStep:
    target = root / rel
    if target.exists() or target.is_symlink():
        return InitStep(rel, "skipped (exists)")
    make_folder(target.parent, root)
    atomic_write_bytes(target, data, root=root)
    if target.read_bytes() != data:  # pragma: no cover - defensive read-back
        raise NbkitError("written file does not read back as written", target)
    return InitStep(rel, "created")


def _has_nbkit_table(data: bytes, path: Path) -> bool:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"invalid TOML, not changed: {exc}", path) from None
    tool = doc.get("tool", {})
    return isinstance(tool, dict) and "nbkit" in tool


def _add_to_pyproject(root: Path, template: bytes) -> InitStep:
    path = root / "pyproject.toml"
    original = path.read_bytes()
    if _has_nbkit_table(original, path):
        return InitStep("pyproject.toml", "skipped (already has [tool.nbkit])")
    newline = detect_newline(original)
    block = template.decode("utf-8").replace("\n", newline).encode("utf-8")
    separator = b"" if not original or original.endswith(b"\n") else newline.encode()
    updated = original + separator + newline.encode() + block
    if not _has_nbkit_table(updated, path):  # appending must yield valid TOML with the table
        raise BadInput("cannot add [tool.nbkit] without breaking the file; not changed", path)
    atomic_write_bytes(path, updated, root=root)
    return InitStep("pyproject.toml", "added [tool.nbkit]")


def _with_pipe(root: Path, template: bytes) -> tuple[bytes, str]:
    """The config with a ``pipe`` matching a formatter hook the project's existing
    .pre-commit-config.yaml runs (ruff-format, black), so the two hooks settle; else as is."""
    from nbkit.pairing.pipe import formatter_hooks

    found = formatter_hooks(root / ".pre-commit-config.yaml")
    marker = b"# The commit hook creates"
    if not found or marker not in template:
        return template, ""
    hook_id, command = found[0]
    lines = (
        f"# .pre-commit-config.yaml runs the {hook_id} hook: sync formats scripts the same way\n"
        "# (give nbkit's hook the formatter in additional_dependencies, same version).\n"
        f'pipe = ["{command}"]\n'
    )
    updated = template.replace(marker, lines.encode() + marker, 1)
    return updated, f" (pipe set for the {hook_id} hook)"


PRE_COMMIT = ".pre-commit-config.yaml"
_REPOS_KEY = re.compile(rb"^repos:[ \t]*(#[^\r\n]*)?\r?$", re.MULTILINE)
_ITEM = re.compile(rb"^([ \t]*)- ", re.MULTILINE)


def _yaml(data: bytes) -> Any:
    """The parsed document, or None when it cannot be parsed (or PyYAML is missing)."""
    try:
        import yaml
    except ImportError:
        return None
    try:
        return yaml.safe_load(data)
    except (yaml.YAMLError, UnicodeDecodeError):
        return None


def _has_nbkit_hook(doc: dict[str, Any]) -> bool:
    return any(
        isinstance(repo, dict)
        and any(isinstance(h, dict) and h.get("id") == HOOK_ID for h in repo.get("hooks") or [])
        for repo in doc.get("repos") or []
    )


def _with_hook_repo(original: bytes, entry: str) -> bytes | None:
    """``original`` with ``entry`` (a ``  - repo:`` item) appended, as text, at the end of
    its top-level ``repos:`` block, indented like the items there; None: no such block."""
    keys = list(_REPOS_KEY.finditer(original))
    if len(keys) != 1:
        return None
    newline = detect_newline(original).encode()
    start = original.find(b"\n", keys[0].end())
    start = len(original) if start < 0 else start + 1
    block_end, end = start, start
    for line in original[start:].splitlines(keepends=True):
        stripped = line.strip()
        if line[:1] not in (b" ", b"\t", b"-") and stripped and not stripped.startswith(b"#"):
            break  # the next top-level key
        end += len(line)
        if stripped and not stripped.startswith(b"#"):
            block_end = end
    item = _ITEM.search(original, start, block_end)
    indent = item.group(1).decode() if item else "  "
    lines = [indent + line.removeprefix("  ") for line in entry.splitlines()]
    text = newline.join(line.encode() for line in lines) + newline
    before = original[:block_end]
    if before and not before.endswith(b"\n"):
        before += newline
    return before + text + original[block_end:]


def _add_hook(root: Path, origin: Origin) -> InitStep:
    """Add nbkit's hook to an existing .pre-commit-config.yaml, keeping every other byte,
    or say exactly what to add when the file cannot be edited safely (nothing written)."""
    path = root / PRE_COMMIT
    original = path.read_bytes()
    entry = hooks_yaml(origin)
    doc = _yaml(original)
    if isinstance(doc, dict) and _has_nbkit_hook(doc):
        return InitStep(PRE_COMMIT, "skipped (already runs nbkit's hook)")
    updated = _with_hook_repo(original, entry) if isinstance(doc, dict) else None
    wanted = _yaml(b"repos:\n" + entry.encode())
    if updated is not None and isinstance(doc, dict) and isinstance(wanted, dict):
        repos = doc.get("repos") or []
        if isinstance(repos, list) and _yaml(updated) == {**doc, "repos": repos + wanted["repos"]}:
            atomic_write_bytes(path, updated, root=root)
            return InitStep(PRE_COMMIT, "added nbkit's hook")
    # JSON is YAML's flow style: the item on one line, exactly as it would be added
    one_line = (
        json.dumps(wanted["repos"][0])
        if isinstance(wanted, dict)
        else " ".join(line.strip() for line in entry.splitlines()).removeprefix("- ")
    )
    raise BadInput(
        "cannot add nbkit's hook to this file safely; not changed",
        path,
        hint=f"add this item to its `repos:` list (YAML): {one_line}",
    )


_FORMATS_BLOCK = re.compile(
    rb"# The text script each notebook pairs with.*?\nformats = [^\n]*\n", re.S
)


def _jupytext_config(root: Path) -> str | None:
    """The jupytext configuration that pairs notebooks in ``root``, as shown to the user
    (None: none, or one without formats). Found and read as jupytext does; a file jupytext
    cannot read is bad input, before init writes anything."""
    from nbkit.pairing import jupytext_config

    found = jupytext_config.find_file(root / "notebook.ipynb", root)
    if found is None or not jupytext_config.formats_groups(found):
        return None
    return shown(found) + (" [tool.jupytext]" if found.name == "pyproject.toml" else "")


def _without_formats(template: bytes, jupytext: str) -> bytes:
    """The config with no ``formats``: jupytext's configuration pairs, and nbkit follows it
    (a ``formats`` here would win over it, and nbkit and jupytext would disagree)."""
    note = f"# Pairing follows jupytext's configuration ({jupytext}): no formats here.\n"
    return _FORMATS_BLOCK.sub(note.encode(), template, count=1)


def _config(root: Path, origin: Origin, jupytext: str | None) -> InitStep:
    template, note = _with_pipe(root, _render(CONFIG_TEMPLATE, origin))
    if jupytext is not None:
        template = _without_formats(template, jupytext)
        note += f" (pairing follows jupytext's config: {jupytext})"
    if (root / "nbkit.toml").exists():
        return InitStep("nbkit.toml", "skipped (exists)")
    if (root / "pyproject.toml").is_file():
        step = _add_to_pyproject(root, template)
    else:
        step = _create(root, "nbkit.toml", template)
    return step if step.action.startswith("skipped") else step._replace(action=step.action + note)


def init(root: Path, origin: Origin | None = None) -> list[InitStep]:
    """Scaffold ``root``; returns what was created and what was skipped, one step per file.

    The hook configuration installs the nbkit that is running (``origin``: where it was
    installed from, read from its PEP 610 metadata unless given).
    """
    if not root.is_dir():
        raise BadInput("no such folder", root)
    origin = origin or install_origin()
    jupytext = _jupytext_config(root)  # read before any write: a bad one writes nothing
    hook = _add_hook(root, origin) if (root / PRE_COMMIT).is_file() else None
    steps = [_config(root, origin, jupytext)]
    for name, rel in FILES.items():
        if hook is not None and rel == PRE_COMMIT:
            steps.append(hook)
        elif resources.exists("templates", name):  # the CI workflow ships with the review part
            steps.append(_placeholder_named(_create(root, rel, _render(name, origin)), origin))
    return steps


def _placeholder_named(step: InitStep, origin: Origin) -> InitStep:
    """A review workflow written with ``UNKNOWN_ACTION``: say the line must be filled in,
    else the user commits a workflow that fails on its first pull request."""
    if step.path != FILES["review-workflow.yml"] or step.action != "created":
        return step
    if action_ref(origin) != UNKNOWN_ACTION:
        return step
    return step._replace(
        action=f"created; fill in {UNKNOWN_ACTION} in its `uses:` line (the GitHub repository"
        " and commit of nbkit's review action) before committing it"
    )
