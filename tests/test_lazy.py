"""nbkit.lazy imports jupytext without its server extension, and lifts the block after."""

from __future__ import annotations

import subprocess
import sys


def test_jupytext_imported_without_server_parts_and_block_lifted() -> None:
    code = (
        "import sys\n"
        "from nbkit import lazy\n"
        "jt = lazy.jupytext()\n"
        "nb = jt.reads('# %%\\nx = 1\\n', fmt='py:percent')\n"
        "assert len(nb.cells) == 1\n"
        "assert 'tornado' not in sys.modules and 'jupyter_server' not in sys.modules\n"
        "assert 'rfc3987_syntax' not in sys.modules\n"
        "import tornado.web\n"  # later imports work as usual
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_script_pairs_leave_out_the_myst_parser_and_myst_still_reads_after() -> None:
    """A py:percent read imports jupytext without markdown-it; a MyST read in the same
    process then gets it back and parses directives as cells (not as Markdown)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from nbkit.pairing.convert import read_script, script_text\n"
        "nb = read_script(b'# %%\\nx = 1\\n', Path('a.py'), 'py:percent')\n"
        "assert [c['cell_type'] for c in nb['cells']] == ['code']\n"
        "assert 'markdown_it' not in sys.modules, 'MyST parser imported for a script'\n"
        "text = '# Title\\n\\n```{code-cell} ipython3\\ny = 2\\n```\\n'\n"
        "md = read_script(text.encode(), Path('a.md'), 'md:myst')\n"
        "assert [c['cell_type'] for c in md['cells']] == ['markdown', 'code'], md\n"
        "assert md['cells'][1]['source'] == 'y = 2'\n"
        "assert 'code-cell' in script_text(md, 'ipynb,md:myst', 'md:myst')\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
