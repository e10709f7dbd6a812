"""Two control planes and two Tritons behind a real HAProxy, sharing one model repository
and one durable Redis: the replica setup of docs/scaling.md, Replicas, on free loopback ports.

* a Redis for platform state (``noeviction``, ``appendonly yes``: what ``mlserve up``
  accepts for state);
* two tritonservers (the project's launcher, EXPLICIT mode) on the same repository;
* two ``mlserve up --no-samples`` processes, control plane *i* sending inference to Triton
  *i*, both listing both Tritons in ``MLSERVE_TRITON__REPLICAS``;
* HAProxy in front of the control planes (health check ``/ready``).

Everything is stopped in ``finally``; :meth:`ReplicaStack.kill` SIGKILLs one control plane.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mlserve.triton.launcher import EmbeddedTriton
from tests.support.haproxy import HaProxy
from tests.support.redis_server import RedisServer, free_port

DURABLE_REDIS = {"--maxmemory-policy": "noeviction", "--appendonly": "yes"}
ADMIN_USER, ADMIN_PASSWORD = "admin", "replica-admin-password-1"


@dataclass
class ControlPlaneProcess:
    """One ``mlserve up`` process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@dataclass
class ReplicaStack:
    repository: Path
    tritons: list[EmbeddedTriton]
    control_planes: list[ControlPlaneProcess]
    redis: RedisServer
    haproxy: HaProxy
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.haproxy.url

    def kill(self, index: int) -> None:
        """SIGKILL control plane ``index`` (no shutdown, no lease hand-back)."""
        self.control_planes[index].process.send_signal(signal.SIGKILL)
        self.control_planes[index].process.wait(timeout=10)


def control_plane_env(
    repository: Path, own: EmbeddedTriton, tritons: list[EmbeddedTriton], redis_url: str
) -> dict[str, str]:
    """The environment of a control plane of the replica setup (inference to ``own``)."""
    return {
        **os.environ,
        "MLSERVE_CONFIG": "/nonexistent/config.yaml",
        "MLSERVE_MODELS_DIR": str(repository),
        "MLSERVE_TRITON_URL": own.grpc_url,
        "MLSERVE_TRITON__HTTP_URL": own.http_url,
        "MLSERVE_TRITON__METRICS_URL": own.metrics_url,
        "MLSERVE_TRITON__REPLICAS": json.dumps([t.grpc_url for t in tritons]),
        "MLSERVE_AUTH__STATE_REDIS_URL": redis_url,
        "MLSERVE_ADMIN_USER": ADMIN_USER,
        "MLSERVE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLSERVE_WEBHOOK_ALLOW_PRIVATE": "true",
        "MLSERVE_AUTH__WEBHOOK_TIMEOUT_S": "3",
        "MLSERVE_AUTH__WEBHOOK_LEASE_SECONDS": "6",
        "MLSERVE_LOGGING__REQUESTS": "false",
        "MLSERVE_SERVER__HOST": "127.0.0.1",
    }


def start_control_plane(name: str, env: dict[str, str], workdir: Path) -> ControlPlaneProcess:
    port = free_port()
    log_path = workdir / f"{name}.log"
    mlserve = str(Path(sys.executable).parent / "mlserve")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [mlserve, "up", "--no-samples", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ControlPlaneProcess(name, port, process, log_path)


def wait_ready(plane: ControlPlaneProcess, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if plane.process.poll() is not None:
            raise RuntimeError(f"{plane.name} exited at start: {plane.log_tail()}")
        try:
            if httpx.get(f"{plane.url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{plane.name} not ready after {timeout_s}s: {plane.log_tail()}")


@contextmanager
def replica_stack(root: Path, models: list[str]) -> Iterator[ReplicaStack]:
    """The 2 x 2 setup over the repository ``root / "model_repository"`` (already holding
    ``models``, loaded into both Tritons at start)."""
    repository = root / "model_repository"
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(options=DURABLE_REDIS))
        tritons = [
            EmbeddedTriton(
                repository,
                workdir=root / f"triton{i}",
                http_port=free_port(),
                grpc_port=free_port(),
                metrics_port=free_port(),
                startup_timeout_s=120,
            )
            for i in (1, 2)
        ]
        for triton in tritons:
            stack.callback(triton.stop)
        errors: list[BaseException] = []

        def start(triton: EmbeddedTriton) -> None:
            try:
                triton.start(models)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(t,)) for t in tritons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        planes = []
        for i, triton in enumerate(tritons, start=1):
            env = control_plane_env(repository, triton, tritons, redis.url)
            plane = start_control_plane(f"cp{i}", env, root)
            stack.callback(_stop_process, plane.process)
            planes.append(plane)
        for plane in planes:
            wait_ready(plane)
        haproxy = stack.enter_context(HaProxy([(p.name, p.port) for p in planes]))
        yield ReplicaStack(repository, tritons, planes, redis, haproxy, env)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
