"""Where this nbkit was installed from, and the pre-commit hooks that install the same nbkit.

``nbkit init`` writes a ``.pre-commit-config.yaml`` that must install and pass on a fresh
machine that reaches nothing but the package index, so it names what is really there: the
installed distribution's PEP 610 ``direct_url.json`` says whether it came from a git URL at a
commit, a local folder (a checkout, whose HEAD commit pre-commit can clone), a file (wheel or
sdist) or the package index (no ``direct_url.json``).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlparse

from nbkit import DISTRIBUTION, __version__
from nbkit.git import toplevel

# The fields of the `nbkit` hook in .pre-commit-hooks.yaml a `repo: local` entry repeats
# (a test keeps them equal to the manifest).
HOOK_ID = "nbkit"
HOOK_NAME = "nbkit (pair, sync, clean and validate notebooks)"
HOOK_ARGS = "hook nbkit"
# pre-commit's file types (identify's tags) of notebooks and of the scripts jupytext pairs
# them with: an edit of an R or Julia script alone must reach the hook too.
HOOK_TYPES = (
    "[jupyter, python, markdown, r, julia, shell, c++, go, rust, scala, powershell, java,"
    " javascript, ts, quarto]"
)


class Origin(NamedTuple):
    """How nbkit got here: ``vcs`` and ``checkout`` carry a repo and a commit for pre-commit;
    ``index`` is the published form; ``installed`` (a wheel, an sdist, a folder outside git)
    can only be called where it is."""

    kind: str  # "vcs" | "checkout" | "index" | "installed"
    repo: str = ""
    rev: str = ""


def _head(folder: Path) -> str | None:
    """The HEAD commit of the checkout ``folder`` when pre-commit can clone it, else None."""
    top = toplevel(folder)
    if top is None or top.resolve() != folder.resolve():
        return None
    if not (folder / ".pre-commit-hooks.yaml").is_file():
        return None
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and sha else None


def _file_path(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def from_direct_url(text: str | None) -> Origin:
    """The origin a ``direct_url.json`` text describes (None: installed from an index)."""
    if text is None:
        return Origin("index")
    try:
        data = json.loads(text)
    except ValueError:
        return Origin("installed")
    if not isinstance(data, dict):
        return Origin("installed")
    url = str(data.get("url", ""))
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and not data.get("subdirectory"):
        commit = vcs.get("commit_id")
        if vcs.get("vcs") == "git" and isinstance(commit, str) and commit and url:
            return Origin("vcs", url, commit)
    if isinstance(data.get("dir_info"), dict) and not data.get("subdirectory"):
        folder = _file_path(url)
        sha = _head(folder) if folder is not None and folder.is_dir() else None
        if folder is not None and sha:
            return Origin("checkout", str(folder), sha)
    return Origin("installed")


def install_origin() -> Origin:
    """Where the running nbkit was installed from."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # imported from a folder, never installed
        folder = Path(__file__).resolve().parents[2]
        sha = _head(folder)
        return Origin("checkout", str(folder), sha) if sha else Origin("installed")
    return from_direct_url(dist.read_text("direct_url.json"))


def _quoted(text: str) -> str:
    """A YAML scalar for any text (a JSON string is a valid YAML double-quoted scalar)."""
    return json.dumps(text)


def hooks_yaml(origin: Origin) -> str:
    """The ``repos:`` entries of .pre-commit-config.yaml for ``origin``."""
    if origin.kind in ("vcs", "checkout"):
        return (
            f"  - repo: {_quoted(origin.repo)}\n"
            f"    rev: {origin.rev}\n"
            "    hooks:\n"
            "      # pair, sync, clean and validate notebooks in one pass\n"
            f"      - id: {HOOK_ID}\n"
        )
    if origin.kind == "index":  # the published form: pre-commit installs it from the index
        entry = f"nbkit {HOOK_ARGS}"
        how = (
            "        language: python\n"
            f'        additional_dependencies: ["{DISTRIBUTION}=={__version__}"]\n'
        )
    else:  # the nbkit installed on this machine, called by its interpreter's absolute path
        entry = f"{shlex.quote(sys.executable)} -m nbkit {HOOK_ARGS}"
        how = "        language: system\n"
    return (
        "  - repo: local\n"
        "    hooks:\n"
        f"      - id: {HOOK_ID}\n"
        f"        name: {_quoted(HOOK_NAME)}\n"
        f"        entry: {_quoted(entry)}\n"
        f"{how}"
        f"        types_or: {HOOK_TYPES}\n"
        "        require_serial: true\n"
    )


def describe(origin: Origin) -> str:
    """One line for the config's header and init's output."""
    if origin.kind == "vcs":
        return f"the git repository {origin.repo} at {origin.rev[:12]}"
    if origin.kind == "checkout":
        return f"the checkout {origin.repo} at its HEAD {origin.rev[:12]}"
    if origin.kind == "index":
        return f"the package index: pre-commit installs {DISTRIBUTION}=={__version__}"
    return f"this machine's nbkit ({sys.executable}); it works only where that interpreter is"


# Written when nbkit was not installed from a GitHub repository: a GitHub workflow can only
# name an action by owner/repository, and nbkit/nbkit belongs to someone else, so the line
# must be edited (init says so) rather than resolve to another project.
UNKNOWN_ACTION = "OWNER/REPOSITORY@REF"


def action_ref(origin: Origin) -> str:
    """The review action's ``uses:`` for the nbkit that runs: the GitHub repository and
    commit it was installed from, else ``UNKNOWN_ACTION`` for the user to fill in."""
    if origin.kind == "vcs":
        parsed = urlparse(origin.repo.removeprefix("git+"))
        parts = parsed.path.strip("/").removesuffix(".git").split("/")
        if parsed.hostname == "github.com" and len(parts) == 2 and all(parts):
            return f"{parts[0]}/{parts[1]}@{origin.rev}"
    return UNKNOWN_ACTION


def review_requirement(origin: Origin) -> str:
    """What the review workflow installs: the same commit when there is a public one."""
    if origin.kind == "vcs" and not origin.repo.startswith("file:"):
        return f"{DISTRIBUTION}[review] @ git+{origin.repo}@{origin.rev}"
    return f"{DISTRIBUTION}[review]=={__version__}"
