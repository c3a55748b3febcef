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
