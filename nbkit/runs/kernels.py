"""Which kernel runs a notebook, and why; and a kernel manager that cannot race for ports.

Choice, first match wins, recorded in the manifest with the reason:
``--kernel`` > the project's locked-environment kernel > the notebook's kernelspec when it is
installed > this interpreter (``sys.executable``), through a spec built on the fly rather
than whatever ``python3`` happens to be installed.

Kernels talk over the IPC transport with sockets in a private temp folder, so parallel runs
never pick the same TCP port (papermill's ``ZMQError: Address already in use``). Where pyzmq
has no IPC sockets (Windows) they fall back to TCP on the loopback interface only, with
ports from jupyter_client's port cache (never one this process already handed out to a
kernel); ``NBKIT_KERNEL_TRANSPORT=tcp`` forces that path anywhere.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any, NamedTuple

from nbkit.errors import BadInput
from nbkit.notebook import Notebook

CURRENT = "nbkit-current-python"  # the name a kernel for sys.executable is recorded under
TRANSPORT_ENV = "NBKIT_KERNEL_TRANSPORT"  # "ipc" or "tcp"; unset: ipc where pyzmq has it
LOOPBACK = "127.0.0.1"


class KernelChoice(NamedTuple):
    name: str
    source: str  # "option" | "project" | "notebook" | "interpreter"
    reason: str
    argv: tuple[str, ...] = ()  # set only for "interpreter": the command papermill runs
    ipykernel: bool = True  # an IPython kernel: takes a startup file (kernel facts, audit)


def installed() -> dict[str, str]:
    """Installed kernelspecs: name -> resource folder."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs: dict[str, str] = KernelSpecManager().find_kernel_specs()
    return specs


def _project_kernel(root: Path) -> str | None:
    try:
        from nbkit.env.venv import project_kernel  # built by the environments engineer
    except ImportError:
        return None
    name = project_kernel(root)
    return str(name) if name else None


