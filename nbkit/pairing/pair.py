"""``nbkit pair``: create a notebook's paired script and record the pairing in the notebook."""

from __future__ import annotations

from pathlib import Path

from nbkit import notebook
from nbkit.config import Config
from nbkit.errors import BadInput, ConflictError
from nbkit.pairing.convert import inputs_of, read_script, script_text, with_pairing, write_script
from nbkit.pairing.languages import language_of
from nbkit.pairing.paths import Pair, formats_for, notebook_formats, pair_from, real_folder


def pairing_formats(nb: notebook.Notebook, config: Config, fmt: str | None) -> str:
    """The formats string a notebook gets: ``--format`` (a text format or a whole formats
    string), else the notebook's own pairing, else the project's."""
    if fmt:
        return fmt if "," in fmt else f"ipynb,{fmt}"
    return notebook_formats(nb) or config.formats


def pair_notebook(notebook_path: Path, config: Config, fmt: str | None = None) -> Pair:
    """Create the paired script (default ``config.formats``, e.g. py:percent next to it, or a
    mirror folder such as "notebooks///ipynb,scripts///py:percent") and record the pairing
    in the notebook metadata the way jupytext does (metadata.jupytext.formats).

    An existing script with the same cells is kept; one with different cells is a
    ``ConflictError`` (sync decides those). Nothing is written when conversion would lose a
    cell.
    """
    path = real_folder(notebook_path)
    if path.suffix != ".ipynb":
        raise BadInput("not a notebook (.ipynb)", notebook_path)
    original = notebook.read_bytes(path)
    nb = notebook.loads(original, notebook_path)
    formats = pairing_formats(nb, config, fmt)
    language = language_of(nb.get("metadata", {}))
    pair = pair_from(path, formats, config, lambda _path: language)
    if pair is None:
        raise BadInput(f"does not fit the paired formats {formats!r}", notebook_path)
    formats = formats_for(pair, formats)  # recorded as jupytext records it: ipynb,R:percent
    paired = with_pairing(nb, formats)
    if pair.script.exists():
        existing = read_script(notebook.read_bytes(pair.script), pair.script, pair.fmt)
        if inputs_of(existing) != inputs_of(nb):
            raise ConflictError(
                f"already exists and differs from {notebook_path}; nothing was written",
                pair.script,
                hint=f"nbkit sync --prefer notebook|script {notebook_path}",
            )
        script_text(paired, formats, pair.fmt, pair.script)  # formats must be writable by jupytext
    else:
        write_script(pair, paired, formats)
    notebook.write(path, paired, original=original)
    return pair
