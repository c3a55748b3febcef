"""nbkit init: scaffold from the shipped templates, never overwrite, say what was skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from nbkit import __version__, config
from nbkit.hooks import origin
from nbkit.hooks.init import init
from tests.conftest import REPO_ROOT, assert_one_line_error, git

CREATED = (
    "nbkit.toml",
    ".pre-commit-config.yaml",
    ".gitattributes",
    "notebooks/experiment.ipynb",
    ".github/workflows/nbkit-review.yml",
)


def files(root: Path) -> dict[str, bytes]:
    """Every file outside .git, with its bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".git/"):
            found[rel] = path.read_bytes()
    return found


def test_init_scaffolds_a_fresh_repo(repo: Path, cli: Callable[..., Any]) -> None:
    result = cli("init")
    assert result.code == 0, result.err
    for rel in CREATED:
        assert (repo / rel).is_file(), rel
        assert f"{rel}: created" in result.out

    cfg = config.load(repo)
    assert cfg.source == repo / "nbkit.toml"
    assert cfg.formats == "ipynb,auto:percent" and cfg.raw["auto_pair"] is True

    pre_commit = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    hook_ids = {h["id"] for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}
    (entry,) = pre_commit["repos"]
    # the dev install is an editable checkout: the hooks come from its HEAD commit
    assert entry["repo"] == str(REPO_ROOT) and entry["rev"] == git(REPO_ROOT, "rev-parse", "HEAD").strip()
    assert {h["id"] for h in entry["hooks"]} <= hook_ids
    assert "pre-commit install" in result.out and "nbkit-git[hooks]" in result.out

    assert git(repo, "check-attr", "merge", "--", "x.ipynb") == "x.ipynb: merge: nbkit\n"
    assert "@NBKIT_VERSION@" not in (repo / ".github/workflows/nbkit-review.yml").read_text()


def test_experiment_template_states_the_experiment(repo: Path, cli: Callable[..., Any]) -> None:
    assert cli("init").code == 0
    path = repo / "notebooks" / "experiment.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    header = nb.cells[0]
    assert header.cell_type == "markdown"
    for needle in ("Objective", "Hypothesis", "Success metric"):
        assert needle in header.source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert any("nbkit.record(" in c.source for c in nb.cells if c.cell_type == "code")
    assert cli("clean", "--check", path).code == 0  # shipped clean and canonical


def test_scaffolded_repo_passes_its_own_hook_after_one_add(
    repo: Path, cli: Callable[..., Any]
) -> None:
    assert cli("init").code == 0
    first = cli("hook", "nbkit", "notebooks/experiment.ipynb")
    assert first.code == 1 and "notebooks/experiment.py" in first.err
    git(repo, "add", "-A")
    assert cli("hook", "nbkit", "notebooks/experiment.ipynb", "notebooks/experiment.py").code == 0


def test_init_never_overwrites_and_names_what_it_skipped(
    repo: Path, cli: Callable[..., Any]
) -> None:
    (repo / ".gitattributes").write_text("*.csv text\n")
    assert cli("init").code == 0
    before = files(repo)
    assert before[".gitattributes"] == b"*.csv text\n"
    again = cli("init")
    assert again.code == 0
    for rel in CREATED:
        if rel != ".pre-commit-config.yaml":
            assert f"{rel}: skipped (exists)" in again.out
    assert ".pre-commit-config.yaml: skipped (already runs nbkit's hook)" in again.out
    assert files(repo) == before


def test_init_appends_to_pyproject_without_nbkit_table(repo: Path, cli: Callable[..., Any]) -> None:
    original = '[project]\nname = "demo"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 88'
    (repo / "pyproject.toml").write_text(original)  # no final newline
    result = cli("init")
    assert result.code == 0 and "pyproject.toml: added [tool.nbkit]" in result.out
    text = (repo / "pyproject.toml").read_text()
    assert text.startswith(original + "\n")
    doc = tomllib.loads(text)
    assert doc["project"]["name"] == "demo" and doc["tool"]["ruff"]["line-length"] == 88
    assert doc["tool"]["nbkit"]["clean"]["keep_output"] == "none"
    assert not (repo / "nbkit.toml").exists()
    assert config.load(repo).source == repo / "pyproject.toml"


def test_init_keeps_an_existing_nbkit_table(repo: Path, cli: Callable[..., Any]) -> None:
    original = b'[project]\nname = "demo"\n\n[tool.nbkit]\nformats = "ipynb,md:myst"\n'
    (repo / "pyproject.toml").write_bytes(original)
    result = cli("init")
    assert result.code == 0
    assert "pyproject.toml: skipped (already has [tool.nbkit])" in result.out
    assert (repo / "pyproject.toml").read_bytes() == original
    assert not (repo / "nbkit.toml").exists()


def test_init_refuses_an_invalid_pyproject_and_writes_nothing(
    repo: Path, cli: Callable[..., Any]
) -> None:
    (repo / "pyproject.toml").write_text("[project\nname = 1\n")
    result = cli("init")
    assert result.code == 2
    assert_one_line_error(result.err, "pyproject.toml", "invalid TOML")
    assert sorted(files(repo)) == ["pyproject.toml"]


