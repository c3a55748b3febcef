"""Reviews where reviewers are: the GitHub Action, the workflow and GitLab CI templates, and
`nbkit comment` posting ONE comment per pull/merge request, updated on later pushes.

The forge's API is the one part outside this machine: a local HTTP server on 127.0.0.1
stands in for it, in GitHub's and GitLab's shapes. Everything else is real: git history,
`nbkit review`, `nbkit comment` in its own process, and the action's own shell scripts run
by bash with the environment GitHub Actions would give them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from nbkit import __version__
from nbkit.review.comments import MARKER
from tests.conftest import REPO_ROOT, commit_all, git, run_nbkit
from tests.review_helpers import code, md, notebook

TOKEN = "s3cret-token-value"


class FakeForge:
    """Comments of one pull request (GitHub) or merge request (GitLab), kept in memory."""

    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.next_id = 1000

    def add(self, body: str) -> dict[str, Any]:
        item = {
            "id": self.next_id,
            "body": body,
            "html_url": f"https://example.invalid/c/{self.next_id}",
        }
        self.next_id += 1
        self.comments.append(item)
        return item


@pytest.fixture
def forge() -> Iterator[tuple[FakeForge, str]]:
    state = FakeForge()
    # GitHub: /repos/o/r/issues/7/comments, /repos/o/r/issues/comments/ID
    # GitLab: /api/v4/projects/42/merge_requests/7/notes, .../notes/ID
    lists = re.compile(
        r"^(/repos/o/r/issues/7/comments|/api/v4/projects/42/merge_requests/7/notes)$"
    )
    items = re.compile(
        r"^(/repos/o/r/issues/comments|/api/v4/projects/42/merge_requests/7/notes)/(\d+)$"
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, code: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN") or ""
            if given not in (f"Bearer {TOKEN}", TOKEN):
                self._answer(401, {"message": "Bad credentials"})
                return False
            return True

        def _record(self) -> tuple[str, dict[str, str]]:
            url = urlsplit(self.path)
            state.requests.append((self.command, url.path, dict(self.headers)))
            return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

        def do_GET(self) -> None:
            path, query = self._record()
            if not self._authorized():
                return
            if not lists.match(path):
                return self._answer(404, {"message": "Not Found"})
            per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
            self._answer(200, state.comments[(page - 1) * per_page : page * per_page])

        def _body(self) -> str:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            return str(data["body"])

        def do_POST(self) -> None:
            path, _ = self._record()
            if not self._authorized():
                return
            if not lists.match(path):
                return self._answer(404, {"message": "Not Found"})
            self._answer(201, state.add(self._body()))

        def _update(self) -> None:
            path, _ = self._record()
            if not self._authorized():
                return
            match = items.match(path)
            found = [c for c in state.comments if match and c["id"] == int(match.group(2))]
            if not found:
                return self._answer(404, {"message": "Not Found"})
            found[0]["body"] = self._body()
            self._answer(200, found[0])

        do_PATCH = _update
        do_PUT = _update

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _github_env(tmp_path: Path, api: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"pull_request": {"number": 7, "base": {"ref": "main"}, "head": {"ref": "f"}}})
    )
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_API_URL": api,
        "GITHUB_TOKEN": TOKEN,
    }


def _gitlab_env(api: str) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"{api}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "NBKIT_GITLAB_TOKEN": TOKEN,
    }


def _ours(state: FakeForge) -> list[dict[str, Any]]:
    return [c for c in state.comments if c["body"].startswith(MARKER)]


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_comment_is_created_then_updated_never_duplicated(
    kind: str, forge: tuple[FakeForge, str], tmp_path: Path
) -> None:
    state, api = forge
    for k in range(100):  # a busy thread: ours will land on the second page
        state.add(f"human comment {k}" + (f" quoting {MARKER}" if k == 5 else ""))
    env = _github_env(tmp_path, api) if kind == "github" else _gitlab_env(api)
    report = tmp_path / "review.md"
    report.write_text("## Notebook review\n\nfirst push\n")
    first = run_nbkit("comment", report, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "created the review comment" in first.stderr
    report.write_text("## Notebook review\n\nsecond push\n")
    second = run_nbkit("comment", report, cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "updated the review comment" in second.stderr
    ours = _ours(state)
    assert len(ours) == 1 and len(state.comments) == 101
    assert ours[0]["body"] == f"{MARKER}\n## Notebook review\n\nsecond push\n"
    methods = [m for m, _path, _h in state.requests if m != "GET"]
    assert methods == ["POST", "PATCH" if kind == "github" else "PUT"]
    assert TOKEN not in first.stderr + first.stdout + second.stderr + second.stdout


def test_comment_failures_are_one_line_with_a_hint(
    forge: tuple[FakeForge, str], tmp_path: Path
) -> None:
    _state, api = forge
    report = tmp_path / "review.md"
    report.write_text("x")
    bad_token = {**_github_env(tmp_path, api), "GITHUB_TOKEN": "wrong"}
    proc = run_nbkit("comment", report, cwd=tmp_path, env=bad_token)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "401" in proc.stderr and "hint:" in proc.stderr
    not_ci = {k: "" for k in ("GITHUB_ACTIONS", "GITLAB_CI")}
    proc = run_nbkit("comment", report, cwd=tmp_path, env=not_ci)
    assert proc.returncode == 2 and "--forge github|gitlab" in proc.stderr
    proc = run_nbkit("comment", tmp_path / "missing.md", cwd=tmp_path, env=bad_token)
    assert proc.returncode == 2 and "missing.md" in proc.stderr
    no_pr = _github_env(tmp_path, api)
    Path(no_pr["GITHUB_EVENT_PATH"]).write_text('{"push": {}}')
    proc = run_nbkit("comment", report, cwd=tmp_path, env=no_pr)
    assert proc.returncode == 2 and "not a pull request" in proc.stderr


# --- the action, run the way GitHub Actions runs its steps --------------------------------

_EXPR = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def _evaluate(value: str, context: dict[str, str]) -> str:
    """GitHub's ``${{ a.b.c }}`` for the plain lookups action.yml uses in env and with."""
    return _EXPR.sub(lambda m: context[m.group(1)], value)


