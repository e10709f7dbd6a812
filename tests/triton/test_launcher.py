"""The embedded Triton is supervised: killed, it comes back with its models, and the
control plane answers 503 meanwhile and recovers without a restart."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import httpx

from mlserve.samples.sentiment_model import train_sentiment
from tests.conftest import stack_settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.triton_server import TritonServer


def test_killed_triton_is_restarted_and_the_api_recovers_on_its_own() -> None:
    with TritonServer() as triton:
        triton.repository.publish_version(train_sentiment(1), "sentiment")
        triton.server.load_model("sentiment")
        settings = stack_settings(triton, Path(tempfile.mkdtemp()))
        with ControlPlaneServer(settings) as control_plane:
            http = httpx.Client(base_url=control_plane.base_url, timeout=30)
            assert (
                http.post("/predict", json={"text": "great", "timeout_ms": 2000}).status_code == 200
            )
            old_pid = triton.server.pid
            assert old_pid is not None

            os.kill(old_pid, signal.SIGKILL)
            statuses: list[int] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                response = http.post(
                    "/predict", json={"text": f"great {len(statuses)}", "timeout_ms": 2000}
                )
                statuses.append(response.status_code)
                if response.status_code == 200:
                    break
                assert response.status_code == 503, response.text
                assert "Triton" in response.json()["error"]
                time.sleep(0.05)

            assert statuses[-1] == 200, statuses
            assert 503 in statuses
            assert triton.server.pid != old_pid
            assert triton.server.restarts == 1
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
