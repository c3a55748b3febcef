"""nbkit diff: cell alignment, quietness, outputs by type, git sides, textconv, bad input."""

from __future__ import annotations

import base64
import copy
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbkit.align import match_cells
from nbkit.review.diff import diff_notebooks
from nbkit.review.outputs import highlight
from tests.conftest import assert_one_line_error, commit_all, git, run_nbkit
from tests.review_helpers import (
    code,
    display,
    md,
    notebook,
    numbered,
    png,
    result,
    stream,
    textconv_command,
)

Cli = Callable[..., Any]


def write(path: Path, nb: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def edited(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Edit cell 3, move 17 to 7, remove old 10, add one at 12, re-run everything."""
    new = copy.deepcopy(cells)
    for k, cell in enumerate(new):
        cell["execution_count"] = 100 + k
        cell["metadata"]["ExecuteTime"] = {"start": f"t{k}"}
    new[3]["source"] = new[3]["source"].replace("compute(3)", "compute(3) * 2")
    new.insert(7, new.pop(17))
    del new[11]  # old cell 10 (old 17 now sits before it)
    new.insert(12, code("brand_new()", cid="fresh" if "id" in cells[0] else None))
    return new


@pytest.mark.parametrize("with_ids", [True, False])
def test_alignment_finds_edit_move_add_remove(with_ids: bool) -> None:
    old = numbered(20, with_ids)
    d = diff_notebooks(notebook(*old), notebook(*edited(old)), "nb.ipynb")
    got = {(c.change, c.old_index, c.new_index) for c in d.cells}
    assert got == {("modified", 3, 3), ("moved", 17, 7), ("removed", 10, None), ("added", None, 12)}
    assert d.counts.unchanged == 17
    (modified,) = [c for c in d.cells if c.change == "modified"]
    assert "-value_3 = compute(3)" in modified.source_diff
    assert "+value_3 = compute(3) * 2" in modified.source_diff


def test_moved_and_edited_cell_is_one_move_with_inline_change() -> None:
    old = numbered(30, with_ids=False)
    new = copy.deepcopy(old)
    cell = new.pop(17)
    cell["source"] = cell["source"].replace("print(value_17)", "print(value_17 + 1)")
    new.insert(6, cell)
    d = diff_notebooks(notebook(*old), notebook(*new), "nb.ipynb")
    assert [(c.change, c.old_index, c.new_index) for c in d.cells] == [("moved", 17, 6)]
    assert "+print(value_17 + 1)" in d.cells[0].source_diff


def test_match_cells_pairs_every_cell_once_in_display_order() -> None:
    old = [code(s) for s in ("a = 1", "", "b = 2", "", "c = 3")]
    new = [code(s) for s in ("", "a = 1", "c = 3", "", "d = 4")]
    pairs = match_cells(old, new)
    assert sorted(o for o, _ in pairs if o is not None) == list(range(5))
    assert sorted(n for _, n in pairs if n is not None) == list(range(5))
    assert (0, 1) in pairs and (4, 2) in pairs
    news = [n for _, n in pairs if n is not None]
    assert news == sorted(news)


SOURCES = st.lists(
    st.sampled_from(
        ["", "a = 1", "a = 2", "b = 1", "print(a)\nprint(b)", "print(a)\nprint(c)", "import os"]
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(SOURCES, SOURCES, st.booleans())
def test_match_cells_is_a_complete_ordered_pairing(a: list[str], b: list[str], ids: bool) -> None:
    old = [code(s, cid=f"{s}-{k}" if ids else None) for k, s in enumerate(a)]
    new = [code(s, cid=f"{s}-{k}" if ids else None) for k, s in enumerate(b)]
    pairs = match_cells(old, new)
    assert sorted(i for i, _ in pairs if i is not None) == list(range(len(a)))
    assert [j for _, j in pairs if j is not None] == list(range(len(b)))
    same = diff_notebooks(notebook(*old), notebook(*copy.deepcopy(old)), "nb.ipynb")
    assert same.cells == () and same.status == "unchanged"
    d = diff_notebooks(notebook(*old), notebook(*new), "nb.ipynb")
    counts = d.counts
    assert counts.added - counts.removed == len(b) - len(a)
    assert counts.added + counts.unchanged + counts.modified + counts.moved >= len(b)
    if a == b:
        assert d.cells == ()


def test_ids_decide_identity_when_present() -> None:
    old = notebook(code("x = 1", cid="a"), code("gone()", cid="b"))
    new = notebook(code("x = 2", cid="a"), code("gone(1)", cid="c"))
    d = diff_notebooks(old, new, "nb.ipynb")
    assert [(c.change, c.cell_id) for c in d.cells] == [
        ("modified", "a"),
        ("added", "c"),
        ("removed", "b"),
    ]


def test_large_notebook_alignment_is_exact() -> None:
    old = numbered(2000, with_ids=False)
    new = copy.deepcopy(old)
    for k in range(0, 2000, 20):
        new[k]["source"] += "\n# edited"
    moved = [new.pop(k) for k in (1500, 1200, 900)]
    for cell in moved:
        new.insert(100, cell)
    d = diff_notebooks(notebook(*old), notebook(*new), "big.ipynb")
    assert d.counts.modified == 100 and d.counts.moved == 3
    assert d.counts.added == d.counts.removed == 0


def test_what_clean_strips_is_not_a_change(tmp_path: Path, cli: Cli) -> None:
    old = notebook(code("x = 1", stream("1\n"), cid="a", count=1), md("# hi", cid="m"))
    new = copy.deepcopy(old)
    new["cells"][0]["execution_count"] = 7
    new["cells"][0]["metadata"] = {
        "ExecuteTime": {"end": "now"},
        "collapsed": True,
        "papermill": {"duration": 1.5},
        "execution": {"x": 1},
    }
    new["metadata"]["widgets"] = {"state": {"w": 1}}
    new["metadata"]["papermill"] = {"duration": 3}
    new["metadata"]["language_info"] = {"name": "python", "version": "3.12.1"}
    a, b = write(tmp_path / "a.ipynb", old), write(tmp_path / "b.ipynb", new)
    res = cli("diff", a, b)
    assert (res.code, res.out, res.err) == (0, "", "")


def test_exit_codes_sources_outputs_and_flag(tmp_path: Path, cli: Cli) -> None:
    old = notebook(code("x = 1", stream("1\n"), cid="a"))
    outputs_only = notebook(code("x = 1", stream("2\n"), cid="a"))
    source = notebook(code("x = 2", stream("1\n"), cid="a"))
    a = write(tmp_path / "a.ipynb", old)
    b = write(tmp_path / "b.ipynb", outputs_only)
    c = write(tmp_path / "c.ipynb", source)
    res = cli("diff", a, b)
    assert res.code == 0 and "stream/stdout changed" in res.out
    assert cli("diff", "--exit-code-outputs", a, b).code == 4
    res = cli("diff", a, c)
    assert res.code == 1 and "+x = 2" in res.out
    assert cli("diff", "--exit-code-outputs", a, a).code == 0


def test_text_outputs_diff_inline_with_outputs_flag(tmp_path: Path, cli: Cli) -> None:
    old = notebook(code("show()", result(text_plain="alpha\nbeta\n"), cid="a"))
    new = notebook(code("show()", result(text_plain="alpha\ngamma\n"), cid="a"))
    a, b = write(tmp_path / "a.ipynb", old), write(tmp_path / "b.ipynb", new)
    short = cli("diff", a, b).out
    assert "text/plain changed (+1 -1 lines)" in short and "+gamma" not in short
    full = cli("diff", "--outputs", a, b).out
    assert "-beta" in full and "+gamma" in full


def test_images_compared_by_size_and_changed_pixels() -> None:
    from PIL import Image

    base = png("white", (40, 10))
    quarter = png("white", (40, 10), box=(0, 0, 9, 9))  # 10x10 of 400 pixels
    bigger = png("white", (80, 20))
    old = notebook(
        code("plot()", display(image_png=base, text_plain="<Figure>"), cid="a"),
        code("plot2()", display(image_png=base), cid="b"),
    )
    new = notebook(
        code("plot()", display(image_png=quarter, text_plain="<Figure>"), cid="a"),
        code("plot2()", display(image_png=bigger), cid="b"),
    )
    d = diff_notebooks(old, new, "nb.ipynb")
    first, second = (c.outputs[0] for c in d.cells)
    assert first.pixels_changed == pytest.approx(0.25)
    assert first.summary == "image/png 40x10, 25.0% of pixels changed"
    assert second.summary == "image/png 40x10 -> 80x20 (size changed)"
    assert not d.sources_changed
    marked = highlight(base, quarter)  # the HTML page's "changed pixels in red" image
    assert marked is not None
    with Image.open(io.BytesIO(base64.b64decode(marked))) as img:
        rgb = img.convert("RGB")
        red = sum(1 for x in range(40) for y in range(10) if rgb.getpixel((x, y)) == (220, 0, 0))
    assert red == 100
    jpegs = [png("white", (30, 20), fmt="JPEG"), png("black", (30, 20), fmt="JPEG")]
    d = diff_notebooks(
        notebook(code("j()", display(image_jpeg=jpegs[0]), cid="j")),
        notebook(code("j()", display(image_jpeg=jpegs[1]), cid="j")),
        "nb.ipynb",
    )
    (out,) = d.cells[0].outputs
    assert out.summary == "image/jpeg 30x20, 100.0% of pixels changed"
    assert out.new is not None and out.new.size == (30, 20)


def test_html_outputs_compared_as_sanitized_text() -> None:
    old = notebook(code("df", result(text_html="<table><tr><td>1</td></tr></table>"), cid="a"))
    new = notebook(
        code(
            "df",
            result(text_html="<table><tr><td>2</td></tr></table><script>alert(1)</script>"),
            cid="a",
        )
    )
    d = diff_notebooks(old, new, "nb.ipynb")
    (out,) = d.cells[0].outputs
    assert out.diff[-2:] == ("-1", "+2")
    assert out.new is not None and out.new.html is not None
    assert "script" not in out.new.html and "alert" not in out.new.text


def test_json_format_is_stable_and_documented(tmp_path: Path, cli: Cli) -> None:
    old = notebook(*numbered(20, with_ids=True))
    a = write(tmp_path / "a.ipynb", old)
    b = write(tmp_path / "b.ipynb", notebook(*edited(old["cells"])))
    res = cli("diff", "--format", "json", a, b)
    data = json.loads(res.out)
    assert data["schema"] == "nbkit.diff/1" and res.code == 1
    assert data["counts"] == {
        "added": 1,
        "removed": 1,
        "modified": 1,
        "moved": 1,
        "outputs": 0,
        "metadata": 0,
        "unchanged": 17,
    }
    (nb,) = data["notebooks"]
    assert {c["change"] for c in nb["cells"]} == {"added", "removed", "modified", "moved"}
    docs = (Path(__file__).parent.parent / "docs" / "review.md").read_text()
    for key in (
        "schema",
        "sources_changed",
        "source_diff",
        "old_index",
        "pixels_changed",
        "paired_scripts",
        "notes",
    ):
        assert f"`{key}`" in docs, key


# --- git sides -------------------------------------------------------------------------


def test_diff_between_revisions_and_working_tree(repo: Path, cli: Cli) -> None:
    nb = notebook(code("x = 1", cid="a"), md("# Title", cid="m"))
    write(repo / "nb.ipynb", nb)
    commit_all(repo, "first")
    nb["cells"][0]["source"] = "x = 2"
    write(repo / "nb.ipynb", nb)
    res = cli("diff")  # working tree vs index
    assert res.code == 1 and "-x = 1" in res.out and "+x = 2" in res.out
    git(repo, "add", "nb.ipynb")
    assert cli("diff") == (0, "", "")
    assert "+x = 2" in cli("diff", "--cached").out
    commit_all(repo, "second")
    res = cli("diff", "HEAD~1", "HEAD", "--", "nb.ipynb")
    assert res.code == 1 and "+x = 2" in res.out
    assert cli("diff", "HEAD~1..HEAD").out == res.out
    nb["cells"][0]["execution_count"] = 9  # only what clean strips changed
    write(repo / "nb.ipynb", nb)
    assert cli("diff", "HEAD") == (0, "", "")


def test_diff_single_path_argument_limits_to_it(repo: Path, cli: Cli) -> None:
    write(repo / "a.ipynb", notebook(code("a = 1", cid="a")))
    write(repo / "sub" / "b.ipynb", notebook(code("b = 1", cid="b")))
    commit_all(repo)
    write(repo / "a.ipynb", notebook(code("a = 2", cid="a")))
    write(repo / "sub" / "b.ipynb", notebook(code("b = 2", cid="b")))
    res = cli("diff", "HEAD", "sub")
    assert "sub/b.ipynb" in res.out and "a.ipynb" not in res.out.replace("sub/b.ipynb", "")


def test_textconv_drives_git_diff_and_log(repo: Path) -> None:
    (repo / ".gitattributes").write_text("*.ipynb diff=nbkit\n")
    git(repo, "config", "diff.nbkit.textconv", textconv_command())
    nb = notebook(code("x = 1", stream("1\n"), cid="a", count=1))
    write(repo / "nb.ipynb", nb)
    commit_all(repo, "first")
    nb["cells"][0]["source"] = "x = 2"
    nb["cells"][0]["execution_count"] = 2
    write(repo / "nb.ipynb", nb)
    out = git(repo, "diff")
    assert "-x = 1" in out and "+x = 2" in out
    assert "execution_count" not in out and '"source"' not in out
    commit_all(repo, "second")
    log = git(repo, "log", "-p")
    assert "+x = 2" in log and "# %% [1] code id=a" in log


def test_textconv_passes_a_broken_notebook_through(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [\n<<<<<<< HEAD\n')
    res = cli("textconv", path)
    assert res.code == 0 and res.out.startswith("# nbkit: ") and "<<<<<<< HEAD" in res.out
    res = cli("textconv", tmp_path / "missing.ipynb")
    assert res.code == 2
    assert_one_line_error(res.err, "missing.ipynb")


def test_real_process_diff(tmp_path: Path) -> None:
    a = write(tmp_path / "a.ipynb", notebook(*numbered(20, with_ids=True)))
    b = write(tmp_path / "b.ipynb", notebook(*edited(numbered(20, True))))
    proc = run_nbkit("diff", a.name, b.name, cwd=tmp_path)
    assert proc.returncode == 1 and "moved from" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no colours into a pipe


# --- bad input ---------------------------------------------------------------------------

BAD = {
    "invalid.ipynb": b'{"cells": [}',
    "junk.ipynb": bytes(range(256)) * 4,
    "notjson.py": b"print('hello')\n",
    "nocells.ipynb": b'{"nbformat": 4}',
}


@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("side", ["old", "new"])
def test_bad_file_on_either_side(
    tmp_path: Path, cli: Cli, name: str, side: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path / "good.ipynb", notebook(code("x = 1", cid="a")))
    bad = tmp_path / name
    bad.write_bytes(BAD[name])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = (bad.name, good.name) if side == "old" else (good.name, bad.name)
    monkeypatch.chdir(tmp_path)
    res = cli("diff", *args)
    assert res.code == 2 and res.out == ""
    assert_one_line_error(res.err, name)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_bad_notebook_at_a_revision(repo: Path, cli: Cli) -> None:
    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo, "good")
    (repo / "nb.ipynb").write_bytes(b"\x00\x01binary junk")
    commit_all(repo, "junk")
    res = cli("diff", "HEAD~1", "HEAD")
    assert res.code == 2
    assert_one_line_error(res.err, "HEAD:nb.ipynb")


@pytest.mark.parametrize("args", [("nope",), ("HEAD", "nope"), ("nope..HEAD",)])
def test_unknown_revision(repo: Path, cli: Cli, args: tuple[str, ...]) -> None:
    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo)
    res = cli("diff", *args)
    assert res.code == 2 and res.out == ""
    assert_one_line_error(res.err, "nope", "unknown revision")


def test_missing_notebook_argument(repo: Path, cli: Cli) -> None:
    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo)
    res = cli("diff", "nb.ipynb", "missing.ipynb")
    assert res.code == 2
    assert_one_line_error(res.err, "missing.ipynb", "no such file")


def test_type_change_tags_and_notebook_metadata_are_shown(tmp_path: Path, cli: Cli) -> None:
    old = notebook(code("# Title", cid="a"), code("x = 1", cid="b"))
    new = notebook(
        md("# Title", cid="a"),
        code("x = 1", cid="b", metadata={"tags": ["parameters"]}),
        metadata={"kernelspec": {"name": "other", "display_name": "O", "language": "python"}},
    )
    a, b = write(tmp_path / "a.ipynb", old), write(tmp_path / "b.ipynb", new)
    res = cli("diff", a, b)
    assert res.code == 1  # a type change is a source change
    assert "## cell 1 [code -> markdown id=a] modified" in res.out
    assert 'metadata tags: None -> ["parameters"]' in res.out
    assert "notebook metadata kernelspec:" in res.out
    only_tags = notebook(code("# Title", cid="a"), code("x = 1", cid="b", metadata={"tags": ["t"]}))
    c = write(tmp_path / "c.ipynb", only_tags)
    assert cli("diff", a, c).code == 0
    assert cli("diff", "--exit-code-outputs", a, c).code == 4


def test_project_clean_policy_decides_what_is_quiet(repo: Path, cli: Cli) -> None:
    (repo / "pyproject.toml").write_text(
        '[tool.nbkit.clean]\ndrop_cell_metadata = ["slideshow"]\nkeep_cell_metadata = ["ExecuteTime"]\n'
    )
    a = write(repo / "a.ipynb", notebook(code("x", cid="a")))
    b = write(repo / "b.ipynb", notebook(code("x", cid="a", metadata={"slideshow": {"s": 1}})))
    c = write(repo / "c.ipynb", notebook(code("x", cid="a", metadata={"ExecuteTime": {"t": 1}})))
    assert cli("diff", "--exit-code-outputs", a.name, b.name) == (0, "", "")
    res = cli("diff", "--exit-code-outputs", a.name, c.name)
    assert res.code == 4 and "metadata ExecuteTime" in res.out


def test_rename_and_deletion_in_git(repo: Path, cli: Cli) -> None:
    write(repo / "keep.ipynb", notebook(*numbered(10, with_ids=True)))
    write(repo / "drop.ipynb", notebook(code("bye()", cid="z")))
    commit_all(repo, "two notebooks")
    git(repo, "mv", "keep.ipynb", "kept.ipynb")
    git(repo, "rm", "-q", "drop.ipynb")
    commit_all(repo, "rename and delete")
    data = json.loads(cli("diff", "HEAD~1", "HEAD", "--format", "json").out)
    got = {(nb["path"], nb["old_path"], nb["status"]) for nb in data["notebooks"]}
    assert got == {("kept.ipynb", "keep.ipynb", "renamed"), ("drop.ipynb", "drop.ipynb", "deleted")}
    res = cli("diff", "HEAD~1", "HEAD", "--", "drop.ipynb")  # a path that no longer exists
    assert res.code == 1 and "drop.ipynb (deleted)" in res.out and "-bye()" in res.out
    assert "kept.ipynb" not in res.out


def test_worktree_deletion_and_color(repo: Path, cli: Cli) -> None:
    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo)
    (repo / "nb.ipynb").unlink()
    res = cli("diff", "--color")
    assert res.code == 1 and "nb.ipynb (deleted)" in res.out and "\x1b[31m-x = 1" in res.out


def test_outside_git(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = cli("diff", "HEAD")
    assert res.code == 2
    assert_one_line_error(res.err, str(tmp_path), "not inside a git repository")
    res = cli("diff", "a.ipynb")
    assert res.code == 2
    assert_one_line_error(res.err, "a.ipynb: no such file")


def test_paths_from_a_subfolder_and_odd_names(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "sub dir/ñ [x]*.ipynb"
    write(repo / name, notebook(code("x = 1", cid="a")))
    write(repo / "other.ipynb", notebook(code("y = 1", cid="b")))
    commit_all(repo)
    write(repo / name, notebook(code("x = 2", cid="a")))
    write(repo / "other.ipynb", notebook(code("y = 2", cid="b")))
    monkeypatch.chdir(repo / "sub dir")
    res = cli("diff", "--", "ñ [x]*.ipynb")
    assert res.code == 1 and f"=== {name} (modified)" in res.out and "other" not in res.out
    assert "other.ipynb" in cli("diff", "HEAD").out


def test_diff_path_imports_no_heavy_libraries(tmp_path: Path) -> None:
    """No validator, jupytext, nbdime, GitPython, or Pillow/nh3 when no image/HTML changed."""
    a = write(tmp_path / "a.ipynb", notebook(*numbered(20, with_ids=True)))
    b = write(tmp_path / "b.ipynb", notebook(*edited(numbered(20, True))))
    code_ = (
        "import sys; from nbkit.cli.main import main; main(['diff', 'a.ipynb', 'b.ipynb']);"
        "print(sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code_], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    loaded = proc.stderr.strip().splitlines()[-1]
    for heavy in ("nbformat", "jupytext", "nbdime", "git", "PIL", "nh3", "jsonschema"):
        assert f"'{heavy}'" not in loaded, heavy
    assert "moved from" in proc.stdout and a.exists() and b.exists()


@pytest.mark.parametrize("args", [("HEAD", "--", "README.md"), ("README.md",)])
def test_named_file_that_is_not_a_notebook(repo: Path, cli: Cli, args: tuple[str, ...]) -> None:
    (repo / "README.md").write_text("# readme\n")
    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo)
    res = cli("diff", *args)
    assert res.code == 2 and res.out == ""
    assert_one_line_error(res.err, "README.md: not a notebook")


def test_terminal_output_cannot_drive_the_terminal(tmp_path: Path, cli: Cli) -> None:
    hostile = "x = 1\x1b]0;owned\x07\x1b[2J"
    out = {"output_type": "stream", "name": "\x1b[31mstdout", "text": "a\x1b[5m\n"}
    old = notebook(code("x = 0", cid="a"))
    new = notebook(code(hostile, out, cid="a"))
    a, b = write(tmp_path / "a.ipynb", old), write(tmp_path / "b.ipynb", new)
    res = cli("diff", "--outputs", "--no-color", a, b)
    assert res.code == 1 and "\x1b" not in res.out and "\x07" not in res.out
    assert "\\x1b]0;owned\\x07" in res.out


def test_markdown_attachment_change_is_seen() -> None:
    def cell(color: str) -> dict[str, Any]:
        c = md("![plot](attachment:plot.png)", cid="m")
        c["attachments"] = {"plot.png": {"image/png": png(color)}}
        return c

    d = diff_notebooks(notebook(cell("red")), notebook(cell("blue")), "nb.ipynb")
    (change,) = d.cells
    assert [(m.key, m.old, m.new) for m in change.metadata] == [
        ("attachments.plot.png", "present", "changed")
    ]
    assert not d.sources_changed and d.changed


def test_worktree_compared_the_way_the_clean_filter_stores_it(repo: Path, cli: Cli) -> None:
    """With git's clean filter on, the index holds cleaned notebooks: re-run outputs in the
    working tree are not a change; an edited source still is."""
    clean = (
        "import sys; from nbkit.clean import clean_bytes; from nbkit.config import CleanPolicy; "
    )
    clean += "sys.stdout.buffer.write(clean_bytes(sys.stdin.buffer.read(), 'stdin', CleanPolicy()))"
    (repo / "filter.py").write_text(clean)
    git(repo, "config", "filter.nbkit.clean", f"{sys.executable} filter.py")
    (repo / ".gitattributes").write_text("*.ipynb filter=nbkit\n")
    nb = notebook(code("x = 1", stream("1\n"), cid="a", count=1))
    write(repo / "nb.ipynb", nb)
    commit_all(repo)
    assert git(repo, "show", "HEAD:nb.ipynb").count('"outputs": []') == 1  # filter ran
    assert cli("diff") == (0, "", "")
    assert cli("diff", "HEAD") == (0, "", "")
    nb["cells"][0]["source"] = "x = 2"
    write(repo / "nb.ipynb", nb)
    res = cli("diff", "--exit-code-outputs")
    assert res.code == 1 and "+x = 2" in res.out and "output" not in res.out


def test_directory_named_like_a_notebook(repo: Path, cli: Cli) -> None:
    write(repo / "nb.ipynb", notebook(code("x = 1", cid="a")))
    commit_all(repo)
    (repo / "x.ipynb").mkdir()
    res = cli("diff", "nb.ipynb", "x.ipynb")
    assert res.code == 2 and res.out == ""
    assert_one_line_error(res.err, "x.ipynb: is a directory")
