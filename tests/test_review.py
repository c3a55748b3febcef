"""nbkit review over real git ranges: statuses, paired scripts, formats, limits, escaping."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbkit.cli.main import COMMANDS
from tests.conftest import assert_one_line_error, commit_all, git
from tests.review_helpers import HOSTILE_HTML, code, md, notebook, numbered, result, stream

Cli = Callable[..., Any]
ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, nb: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


@pytest.fixture
def pr_repo(repo: Path) -> Path:
    """main and a feature branch: a notebook edited with its paired script, one deleted, one
    added, a script changed without its notebook; main moves on after the branch point."""
    cells = numbered(20, with_ids=True)
    write(repo / "analysis.ipynb", notebook(*cells))
    (repo / "analysis.py").write_text("# %%\nvalue_0 = compute(0)\n")
    write(repo / "old.ipynb", notebook(code("legacy()", cid="l")))
    write(repo / "lone.ipynb", notebook(code("lone = 1", cid="x")))
    (repo / "lone.py").write_text("# %%\nlone = 1\n")
    write(repo / "other.ipynb", notebook(code("other = 1", cid="o")))
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    new = copy.deepcopy(cells)
    new[3]["source"] = "value_3 = compute(3) * 2\nprint(value_3)"
    new[5]["outputs"] = [stream("five\n")]
    new.insert(7, new.pop(17))
    del new[11]
    new.insert(12, md("## A new section", cid="fresh"))
    for k, cell in enumerate(new):
        cell["execution_count"] = 50 + k  # a re-run: must not show
    write(repo / "analysis.ipynb", notebook(*new))
    (repo / "analysis.py").write_text("# %%\nvalue_0 = compute(0) * 2\n")
    (repo / "old.ipynb").unlink()
    write(repo / "added.ipynb", notebook(code("fresh = 1", cid="f"), md("# Added", cid="g")))
    (repo / "lone.py").write_text("# %%\nlone = 2\n")
    commit_all(repo, "feature work")
    git(repo, "checkout", "-q", "main")
    write(repo / "other.ipynb", notebook(code("other = 2", cid="o")))
    commit_all(repo, "main moves on")
    return repo


def test_review_json_covers_every_changed_notebook(pr_repo: Path, cli: Cli) -> None:
    res = cli("review", "main...feature", "--format", "json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["schema"] == "nbkit.diff/1"
    by_path = {nb["path"]: nb for nb in data["notebooks"]}
    assert set(by_path) == {"analysis.ipynb", "old.ipynb", "added.ipynb"}  # not other.ipynb
    assert by_path["old.ipynb"]["status"] == "deleted"
    assert by_path["added.ipynb"]["status"] == "added"
    assert by_path["added.ipynb"]["counts"]["added"] == 2
    analysis = by_path["analysis.ipynb"]
    assert analysis["paired_scripts"] == ["analysis.py"]
    assert analysis["counts"] == {
        "added": 1,
        "removed": 1,
        "modified": 1,
        "moved": 1,
        "outputs": 1,
        "metadata": 0,
        "unchanged": 16,
    }
    moved = [c for c in analysis["cells"] if c["change"] == "moved"]
    assert [(c["old_index"], c["new_index"]) for c in moved] == [(17, 7)]
    assert data["notes"] == [
        "lone.py changed but its paired notebook lone.ipynb did not (hint: nbkit sync lone.ipynb)"
    ]
    two_dot = json.loads(cli("review", "main..feature", "--format", "json").out)
    assert "other.ipynb" in {nb["path"] for nb in two_dot["notebooks"]}


def test_review_markdown_and_terminal(pr_repo: Path, cli: Cli) -> None:
    res = cli("review", "main...feature", "--format", "markdown")
    assert res.code == 0
    text = res.out
    assert text.startswith("## Notebook review")
    assert "| analysis\\.ipynb | modified | 1 | 1 | 1 | 1 | 1 |" in text
    assert "moved from 18 to 8" in text and "+value\\_3" not in text
    assert "+value_3 = compute(3) * 2" in text  # inside a diff block, not escaped
    assert "Paired script changed with it: analysis\\.py" in text
    assert "### old\\.ipynb (deleted)" in text and "### added\\.ipynb (added)" in text
    term = cli("review", "main...feature").out
    assert "=== analysis.ipynb (modified) + paired script analysis.py" in term
    assert "note: lone.py changed" in term


def test_review_html_to_file_format_from_suffix(pr_repo: Path, cli: Cli) -> None:
    res = cli("review", "main...feature", "-o", "review.html")
    assert res.code == 0 and res.out == "" and "review.html" in res.err
    page = (pr_repo / "review.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src &#x27;none&#x27;" in page or "default-src 'none'" in page
    assert 'id="summary"' in page and "cells: 3 added, 2 removed, 1 modified, 1 moved" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_review_of_paths_only(pr_repo: Path, cli: Cli) -> None:
    data = json.loads(cli("review", "main...feature", "old.ipynb", "--format", "json").out)
    assert [nb["path"] for nb in data["notebooks"]] == ["old.ipynb"]


def _big_change(repo: Path, n: int) -> None:
    write(repo / "big.ipynb", notebook(*numbered(n, with_ids=True)))
    commit_all(repo, "big")
    cells = numbered(n, with_ids=True)
    for cell in cells:
        cell["source"] += "\nresult = value * 2  # edited " + "x" * 40
    write(repo / "big.ipynb", notebook(*cells))
    commit_all(repo, "edit everything")


def test_markdown_fits_github_limit_with_a_note(repo: Path, cli: Cli) -> None:
    _big_change(repo, 3000)
    res = cli("review", "HEAD~1...HEAD", "--format", "markdown")
    assert res.code == 0
    assert len(res.out) <= 65536
    assert "**Report truncated:**" in res.out and "--format html" in res.out
    assert res.out.count("```") % 2 == 0  # every code block closed
    small = cli("review", "HEAD~1", "--format", "markdown", "--max-chars", "5000").out
    assert len(small) <= 5000 and "5,000-character" in small


def test_one_huge_cell_is_cut_inside_its_block(repo: Path, cli: Cli) -> None:
    write(repo / "nb.ipynb", notebook(code("x = 0", cid="a")))
    commit_all(repo)
    huge = "\n".join(f"line_{k} = {k}" for k in range(20000))
    write(repo / "nb.ipynb", notebook(code(huge, cid="a")))
    commit_all(repo)
    text = cli("review", "HEAD~1", "--format", "markdown").out
    assert len(text) <= 65536 and "*(cell cut short)*" in text
    assert text.count("```") % 2 == 0
    emoji = "\n".join(f"s_{k} = '🎉🎉🎉🎉'" for k in range(20000))  # 2 UTF-16 units each
    write(repo / "nb.ipynb", notebook(code(emoji, cid="a")))
    commit_all(repo)
    text = cli("review", "HEAD~1", "--format", "markdown").out
    assert len(text.encode("utf-16-le")) // 2 <= 65536 and "*(cell cut short)*" in text


def test_markdown_escapes_notebook_content(repo: Path, cli: Cli) -> None:
    from markdown_it import MarkdownIt

    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo)
    nasty = "````\n</details><img src=x onerror=alert(1)>\n````"
    write(repo / "<img src=x onerror=alert(1)>.ipynb", notebook(code("y", cid="q")))
    write(
        repo / "nb.ipynb",
        notebook(
            code(
                "x = 2 # @octocat [click](javascript:alert(1)) " + nasty,
                result(text_html=HOSTILE_HTML, text_plain="<b>@octocat</b>"),
                cid="a",
            ),
            md("<script>alert(1)</script> **bold** @someone #12", cid="b"),
            metadata={
                "kernelspec": {
                    "name": "<img src=x onerror=alert(2)>",
                    "display_name": "k",
                    "language": "python",
                }
            },
        ),
    )
    commit_all(repo)
    text = cli("review", "HEAD~1", "--format", "markdown", "--outputs").out
    html = (
        MarkdownIt("commonmark").enable("table").render(text)
    )  # GitHub renders raw HTML: so do we here
    assert "<img" not in html and "<script" not in html and "<iframe" not in html
    assert "javascript:" not in re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)
    assert not re.search(r"<a ", html)  # no link made from notebook content
    outside_code = re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)
    assert "@octocat" not in outside_code and "@someone" not in outside_code


def test_bad_input_in_review(pr_repo: Path, cli: Cli) -> None:
    for spec in ("nope...feature", "main...nope", "nope"):
        res = cli("review", spec)
        assert res.code == 2 and res.out == ""
        assert_one_line_error(res.err, "nope")
    git(pr_repo, "checkout", "-q", "feature")
    (pr_repo / "analysis.ipynb").write_text('{"cells": [')
    commit_all(pr_repo, "broken")
    res = cli("review", "main...feature", "-o", "out.md")
    assert res.code == 2
    assert_one_line_error(res.err, "feature:analysis.ipynb", "invalid JSON")
    assert not (pr_repo / "out.md").exists()


def test_commands_have_help_with_examples_and_docs() -> None:
    from nbkit.cli import review as review_cli

    docs = (ROOT / "docs" / "review.md").read_text()
    names = [n for n, entry in COMMANDS.items() if entry[0] == "nbkit.cli.review"]
    assert sorted(names) == ["comment", "diff", "review", "textconv"]
    for name in names:
        command = getattr(review_cli, COMMANDS[name][1])
        assert command.help and "Examples:" in command.help, name
        assert f"nbkit {name}" in docs, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in docs, f"{name} {opt} is not documented"


def test_review_workflow_template() -> None:
    """The workflow uses the nbkit action (tests/test_review_ci.py runs the action itself)."""
    import yaml

    flow = yaml.safe_load((ROOT / "templates" / "review-workflow.yml").read_text())
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as True
    steps = flow["jobs"]["review"]["steps"]
    assert steps[-1]["uses"] == "@NBKIT_ACTION@"  # nbkit init fills it in
    assert flow["permissions"]["pull-requests"] == "write"


def test_paired_script_in_a_mirror_folder(repo: Path, cli: Cli) -> None:
    from nbkit.review.report import script_candidates

    formats = "notebooks///ipynb,scripts///py:percent"
    assert "scripts/sub/a.py" in script_candidates("notebooks/sub/a.ipynb", formats)
    assert "notebooks/sub/a.py" in script_candidates("notebooks/sub/a.ipynb", "ipynb,py")
    meta = {"jupytext": {"formats": formats}}
    write(repo / "notebooks" / "a.ipynb", notebook(code("a = 1", cid="a"), metadata=meta))
    (repo / "scripts").mkdir()
    (repo / "scripts" / "a.py").write_text("# %%\na = 1\n")
    commit_all(repo)
    write(repo / "notebooks" / "a.ipynb", notebook(code("a = 2", cid="a"), metadata=meta))
    (repo / "scripts" / "a.py").write_text("# %%\na = 2\n")
    commit_all(repo)
    data = json.loads(cli("review", "HEAD~1..HEAD", "--format", "json").out)
    (nb,) = data["notebooks"]
    assert nb["paired_scripts"] == ["scripts/a.py"] and data["notes"] == []


@pytest.mark.parametrize(
    ("formats", "own", "script"),
    [
        # the notebook's own formats name no pair (no comma): the project's formats apply
        ("notebooks///ipynb,scripts///py:percent", "py:percent", "scripts/a.py"),
        ("ipynb,scripts//py:percent", None, "notebooks/scripts/a.py"),
        ("ipynb,.pct.py:percent", None, "notebooks/a.pct.py"),
    ],
)
def test_review_folds_in_the_script_the_hook_pairs(
    repo: Path, cli: Cli, formats: str, own: str | None, script: str
) -> None:
    (repo / "nbkit.toml").write_text(f'formats = "{formats}"\n')
    meta = {"jupytext": {"formats": own}} if own else None
    for value in (1, 2):
        write(
            repo / "notebooks" / "a.ipynb", notebook(code(f"a = {value}", cid="a"), metadata=meta)
        )
        (repo / script).parent.mkdir(parents=True, exist_ok=True)
        (repo / script).write_text(f"# %%\na = {value}\n")
        commit_all(repo)
    from nbkit import config
    from nbkit.pairing.paths import pair_of

    pair = pair_of(repo / "notebooks" / "a.ipynb", config.load(repo))
    assert pair is not None and pair.script == repo / script  # what the hook and sync pair
    data = json.loads(cli("review", "HEAD~1..HEAD", "--format", "json").out)
    (nb,) = data["notebooks"]
    assert nb["paired_scripts"] == [script] and data["notes"] == []


def test_no_merge_base_is_bad_input(repo: Path, cli: Cli) -> None:
    write(repo / "nb.ipynb", notebook(code("a = 1", cid="a")))
    commit_all(repo)
    git(repo, "checkout", "-q", "--orphan", "other")
    write(repo / "nb.ipynb", notebook(code("a = 2", cid="a")))
    commit_all(repo)
    res = cli("review", "main...other")
    assert res.code == 2
    assert_one_line_error(res.err, "main...other", "no common ancestor", "fetch-depth")


def test_report_never_written_over_a_notebook(pr_repo: Path, cli: Cli) -> None:
    before = (pr_repo / "analysis.ipynb").read_bytes()
    res = cli("review", "main...feature", "-o", "analysis.ipynb")
    assert res.code == 2
    assert_one_line_error(res.err, "analysis.ipynb", "will not write a report over a notebook")
    assert (pr_repo / "analysis.ipynb").read_bytes() == before


def test_review_from_a_subfolder(pr_repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (pr_repo / "docs").mkdir()
    monkeypatch.chdir(pr_repo / "docs")
    data = json.loads(cli("review", "main...feature", "../old.ipynb", "--format", "json").out)
    assert [nb["path"] for nb in data["notebooks"]] == ["old.ipynb"]
    everything = json.loads(cli("review", "main...feature", "--format", "json").out)
    assert len(everything["notebooks"]) == 3
