"""What the upload sandbox's child process does to itself before it reads an upload.

Enforced, in this order (:func:`confine`):

1. **Resource limits** (``setrlimit``): address space (``RLIMIT_AS``), CPU seconds
   (``RLIMIT_CPU``: the kernel kills the process past it), largest file it may write
   (``RLIMIT_FSIZE``), open files (``RLIMIT_NOFILE``), no core dumps.
2. **No network**: a new user + network namespace (``unshare(CLONE_NEWUSER |
   CLONE_NEWNET)``) where no interface is up, so no socket can reach anything. Where the
   kernel refuses namespaces (some container runtimes) this step is reported as not
   enforced and step 3 still refuses every socket.
3. **An audit hook** (:pep:`578`) that, for the rest of the process's life, refuses:
   creating or using sockets; starting processes (``subprocess``, ``os.system``,
   ``os.exec*``, ``os.spawn*``, ``os.posix_spawn``, ``fork``) and sending signals; opening
   a file for writing, and removing, renaming, linking or changing files, anywhere outside
   the sandbox's private temp dir. Reads are allowed (libraries import lazily).

The hook runs in Python: native code inside an allowed library could still bypass it,
which is why the allowlist (:mod:`mlserve.platform.model_screening`) decides what runs at
all, and the limits and namespace hold regardless.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "pty.spawn",
        "os.startfile",
        "webbrowser.open",
    }
)
_PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "shutil.chown",
    }
)


class SandboxViolationError(PermissionError):
    """Raised by the audit hook: the upload tried something the sandbox forbids."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox run."""

    memory_bytes: int
    cpu_seconds: int
    file_bytes: int
    open_files: int = 256


def confine(private_dir: Path, limits: Limits) -> dict[str, bool]:
    """Apply limits, leave the network, install the audit hook. Returns what is enforced:
    ``{"rlimits": True, "network_namespace": bool, "audit_hook": True}``."""
    _set_limit(resource.RLIMIT_AS, limits.memory_bytes)
    _set_limit(resource.RLIMIT_CPU, limits.cpu_seconds)
    _set_limit(resource.RLIMIT_FSIZE, limits.file_bytes)
    _set_limit(resource.RLIMIT_NOFILE, limits.open_files)
    _set_limit(resource.RLIMIT_CORE, 0)
    namespace = _leave_network()
    install_audit_hook(private_dir)
    return {"rlimits": True, "network_namespace": namespace, "audit_hook": True}


def _set_limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _leave_network() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)) == 0
    except (OSError, AttributeError):
        return False


def install_audit_hook(private_dir: Path) -> None:
    """Refuse sockets, processes and file changes outside ``private_dir`` from now on."""
    root = os.path.realpath(private_dir) + os.sep

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor; opening it was checked
        try:
            text = os.fsdecode(path)
        except TypeError:
            return False
        return (os.path.realpath(text) + os.sep).startswith(root)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith("socket."):
            raise SandboxViolationError(f"network access ({event}) is not allowed while loading")
        if event in _PROCESS_EVENTS:
            raise SandboxViolationError(
                f"starting processes ({event}) is not allowed while loading"
            )
        if event == "open":
            path, mode, flags = (*args, None, None, 0)[:3]
            writes = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _WRITE_FLAGS)
            if writes and not inside(path):
                raise SandboxViolationError(f"writing {path!r} is not allowed while loading")
        elif event in _PATH_EVENTS:
            paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
            if not all(inside(p) for p in paths):
                raise SandboxViolationError(f"{event} outside the sandbox is not allowed")

    sys.addaudithook(hook)