def _condition(expression: str, context: dict[str, str]) -> bool:
    """GitHub's ``if:`` for the form action.yml uses: ``a == b && c != 'd'``."""

    def operand(text: str) -> str:
        text = text.strip()
        return text[1:-1] if text.startswith("'") else context[text]

    for clause in expression.split("&&"):
        lhs, op, rhs = re.split(r"\s*(==|!=)\s*", clause.strip())
        if (operand(lhs) == operand(rhs)) != (op == "=="):
            return False
    return True


def _outputs(path: Path, step: str) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {f"steps.{step}.outputs.{k}": v for k, v in pairs}


def _pr_clone(tmp_path: Path) -> Path:
    """A pull request's checkout: a clone with origin/main and a feature branch on top."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    (origin / "nb.ipynb").write_text(
        json.dumps(notebook(md("# Results", cid="m"), code("x = 1", cid="c")))
    )
    commit_all(origin, "base")
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "-b", "feature")
    (clone / "nb.ipynb").write_text(
        json.dumps(notebook(md("# Results, **final**", cid="m"), code("x = 2", cid="c")))
    )
    commit_all(clone, "feature")
    return clone


def _run_action(
    clone: Path, tmp_path: Path, api: str, inputs: dict[str, str], head_repo: str = "o/r"
) -> dict[str, str]:
    """Every `run` step of action.yml but the pip install (nbkit is this checkout), in order,
    with GitHub's environment; returns the evaluated context (step outputs included)."""
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    github_env = _github_env(tmp_path, api)
    context = {
        "github.token": TOKEN,
        "github.action_path": str(REPO_ROOT),
        "github.event.pull_request.base.ref": "main",
        "runner.temp": str(runner_temp),
        "github.repository": "o/r",
        "github.event.pull_request.head.repo.full_name": head_repo,  # "o/r": not a fork
    }
    for name, spec in action["inputs"].items():  # defaults are expressions too
        context[f"inputs.{name}"] = _evaluate(str(spec.get("default", "")), context)
    context.update({f"inputs.{k}": v for k, v in inputs.items()})
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    for step in action["runs"]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        if "if" in step and not _condition(step["if"], context):
            continue
        output = tmp_path / f"output-{step['id']}"
        output.unlink(missing_ok=True)
        env = {
            **os.environ,
            **github_env,
            "PATH": path,
            "GITHUB_OUTPUT": str(output),
            **{k: _evaluate(str(v), context) for k, v in step.get("env", {}).items()},
        }
        proc = subprocess.run(
            [step["shell"], "-e", "-c", step["run"]],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, (step["name"], proc.stderr)
        context.update(_outputs(output, step["id"]))
    return context


def test_action_posts_one_comment_and_writes_the_page(
    forge: tuple[FakeForge, str], tmp_path: Path
) -> None:
    state, api = forge
    clone = _pr_clone(tmp_path)
    context = _run_action(clone, tmp_path, api, {})
    report, page = (
        Path(context["steps.review.outputs.report"]),
        Path(context["steps.review.outputs.page"]),
    )
    assert "+x = 2" in report.read_text() and "<!DOCTYPE html>" in page.read_text()
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    upload = next(s for s in action["runs"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert _evaluate(upload["with"]["path"], context) == str(page)  # the artifact is the page
    assert [c["body"].splitlines()[0] for c in state.comments] == [MARKER]
    # a second push: the same comment is updated
    (clone / "nb.ipynb").write_text(
        json.dumps(notebook(md("# Results", cid="m"), code("x = 3", cid="c")))
    )
    commit_all(clone, "second push")
    _run_action(clone, tmp_path, api, {})
    assert len(state.comments) == 1 and "x = 3" in state.comments[0]["body"]
    # format=html: the page only, no comment step output to post
    html_only = _run_action(clone, tmp_path, api, {"format": "html", "range": "origin/main..HEAD"})
    assert html_only["steps.review.outputs.report"] == ""
    # a pull request from a fork (read-only token): the page, and no attempt to comment
    (clone / "nb.ipynb").write_text(
        json.dumps(notebook(md("# Fork", cid="m"), code("x = 4", cid="c")))
    )
    commit_all(clone, "from a fork")
    requests = len(state.requests)
    _run_action(clone, tmp_path, api, {}, head_repo="someone/r")
    assert len(state.requests) == requests and "x = 4" not in state.comments[0]["body"]


def test_action_refuses_an_unknown_format(forge: tuple[FakeForge, str], tmp_path: Path) -> None:
    _state, api = forge
    clone = _pr_clone(tmp_path)
    with pytest.raises(AssertionError, match="format must be both, markdown or html"):
        _run_action(clone, tmp_path, api, {"format": "pdf"})


# --- the files, as YAML -----------------------------------------------------------------------


def _scripts(doc: Any) -> Iterator[str]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("run", "script", "before_script"):
                yield from (value if isinstance(value, list) else [value])
            else:
                yield from _scripts(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from _scripts(item)


def test_action_and_templates_are_valid_yaml_without_inlined_expressions() -> None:
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"range", "format", "token"} <= set(action["inputs"])
    for step in action["runs"]["steps"]:
        assert "uses" in step or step.get("shell") == "bash", step
    workflow = yaml.safe_load((REPO_ROOT / "templates" / "review-workflow.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["review"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[-1]["uses"] == "@NBKIT_ACTION@"  # init writes the ref nbkit came from
    assert not any("pip install" in s.get("run", "") for s in steps)  # no pin to go stale
    gitlab = yaml.safe_load((REPO_ROOT / "templates" / "review-gitlab-ci.yml").read_text())
    job = gitlab["nbkit-review"]
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert job["variables"]["NBKIT_REF"] == f"v{__version__}"
    assert any("nbkit comment --forge gitlab review.md" in s for s in job["script"])
    assert job["artifacts"]["paths"] == ["review.html"]
    for doc in (action, workflow, gitlab):
        for script in _scripts(doc):
            assert "${{" not in script, script  # data reaches scripts through env only
