"""A real HAProxy (Debian's ``haproxy``) in front of several HTTP servers, for tests.

Usage::

    with HaProxy([("cp1", 8081), ("cp2", 8082)], health_path="/ready") as lb:
        httpx.get(f"{lb.url}/health")

It writes its own config into a temp folder, listens on a free loopback port, checks each
backend's ``health_path`` every 300 ms (down after 2 failed or 3 s slow checks, up after 1
success), balances round robin (``X-Served-By`` names the backend that answered), and
re-dispatches a request whose connection to a backend fails to another one (``option
redispatch``, ``retries 2``). Requests already sent to a backend that dies are not
replayed: the client sees a 502 and retries itself. Stopped (and the folder removed) in
``finally``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.redis_server import free_port
from tests.support.service import StartedService

HAPROXY_BINARY = "haproxy"

_CONFIG = """\
global
    maxconn 2000
    log stderr format raw local0 notice

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 30s
    timeout check 3s
    retries 2
    option redispatch
    option http-keep-alive

frontend api
    bind 127.0.0.1:{port}
    default_backend control_planes

backend control_planes
    balance roundrobin
    option httpchk GET {health_path}
    default-server check inter 300ms fall 2 rise 1
    http-response set-header X-Served-By %s
{servers}
"""


class HaProxy(StartedService):
    """``haproxy`` on a free port balancing ``backends`` (name, port on 127.0.0.1)."""

    def __init__(self, backends: list[tuple[str, int]], *, health_path: str = "/ready") -> None:
        binary = shutil.which(HAPROXY_BINARY) or shutil.which(f"/usr/sbin/{HAPROXY_BINARY}")
        if binary is None:
            raise RuntimeError(
                "haproxy not found: install it (`make system-packages` does: apt-get install "
                "haproxy)"
            )
        self.binary = binary
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="mlserve-haproxy-"))
        self.config_path = self.workdir / "haproxy.cfg"
        servers = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in backends)
        self.config_path.write_text(
            _CONFIG.format(port=self.port, health_path=health_path, servers=servers)
        )
        self.log_path = self.workdir / "haproxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> HaProxy:
        check = subprocess.run(
            [self.binary, "-c", "-f", str(self.config_path)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"invalid haproxy config: {check.stdout}{check.stderr}")
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [self.binary, "-db", "-f", str(self.config_path)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log_path.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"haproxy not listening on {self.port} after {timeout_s}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)