def test_init_into_a_missing_folder_is_bad_input(tmp_path: Path, cli: Callable[..., Any]) -> None:
    result = cli("init", tmp_path / "nope")
    assert result.code == 2
    assert_one_line_error(result.err, "nope", "no such folder")
    assert not (tmp_path / "nope").exists()


def _checkout(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "nbkit-clone"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    (folder / ".pre-commit-hooks.yaml").write_text((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "hooks")
    return folder, git(folder, "rev-parse", "HEAD").strip()


def test_origin_from_pep_610_metadata(tmp_path: Path) -> None:
    folder, sha = _checkout(tmp_path)
    vcs = {"url": "https://example.invalid/team/nbkit.git", "vcs_info": {"vcs": "git", "commit_id": "ab" * 20}}
    assert origin.from_direct_url(json.dumps(vcs)) == origin.Origin("vcs", vcs["url"], "ab" * 20)
    for editable in (True, False):
        local = {"url": folder.as_uri(), "dir_info": {"editable": editable}}
        assert origin.from_direct_url(json.dumps(local)) == origin.Origin("checkout", str(folder), sha)
    plain = tmp_path / "not-git"
    plain.mkdir()
    assert origin.from_direct_url(json.dumps({"url": plain.as_uri(), "dir_info": {}})).kind == "installed"
    wheel = {"url": (tmp_path / "nbkit_git-0.1.0-py3-none-any.whl").as_uri(), "archive_info": {}}
    assert origin.from_direct_url(json.dumps(wheel)).kind == "installed"
    assert origin.from_direct_url(None).kind == "index"
    assert origin.from_direct_url("not json").kind == "installed"


def _manifest_hook() -> dict[str, Any]:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "nbkit"]
    return dict(hook)


@pytest.mark.parametrize("kind", ["vcs", "checkout", "index", "installed"])
def test_init_writes_a_valid_config_for_each_origin(repo: Path, tmp_path: Path, kind: str) -> None:
    folder, sha = _checkout(tmp_path)
    given = {
        "vcs": origin.Origin("vcs", "https://example.invalid/team/nbkit.git", sha),
        "checkout": origin.Origin("checkout", str(folder), sha),
        "index": origin.Origin("index"),
        "installed": origin.Origin("installed"),
    }[kind]
    init(repo, given)
    text = (repo / ".pre-commit-config.yaml").read_text()
    assert "@NBKIT" not in text
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=repo, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + text
    (entry,) = yaml.safe_load(text)["repos"]
    workflow = (repo / ".github/workflows/nbkit-review.yml").read_text()
    assert "@NBKIT" not in workflow and "nbkit/nbkit@" not in workflow
    if kind in ("vcs", "checkout"):
        assert (entry["repo"], entry["rev"]) == (given.repo, sha)
        assert [h["id"] for h in entry["hooks"]] == ["nbkit"]
        return
    (hook,) = entry["hooks"]
    manifest = _manifest_hook()
    assert entry["repo"] == "local"
    for key in ("id", "name", "types_or", "require_serial"):
        assert hook[key] == manifest[key], key
    if kind == "index":  # the published form: pre-commit installs the pinned distribution
        assert hook["language"] == "python" and hook["entry"] == manifest["entry"]
        assert hook["additional_dependencies"] == [f"nbkit-git=={__version__}"]
        assert yaml.safe_load(workflow)["jobs"]["review"]["steps"][-1]["uses"] == "OWNER/REPOSITORY@REF"
    else:
        assert hook["language"] == "system"
        assert hook["entry"] == f"{sys.executable} -m {manifest['entry']}"


def test_review_action_is_the_github_repository_nbkit_came_from() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    github = origin.Origin("vcs", "https://github.com/team/nbkit-fork.git", sha)
    assert origin.action_ref(github) == f"team/nbkit-fork@{sha}"
    elsewhere = origin.Origin("vcs", "https://example.invalid/team/nbkit.git", sha)
    assert origin.action_ref(elsewhere) == origin.UNKNOWN_ACTION
    assert origin.action_ref(origin.Origin("index")) == origin.UNKNOWN_ACTION


USER_CONFIG = """\
# my project's hooks: keep this comment
default_stages: [pre-commit]
repos:
- repo: local   # formatter first
  hooks:
  - id: ruff-format
    name: ruff format
    entry: ruff format
    language: python
    additional_dependencies: ["ruff==0.6.9"]
    types: [python]

# after the repos
fail_fast: false
"""


def _added(before: bytes, after: bytes) -> bytes:
    """The one run of bytes inserted into ``before`` to give ``after`` (asserts there is one)."""
    prefix = 0
    while prefix < len(before) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = len(before) - prefix
    assert after[len(after) - suffix :] == before[prefix:], "more than one insertion"
    return after[prefix : len(after) - suffix]


def test_init_adds_its_hook_to_an_existing_pre_commit_config(
    repo: Path, cli: Callable[..., Any]
) -> None:
    path = repo / ".pre-commit-config.yaml"
    path.write_text(USER_CONFIG)
    before = path.read_bytes()
    result = cli("init")
    assert result.code == 0, result.err
    assert ".pre-commit-config.yaml: added nbkit's hook" in result.out
    after = path.read_bytes()
    added = _added(before, after)
    assert added.startswith(b"- repo: ") and b"# after the repos" not in added  # indented as theirs
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    assert new == {**old, "repos": [*old["repos"], new["repos"][-1]]}
    assert [h["id"] for h in new["repos"][-1]["hooks"]] == ["nbkit"]
    again = cli("init")
    assert again.code == 0 and "skipped (already runs nbkit's hook)" in again.out
    assert path.read_bytes() == after


def test_init_adds_its_hook_after_the_last_indented_repo(repo: Path) -> None:
    path = repo / ".pre-commit-config.yaml"
    path.write_bytes(b"repos:\r\n    - repo: local\r\n      hooks: []\r\nci:\r\n  skip: []")
    init(repo, origin.Origin("index"))
    after = path.read_bytes()
    added = _added(b"repos:\r\n    - repo: local\r\n      hooks: []\r\n", after.split(b"ci:")[0])
    assert added.startswith(b"    - repo: local\r\n      hooks:\r\n") and b"\n" not in added.replace(b"\r\n", b"")
    assert after.endswith(b"ci:\r\n  skip: []")
    assert [r["repo"] for r in yaml.safe_load(after)["repos"]] == ["local", "local"]


@pytest.mark.parametrize(
    "text", ["repos: []\n", "repos:\n  - repo: local\n    hooks: [\n", "- just a list\n"]
)
def test_init_says_what_to_add_to_a_pre_commit_config_it_cannot_edit(
    repo: Path, cli: Callable[..., Any], text: str
) -> None:
    (repo / ".pre-commit-config.yaml").write_text(text)
    result = cli("init")
    assert result.code == 2
    assert_one_line_error(result.err, ".pre-commit-config.yaml", "not changed")
    assert '"id": "nbkit"' in result.err and "repos:" in result.err
    assert files(repo) == {".pre-commit-config.yaml": text.encode()}  # nothing written


@pytest.mark.slow  # runs the real pre-commit
def test_hook_added_to_an_existing_config_runs_on_commit(repo: Path, tmp_path: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(
        "# the team's hooks\nrepos:\n  - repo: local\n    hooks:\n      - id: nothing\n"
        "        name: nothing\n        entry: 'true'\n        language: system\n"
    )
    init(repo, origin.Origin("installed"))
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo, capture_output=True, text=True, env=env, check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    git(repo, "add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "init"], cwd=repo, capture_output=True, text=True, env=env, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "notebooks/experiment.py" in output, output  # nbkit paired it
    assert (repo / "notebooks" / "experiment.py").is_file()


@pytest.mark.parametrize("where", ["jupytext.toml", "pyproject.toml"])
def test_init_follows_an_existing_jupytext_pairing(
    repo: Path, cli: Callable[..., Any], where: str
) -> None:
    declared = 'formats = "ipynb,md:myst"\n'
    if where == "jupytext.toml":
        (repo / "jupytext.toml").write_text(declared)
    else:
        (repo / "pyproject.toml").write_text(f'[project]\nname = "demo"\n\n[tool.jupytext]\n{declared}')
    result = cli("init")
    assert result.code == 0, result.err
    assert "pairing follows jupytext's config" in result.out and where in result.out
    cfg = config.load(repo)
    assert "formats" not in cfg.raw  # jupytext's formats are not overridden
    assert cli("sync", "notebooks/experiment.ipynb").code == 0
    assert (repo / "notebooks" / "experiment.md").is_file()
    assert not (repo / "notebooks" / "experiment.py").exists()


def test_init_says_to_fill_in_the_review_action_placeholder(repo: Path, tmp_path: Path) -> None:
    steps = {step.path: step.action for step in init(repo, origin.Origin("index"))}
    action = steps[".github/workflows/nbkit-review.yml"]
    assert action.startswith("created; fill in OWNER/REPOSITORY@REF") and "\n" not in action
    github = origin.Origin("vcs", "https://github.com/team/nbkit.git", "ab" * 20)
    other = tmp_path / "other"
    other.mkdir()
    steps = {step.path: step.action for step in init(other, github)}
    assert steps[".github/workflows/nbkit-review.yml"] == "created"


def test_init_with_an_unreadable_jupytext_config_writes_nothing(
    repo: Path, cli: Callable[..., Any]
) -> None:
    (repo / "jupytext.toml").write_text('formats = "ipynb,nosuch:format"\n')
    (repo / ".pre-commit-config.yaml").write_text(USER_CONFIG)
    before = files(repo)
    result = cli("init")
    assert result.code == 2 and "jupytext.toml" in result.err and "Traceback" not in result.err
    assert files(repo) == before
