"""``nbkit.record(name, value)``: log a result from inside a notebook as a display output.

This module uses only the standard library on purpose: its own source is what a kernel gets
as ``nbkit`` when nbkit is not installed there (``shim_source``), so the locked environment
never needs nbkit (whose index name, "nbkit", is another project) to record a result.
"""

from __future__ import annotations

import json
import math
from typing import Any

MIME_TYPE = "application/vnd.nbkit.record+json"
_MAX_VALUE_BYTES = 64 * 1024


def finite(value: Any) -> Any:
    """JSON has no NaN/inf: keep them readable as strings instead of writing invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    return value


def _check_value(name: str, value: Any) -> Any:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("nbkit.record: the name must be a non-empty string")
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars/arrays, pandas
        value = value.tolist()
    elif hasattr(value, "item") and callable(value.item):  # other array-likes' scalars
        value = value.item()
    value = finite(value)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"nbkit.record({name!r}): value is not JSON-serialisable: {exc}") from None
    if len(text) > _MAX_VALUE_BYTES:
        raise ValueError(f"nbkit.record({name!r}): value is larger than 64 KiB")
    return value


def record_value(
    name: str, value: Any = None, *, figure: Any = None, step: int | None = None
) -> None:
    """Display the record so it lands in the executed notebook's outputs."""
    value = _check_value(name, value)
    payload: dict[str, Any] = {"name": name, "value": value}
    label = f"{name} = {value!r}"
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"nbkit.record({name!r}): step must be an int")
        payload["step"] = step
        label = f"{name}[{step}] = {value!r}"
    bundle: dict[str, Any] = {MIME_TYPE: payload, "text/plain": label}
    if figure is not None:
        import base64
        import io

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        bundle["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    try:
        from IPython.display import display
    except ImportError:  # outside IPython: nothing to attach the record to
        print(bundle["text/plain"])
        return
    display(bundle, raw=True)  # type: ignore[no-untyped-call]


def shim_source() -> str:
    """Source of a stand-in ``nbkit`` module offering ``record``: this module's own code."""
    from pathlib import Path

    own = Path(__file__).read_text(encoding="utf-8")
    return own + "\nrecord = record_value\n__nbkit_shim__ = True\n"


# Run by a kernel before the first cell (see ``nbkit.runs.manifest.write_setup``): when the
# kernel's environment has no nbkit, ``import nbkit`` gets the stand-in. An installed nbkit
# wins, so a project that locks nbkit-git uses it.
_KERNEL_SHIM = """
def _nbkit_shim(source):
    import importlib.util, sys, types
    if "nbkit" in sys.modules or importlib.util.find_spec("nbkit") is not None:
        return
    module = types.ModuleType("nbkit", "nbkit.record without nbkit installed")
    exec(compile(source, "<nbkit.record>", "exec"), module.__dict__)
    sys.modules["nbkit"] = module
_nbkit_shim(%s)
del _nbkit_shim
"""


def kernel_shim() -> str:
    """Start-up code giving a kernel ``import nbkit`` / ``nbkit.record`` (data, not user code)."""
    return _KERNEL_SHIM % json.dumps(shim_source())
