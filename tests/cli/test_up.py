"""``mlserve up`` on an empty repository: sample models, embedded Triton, the API; Ctrl-C
or SIGTERM stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlserve.repository.store import ModelRepository
from tests.support.redis_server import free_port


@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM (docker stop)"]
)
def test_up_serves_the_sample_model_end_to_end_and_stops_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    triton_http = free_port()
    env = {
        **os.environ,
        "MLSERVE_MODELS_DIR": str(tmp_path / "model_repository"),
        "MLSERVE_TRITON__HTTP_PORT": str(triton_http),
    }
    process, base = _start_up(tmp_path, env)
    try:
        _wait_ready(base, process)
        # As the README's curl sends it: `curl -X POST .../predict -d '{"text": ...}'`.
        response = httpx.post(
            f"{base}/predict",
            content=b'{"text": "This product is amazing!"}',
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["label"] == "positive"
        assert 0.5 < body["confidence"] <= 1.0
        assert body["latency_ms"] > 0
        assert body["triton_ms"] > 0
        assert body["model_version"] == "sentiment-v2"
        repository = ModelRepository(tmp_path / "model_repository")
        assert repository.versions("sentiment") == [1, 2]
    finally:
        process.send_signal(stop)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "/predict" in output
    try:
        httpx.get(f"http://127.0.0.1:{triton_http}/v2/health/live", timeout=1)
        raise AssertionError(f"Triton still runs after {stop.name}")
    except httpx.HTTPError:
        pass


def test_up_refuses_a_busy_port_with_one_line(tmp_path: Path) -> None:
    with _Listening() as port:
        result = subprocess.run(
            [sys.executable, "-m", "mlserve.cli.main", "up", "--port", str(port), "--no-samples"],
            env={**os.environ, "MLSERVE_MODELS_DIR": str(tmp_path / "repo")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port}" in result.stderr
    assert "already in use" in result.stderr


def _start_up(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``mlserve up --no-transformer`` in ``tmp_path`` with ``env``, on free ports (its own
    and Triton's); the process and its base URL."""
    port = free_port()
    env = {
        "MLSERVE_TRITON__HTTP_PORT": str(free_port()),
        "MLSERVE_TRITON__GRPC_PORT": str(free_port()),
        "MLSERVE_TRITON__METRICS_PORT": str(free_port()),
        **env,
    }
    command = [sys.executable, "-m", "mlserve.cli.main", "up", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--no-transformer"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("mlserve up not ready after 180s")


class _Listening:
    """A socket listening on a free port, for the busy-port case."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        return int(self.sock.getsockname()[1])

    def __exit__(self, *args: object) -> None:
        self.sock.close()


SEED_S1_CONFIG = """\
# config.yaml
models_dir: ./models
default_model: sentiment-v2
max_batch_size: 32
batch_timeout_ms: 50
cache:
  enabled: true
  ttl_seconds: 3600
  max_size: 10000
monitoring:
  enabled: true
  port: 9090
"""


def test_up_with_seed_s1_config_as_written_serves_every_sample_kind(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(SEED_S1_CONFIG)
    metrics_port = free_port()
    env = {  # ports moved off the seed's defaults so tests never collide; the file is verbatim
        **{k: v for k, v in os.environ.items() if not k.startswith("MLSERVE_")},
        "MLSERVE_MONITORING__PORT": str(metrics_port),
    }
    process, base = _start_up(tmp_path, env)
    try:
        _wait_ready(base, process)
        s1 = httpx.post(f"{base}/predict", json={"text": "This product is amazing!"})
        s1_v1 = httpx.post(f"{base}/predict", json={"text": "great", "model_version": "v1"})
        s4 = httpx.post(
            f"{base}/predict",
            json={"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
        )
        rules = httpx.post(
            f"{base}/predict", json={"model": "iris-rules", "features": [[5.1, 3.5, 1.4, 0.2]]}
        )
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")

        assert s1.status_code == 200, s1.text
        assert s1.json()["model_version"] == "sentiment-v2"  # the seed's default_model
        assert s1_v1.json()["model_version"] == "sentiment-v1"
        assert s4.json()["prediction"] == "setosa"
        assert rules.json()["prediction"] == "setosa"
        assert metrics.status_code == 200
        assert 'mlserve_requests_total{endpoint="predict"' in metrics.text
        assert sorted(ModelRepository(tmp_path / "models").model_names()) == [
            "iris",
            "iris-rules",
            "sentiment",
        ]
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    curl = f'curl -X POST {base}/predict -d \'{{"text": "This product is amazing!"}}\''
    assert any(curl in line for line in output.splitlines()), output
