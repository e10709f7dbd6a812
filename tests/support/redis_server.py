"""A real ``redis-server`` for tests: free port, private temp dir, no persistence.

Usage::

    with redis_server_url() as url:             # just the URL
        ...

    with RedisServer() as server:               # stop/start on the same port for outages
        server.stop()
        server.start()
        server.pause()                          # SIGSTOP: a hung Redis
        server.resume()

The server is started with ``--save "" --appendonly no --dir <tmp>`` (``options`` override
them) so it writes nothing outside its temp dir, and is stopped (then the dir removed) in
``finally``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

REDIS_BINARY = "redis-server"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def ping(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """True when a Redis answers ``PING`` at ``host:port`` (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on a fixed port, restartable for outage tests."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 10.0,
        options: dict[str, str] | None = None,
    ) -> None:
        """``options`` add to or override the command-line options (e.g.
        ``{"--maxmemory": "2mb", "--maxmemory-policy": "allkeys-lru"}``)."""
        binary = shutil.which(REDIS_BINARY)
        if binary is None:
            raise RuntimeError(
                f"{REDIS_BINARY} not found on PATH: install it (apt-get install redis-server)"
            )
        self.binary = binary
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout_s = startup_timeout_s
        self.options = dict(options or {})
        self.workdir = Path(tempfile.mkdtemp(prefix="mlserve-redis-"))
        self.log_path = self.workdir / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://host:port/0``."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait (bounded) until it answers ``PING``."""
        if self.running:
            return
        options = {
            "--port": str(self.port),
            "--bind": self.host,
            "--save": "",
            "--appendonly": "no",
            "--dir": str(self.workdir),
            "--logfile": str(self.log_path),
            "--daemonize": "no",
            **self.options,
        }
        self._process = subprocess.Popen(
            [self.binary, *(part for pair in options.items() for part in pair)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self._process.returncode} on port {self.port}: "
                    f"{self._log_tail()}"
                )
            if ping(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"redis-server on port {self.port} did not answer PING within "
            f"{self.startup_timeout_s} s: {self._log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); the port stays reserved for it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        """Stop, then start again on the same port (data is gone: nothing is persisted)."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections open but nothing answers, like a hung host."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and remove its temp dir."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"


@contextmanager
def redis_server_url(*, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Run a fresh ``redis-server`` for the block and yield its URL."""
    with RedisServer(host=host, port=port) as server:
        yield server.url
