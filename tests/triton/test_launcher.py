"""The embedded Triton is supervised: killed, it comes back with its models, and the
control plane answers 503 meanwhile and recovers without a restart."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import train_sentiment
from mlserve.settings import Settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.redis_server import free_port
from tests.support.triton_server import TritonServer


def test_killed_triton_is_restarted_and_the_api_recovers_on_its_own(tmp_path: Path) -> None:
    # The control plane's own supervised Triton, as `mlserve up` runs it.
    repository = ModelRepository(tmp_path / "model_repository", ServingOptions())
    repository.publish_version(train_sentiment(1), "sentiment")
    settings = Settings(
        models_dir=repository.root,
        triton={"http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port()},
        server={"host": "127.0.0.1", "port": free_port()},
        auth={"state_path": tmp_path / "platform.sqlite3"},
    )
    with ControlPlaneServer(settings) as control_plane:
        embedded = control_plane.app.state.stack.embedded
        assert embedded is not None
        http = httpx.Client(base_url=control_plane.base_url, timeout=30)
        assert http.post("/predict", json={"text": "great", "timeout_ms": 2000}).status_code == 200
        old_pid = embedded.pid
        assert old_pid is not None

        os.kill(old_pid, signal.SIGKILL)
        errors: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = http.post(
                "/predict", json={"text": f"great {len(errors)}", "timeout_ms": 2000}
            )
            if response.status_code == 200:
                break
            # Never a 504: while it restarts and reloads, nothing is sent to wait in Triton.
            assert response.status_code == 503, response.text
            errors.append(response.json()["error"])
            time.sleep(0.05)
        else:
            raise AssertionError(f"no 200 within 60 s after the kill; last: {errors[-1:]}")

        assert any("is restarting" in error for error in errors), errors
        assert all("Triton" in error for error in errors), errors
        assert embedded.pid != old_pid
        assert embedded.restarts == 1
        assert http.get("/ready").status_code == 200


def test_launcher_stops_cleanly_and_releases_its_ports() -> None:
    triton = TritonServer().start()
    http_url = triton.http_url
    started = time.monotonic()
    triton.stop()
    assert time.monotonic() - started < 20
    try:
        httpx.get(f"{http_url}/v2/health/live", timeout=1)
        raise AssertionError("tritonserver still answers after stop()")
    except httpx.HTTPError:
        pass
