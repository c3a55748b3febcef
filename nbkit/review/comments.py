"""Post the review as ONE comment on a pull request (GitHub) or merge request (GitLab), and
update that same comment on every later push instead of adding another.

The comment is found again by a hidden marker on its first line. Where the request is comes
from the CI environment each forge sets (an event payload file on GitHub, variables on
GitLab); the forge is the only part outside this machine, so this module speaks its REST API
with the standard library alone and is tested against a local server in its shape.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from nbkit import __version__
from nbkit.errors import BadInput, NbkitError

MARKER = "<!-- nbkit-review -->"
PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: past that, a new comment is posted rather than searching on
TIMEOUT = 30.0
# GitHub refuses a comment body longer than this (characters); GitLab takes a million.
GITHUB_LIMIT = 65536
GITLAB_LIMIT = 1_000_000


class ApiError(NbkitError):
    """The forge's API refused or could not be reached."""


class Thread(NamedTuple):
    """One pull or merge request's comments, in its forge's API shape."""

    forge: str  # "GitHub" | "GitLab", for messages
    list_url: str  # GET, paginated with per_page and page
    create_url: str  # POST {"body": ...}
    item_url: str  # with {id}: the comment to update
    update_method: str  # PATCH on GitHub, PUT on GitLab
    headers: dict[str, str]
    limit: int  # longest body accepted


class Posted(NamedTuple):
    action: str  # "created" | "updated"
    comment_id: int
    url: str  # where people see it, when the API says


def _need(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "")
    if not value:
        raise BadInput(f"{name} is not set", hint=hint)
    return value


def _api_base(url: str, name: str) -> str:
    """An http(s) API root without its trailing slash (never file: or anything else)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise BadInput(f"{name} must be an http(s) URL, not {url!r}")
    return url.rstrip("/")


def github_thread(env: Mapping[str, str]) -> Thread:
    """The pull request of a GitHub Actions run (``pull_request`` or ``pull_request_target``)."""
    token = _need(env, "GITHUB_TOKEN", "pass a token that may write pull-request comments")
    event_path = _need(env, "GITHUB_EVENT_PATH", "run this inside GitHub Actions")
    repo = _need(env, "GITHUB_REPOSITORY", "run this inside GitHub Actions")
    try:
        event = json.loads(Path(event_path).read_bytes())
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the event payload: {exc}", event_path) from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if not isinstance(number, int):
        raise BadInput(
            "the event is not a pull request",
            event_path,
            hint="run the review on `pull_request` events",
        )
    api = _api_base(env.get("GITHUB_API_URL") or "https://api.github.com", "GITHUB_API_URL")
    base = f"{api}/repos/{urllib.parse.quote(repo, safe='/')}/issues"
    return Thread(
        "GitHub",
        f"{base}/{number}/comments",
        f"{base}/{number}/comments",
        base + "/comments/{id}",
        "PATCH",
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        GITHUB_LIMIT,
    )


def gitlab_thread(env: Mapping[str, str]) -> Thread:
    """The merge request of a GitLab CI merge-request pipeline."""
    token = env.get("NBKIT_GITLAB_TOKEN") or env.get("GITLAB_TOKEN") or ""
    if not token:
        raise BadInput(
            "NBKIT_GITLAB_TOKEN is not set",
            hint="add a project access token with the `api` scope as a masked CI/CD variable "
            "NBKIT_GITLAB_TOKEN (CI_JOB_TOKEN cannot write notes)",
        )
    api = _api_base(_need(env, "CI_API_V4_URL", "run this inside GitLab CI"), "CI_API_V4_URL")
    project = _need(env, "CI_PROJECT_ID", "run this inside GitLab CI")
    iid = _need(
        env,
        "CI_MERGE_REQUEST_IID",
        "run the job in merge-request pipelines (rules: if: $CI_PIPELINE_SOURCE == "
        '"merge_request_event")',
    )
    base = (
        f"{api}/projects/{urllib.parse.quote(project, safe='')}/merge_requests/"
        f"{urllib.parse.quote(iid, safe='')}/notes"
    )
    return Thread(
        "GitLab", base, base, base + "/{id}", "PUT", {"PRIVATE-TOKEN": token}, GITLAB_LIMIT
    )


FORGES: dict[str, Callable[[Mapping[str, str]], Thread]] = {
    "github": github_thread,
    "gitlab": gitlab_thread,
}


def detect(env: Mapping[str, str]) -> str:
    """Which forge's CI this is, from the variables each one always sets."""
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    if env.get("GITLAB_CI") == "true":
        return "gitlab"
    raise BadInput(
        "not running in GitHub Actions or GitLab CI", hint="say which: --forge github|gitlab"
    )


def _request(thread: Thread, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {**thread.headers, "User-Agent": f"nbkit/{__version__}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        hint = None
        if exc.code in (401, 403, 404):
            hint = (
                "the token cannot write comments here (a pull request from a fork gets a "
                "read-only token; the HTML report is still uploaded)"
            )
        raise ApiError(
            f"{thread.forge} API: {method} {_path(url)} answered {exc.code} {exc.reason}",
            hint=hint,
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(f"{thread.forge} API: cannot reach {_path(url)}: {reason}") from None
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        raise ApiError(f"{thread.forge} API: {method} {_path(url)} did not answer JSON") from None


def _path(url: str) -> str:
    """A URL for a message: without its query (tokens never travel there, but keep it short)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def find_comment(thread: Thread) -> dict[str, Any] | None:
    """The comment carrying the marker (the newest one, if several do)."""
    found = None
    for page in range(1, MAX_PAGES + 1):
        url = f"{thread.list_url}?per_page={PER_PAGE}&page={page}"
        items = _request(thread, "GET", url)
        if not isinstance(items, list):
            raise ApiError(f"{thread.forge} API: GET {_path(url)} did not answer a list")
        for item in items:
            body = item.get("body") if isinstance(item, dict) else None
            if isinstance(body, str) and body.startswith(MARKER):
                found = item
        if len(items) < PER_PAGE:
            break
    return found


def comment_body(report: str, limit: int) -> str:
    """The marker line, then the report, cut to what the forge accepts."""
    body = f"{MARKER}\n{report}"
    if len(body) <= limit:
        return body
    note = "\n\n*(cut to fit the comment size limit; the HTML report has everything)*\n"
    return body[: limit - len(note)] + note


def post(thread: Thread, report: str) -> Posted:
    """Update the marked comment if there is one, else create it."""
    body = {"body": comment_body(report, thread.limit)}
    existing = find_comment(thread)
    if existing is not None and isinstance(existing.get("id"), int):
        url = thread.item_url.format(id=existing["id"])
        answer = _request(thread, thread.update_method, url, body)
        action = "updated"
    else:
        answer = _request(thread, "POST", thread.create_url, body)
        action = "created"
    answer = answer if isinstance(answer, dict) else {}
    comment_id = answer.get("id")
    link = answer.get("html_url") or ""
    return Posted(action, comment_id if isinstance(comment_id, int) else -1, str(link))


def post_from_env(
    report: str, forge: str | None = None, env: Mapping[str, str] | None = None
) -> Posted:
    """Post ``report`` where the CI run's environment says (``forge``: force one)."""
    env = os.environ if env is None else env
    name = forge or detect(env)
    if name not in FORGES:
        raise BadInput(f"unknown forge {name!r}", hint=f"one of {', '.join(FORGES)}")
    return post(FORGES[name](env), report)