def _is_ipykernel(name: str) -> bool:
    """Whether the kernelspec starts ipykernel (which accepts IPKernelApp options)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(name).argv
    except (NoSuchKernel, OSError, ValueError):
        return False
    return any("ipykernel" in str(part) for part in argv)


def _language(nb: Notebook) -> str:
    from nbkit.runs.params import language

    return language(nb)


def interpreter_argv(python: str = sys.executable) -> tuple[str, ...]:
    return (python, "-m", "ipykernel_launcher", "-f", "{connection_file}")


def choose(
    root: Path, nb: Notebook, requested: str | None, path: str | Path = "--kernel"
) -> KernelChoice:
    """Pick the kernel; an unknown ``requested`` name is bad input."""
    specs = installed()
    if requested:
        if requested == CURRENT:
            return KernelChoice(CURRENT, "option", "--kernel", interpreter_argv())
        if requested not in specs:
            listed = ", ".join(sorted(specs)) or "none"
            raise BadInput(
                f"unknown kernel {requested!r} (installed: {listed})",
                "--kernel",
                hint="jupyter kernelspec list shows them; nbkit env registers the project's",
            )
        return KernelChoice(requested, "option", "--kernel", ipykernel=_is_ipykernel(requested))
    spec = nb.get("metadata", {}).get("kernelspec") or {}
    name = spec.get("name") if isinstance(spec, dict) else None
    language = _language(nb)
    if language != "python":  # never a Python kernel for an R or Julia notebook
        if isinstance(name, str) and name in specs:
            reason = "the notebook's kernelspec is installed"
            return KernelChoice(name, "notebook", reason, ipykernel=_is_ipykernel(name))
        raise BadInput(
            f"the notebook's {language} kernel {name!r} is not installed",
            path,
            hint="install it (jupyter kernelspec list shows what is), or pass --kernel NAME",
        )
    project = _project_kernel(root)
    if project and project in specs:
        return KernelChoice(
            project, "project", "the project's locked environment kernel", ipykernel=True
        )
    if isinstance(name, str) and name in specs:
        return KernelChoice(
            name,
            "notebook",
            "the notebook's kernelspec is installed",
            ipykernel=_is_ipykernel(name),
        )
    why = f"notebook kernel {name!r} is not installed" if name else "notebook names no kernel"
    return KernelChoice(
        CURRENT, "interpreter", f"{why}; using nbkit's interpreter", interpreter_argv()
    )


def transport() -> str:
    """The kernel transport on this machine: ``ipc`` where pyzmq has IPC sockets, else
    ``tcp``; ``NBKIT_KERNEL_TRANSPORT`` forces one (``ipc`` where there is none is refused)."""
    forced = os.environ.get(TRANSPORT_ENV, "").strip().lower()
    if forced not in ("", "ipc", "tcp"):
        raise BadInput(
            f"{TRANSPORT_ENV}={forced[:40]!r} is not a kernel transport",
            TRANSPORT_ENV,
            hint="set it to tcp or ipc, or unset it",
        )
    if forced == "tcp":
        return "tcp"
    import zmq

    if zmq.has("ipc"):
        return "ipc"
    if forced == "ipc":
        raise BadInput(
            "this pyzmq has no IPC sockets (Windows)",
            TRANSPORT_ENV,
            hint="unset it: kernels use TCP on 127.0.0.1 here",
        )
    return "tcp"


def signal_kernel(pid: int, *, kill: bool) -> None:
    """Interrupt (SIGINT) or kill (SIGKILL) the kernel's process group where the platform
    has process groups. Without them (Windows) a kill terminates the process, and an
    interrupt is left to the kernel manager (``os.kill`` with CTRL_C_EVENT would reach this
    console's processes, nbkit included)."""
    killpg = getattr(os, "killpg", None)
    getpgid = getattr(os, "getpgid", None)
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if killpg is not None and getpgid is not None:
            sig = getattr(signal, "SIGKILL", signal.SIGTERM) if kill else signal.SIGINT
            if getpgid(pid) == pid:
                killpg(pid, sig)
            else:
                os.kill(pid, sig)
        elif kill:
            os.kill(pid, signal.SIGTERM)  # TerminateProcess on Windows


@functools.cache
def manager_class() -> type[Any]:
    """The kernel manager papermill/nbclient should create (imported lazily: jupyter_client);
    one class per process, configured per run through traitlets config."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import List, Unicode

    class NbkitKernelManager(AsyncKernelManager):
        """AsyncKernelManager with an optional explicit argv (no installed spec needed) that
        writes the kernel's pid to ``pid_file``, so the waiting thread can interrupt it."""

        spec_argv = List(Unicode(), config=True)
        pid_file = Unicode("", config=True)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            await super().start_kernel(**kw)
            pid = getattr(self.provisioner, "pid", None)
            if self.pid_file and isinstance(pid, int):
                Path(self.pid_file).write_text(str(pid), encoding="ascii")

        @property
        def kernel_spec(self) -> Any:
            if self.spec_argv and self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=list(self.spec_argv),
                    display_name=f"Python {sys.version_info.major}.{sys.version_info.minor}",
                    language="python",
                    metadata={"debugger": False},
                )
            return super().kernel_spec

    return NbkitKernelManager


def engine_config(choice: KernelChoice, ipc_prefix: str, pid_file: Path) -> Any:
    """traitlets config handed to nbclient: IPC sockets at ``ipc_prefix`` (or TCP on the
    loopback where IPC is not available), explicit argv, where to write the kernel's pid."""
    from traitlets.config import Config

    manager: dict[str, Any] = {"transport": "ipc", "ip": ipc_prefix, "pid_file": str(pid_file)}
    if transport() == "tcp":
        manager.update(transport="tcp", ip=LOOPBACK, cache_ports=True)
    if choice.argv:
        manager["spec_argv"] = list(choice.argv)
    return Config({"NbkitKernelManager": manager})
