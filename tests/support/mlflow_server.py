"""A real ``mlflow server`` for tests: free port, SQLite backend store, local artifacts.

Usage::

    with mlflow_server() as url:               # http://127.0.0.1:<port>
        client = MlflowClient(tracking_uri=url)

Everything it writes lives in a temp dir removed on exit; the server is stopped in
``finally``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.redis_server import free_port

MLFLOW = Path(sys.executable).with_name("mlflow")


@contextmanager
def mlflow_server(startup_timeout_s: float = 90.0) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mlserve-mlflow-server-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (Path(tmp) / "server.log").open("wb")
        process = subprocess.Popen(
            [
                str(MLFLOW),
                "server",
                "--backend-store-uri",
                f"sqlite:///{tmp}/mlflow.db",
                "--artifacts-destination",
                f"{tmp}/artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            start_new_session=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": ""},
        )
        try:
            deadline = time.monotonic() + startup_timeout_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"mlflow server exited: {(Path(tmp) / 'server.log').read_text()[-2000:]}"
                    )
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not answer /health in time")
                time.sleep(0.3)
            yield url
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            log.close()
