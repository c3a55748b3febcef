"""``nbkit pair``: create a notebook's paired script and record the pairing in the notebook."""

from __future__ import annotations

from pathlib import Path

from nbkit import notebook
from nbkit.config import Config
from nbkit.errors import BadInput, ConflictError
from nbkit.pairing.convert import (
    has_header,
    inputs_of,
    read_script,
    script_text,
    with_pairing,
    write_script,
)
from nbkit.pairing.languages import language_of
from nbkit.pairing.paths import (
    Pair,
    declared_for,
    formats_for,
    jupytext_declared,
    notebook_formats,
    pair_from,
    real_folder,
)


def pairing_formats(nb: notebook.Notebook, config: Config, fmt: str | None, path: Path) -> str:
    """The formats string a notebook gets: ``--format`` (a text format or a whole formats
    string), else the notebook's own pairing, else what the project (nbkit's or jupytext's
    configuration) declares for it, else the default."""
    if fmt:
        return fmt if "," in fmt else f"ipynb,{fmt}"
    return notebook_formats(nb) or declared_for(path, config) or config.formats


def recorded(
    nb: notebook.Notebook, formats: tuple[str, str], path: Path, config: Config, header: bool
) -> notebook.Notebook:
    """``nb`` as pairing leaves it: unchanged when it records its pairing already or when
    jupytext's configuration declares it (jupytext pairs it by that configuration: formats
    written into the notebook would override the team's configuration for jupytext too).
    ``formats``: as declared (``auto`` unresolved) and as recorded (resolved)."""
    declared, resolved = formats
    if notebook_formats(nb) == resolved or jupytext_declared(path, config) == declared:
        return nb
    return with_pairing(nb, resolved, header=header)


def pair_notebook(notebook_path: Path, config: Config, fmt: str | None = None) -> Pair:
    """Create the paired script (``pairing_formats``: e.g. py:percent next to it, or a
    mirror folder such as "notebooks///ipynb,scripts///py:percent") and record the pairing
    in the notebook metadata the way jupytext does (metadata.jupytext.formats), unless
    jupytext's configuration declares it (``recorded``).

    An existing script with the same cells is kept; one with different cells is a
    ``ConflictError`` (sync decides those). Nothing is written when conversion would lose a
    cell.
    """
    path = real_folder(notebook_path)
    if path.suffix != ".ipynb":
        raise BadInput("not a notebook (.ipynb)", notebook_path)
    original = notebook.read_bytes(path)
    nb = notebook.loads(original, notebook_path)
    formats = pairing_formats(nb, config, fmt, path)
    language = language_of(nb.get("metadata", {}))
    pair = pair_from(path, formats, config, lambda _path: language)
    if pair is None:
        raise BadInput(f"does not fit the paired formats {formats!r}", notebook_path)
    declared = formats  # as the configuration names it (auto: not resolved)
    formats = formats_for(pair, formats)  # recorded as jupytext records it: ipynb,R:percent
    script_data = notebook.read_bytes(pair.script) if pair.script.exists() else None
    paired = recorded(nb, (declared, formats), path, config, has_header(script_data))
    if script_data is not None:
        existing = read_script(script_data, pair.script, pair.fmt)
        if inputs_of(existing) != inputs_of(nb):
            raise ConflictError(
                f"already exists and differs from {notebook_path}; nothing was written",
                pair.script,
                hint=f"nbkit sync --prefer notebook|script {notebook_path}",
            )
        script_text(paired, formats, pair.fmt, pair.script)  # jupytext must be able to write it
    else:
        write_script(pair, paired, formats)
    notebook.write(path, paired, original=original)
    return pair
