"""A throwaway ``mlserve up`` for benchmark scripts: free ports, own folder, stopped after.

    with local_stack(folder) as stack:          # sample models, embedded Triton
        ... stack.url, stack.triton_grpc, stack.triton_http, stack.pid ...

``mlserve_up`` starts a control plane with extra environment (e.g. in front of an existing
Triton: :func:`external_triton_env`); ``asgi_floor`` the same server answering a fixed answer
(:mod:`mlserve.benchmarking.asgi_floor`). Failures end the script with a one-line reason and
the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class LocalStack:
    """Where a stack started by :func:`local_stack` answers."""

    url: str
    triton_grpc: str
    triton_http: str
    triton_metrics: str
    models_dir: Path
    pid: int
    """The ``mlserve up`` process; Triton and its stubs run below it."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_stack(
    folder: Path, *, workers: int | None = None, env: dict[str, str] | None = None
) -> Iterator[LocalStack]:
    """``mlserve up`` with the sample models in ``folder`` and an embedded Triton on free
    ports (plus ``env`` settings); stopped (Triton included) when the block ends."""
    http, grpc, metrics = free_port(), free_port(), free_port()
    env = {
        **(env or {}),
        "MLSERVE_MODELS_DIR": str(folder / "model_repository"),
        "MLSERVE_TRITON__HTTP_PORT": str(http),
        "MLSERVE_TRITON__GRPC_PORT": str(grpc),
        "MLSERVE_TRITON__METRICS_PORT": str(metrics),
    }
    with _running_mlserve_up(env, folder, workers=workers) as (url, pid):
        yield LocalStack(
            url,
            f"127.0.0.1:{grpc}",
            f"http://127.0.0.1:{http}",
            f"http://127.0.0.1:{metrics}/metrics",
            folder / "model_repository",
            pid,
        )


def external_triton_env(
    grpc: str, http: str, metrics: str | None, models_dir: Path
) -> dict[str, str]:
    """Settings for an ``mlserve_up`` control plane in front of a running Triton (gRPC
    ``host:port``, HTTP and metrics URLs) serving ``models_dir``: it starts no Triton."""
    env = {
        "MLSERVE_MODELS_DIR": str(models_dir),
        "MLSERVE_TRITON_URL": grpc,
        "MLSERVE_TRITON__HTTP_URL": http,
    }
    if metrics:
        env["MLSERVE_TRITON__METRICS_URL"] = metrics
    return env


@contextlib.contextmanager
def mlserve_up(
    env_overrides: dict[str, str], cwd: Path, *, workers: int | None = None
) -> Iterator[str]:
    """``mlserve up --no-transformer`` on a free port with ``env_overrides``; its base URL.
    Its output goes to ``cwd/mlserve-up-<port>.log``; Ctrl-C'd when the block ends."""
    with _running_mlserve_up(env_overrides, cwd, workers=workers) as (url, _):
        yield url


@contextlib.contextmanager
def asgi_floor(cwd: Path, answer: bytes) -> Iterator[tuple[str, int]]:
    """The ASGI floor server answering ``answer`` on a free port: its base URL and pid.
    Its output goes to ``cwd/asgi-floor-<port>.log``; Ctrl-C'd when the block ends."""
    port = free_port()
    answer_file = cwd / f"asgi-floor-{port}.json"
    answer_file.write_bytes(answer)
    command = [sys.executable, "-m", "mlserve.benchmarking.asgi_floor", "--port", str(port)]
    command += ["--answer-file", str(answer_file)]
    log = cwd / f"asgi-floor-{port}.log"
    with _running("the ASGI floor", command, dict(os.environ), cwd, log, port) as started:
        yield started


@contextlib.contextmanager
def _running_mlserve_up(
    env_overrides: dict[str, str], cwd: Path, *, workers: int | None
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, **env_overrides}
    command = [sys.executable, "-m", "mlserve.cli.main", "up", "--port", str(port)]
    command += ["--no-transformer"] + (["--workers", str(workers)] if workers else [])
    log = cwd / f"mlserve-up-{port}.log"
    with _running("mlserve up", command, env, cwd, log, port) as started:
        yield started


@contextlib.contextmanager
def _running(
    what: str, command: list[str], env: dict[str, str], cwd: Path, log: Path, port: int
) -> Iterator[tuple[str, int]]:
    """``command`` serving HTTP on ``port``, once ``/ready`` answers 200; SIGINT at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(what, base, process, log, timeout_s=240)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(
    what: str, base: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited ({process.returncode}): {_tail(log)}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{what} at {base} not ready after {timeout_s:.0f} s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-8:])
    except OSError:
        return "(no log)"
