"""Several uvicorn workers behave as one control plane to Prometheus and to Triton.

* 10,000 ``/predict`` requests over 4 workers (uvicorn ``--workers 4`` in front of the test
  Triton, texts from a small pool so most are cheap cache hits): every scrape, whichever
  worker answers it, says exactly 10,000.
* ``mlserve up --workers 2`` publishes the samples and loads them into Triton once, and its
  scrape (the API port and `monitoring.port`) sums both workers; ``--workers`` above the
  cores is refused with one line.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlserve.benchmarking.config import BenchmarkConfig
from mlserve.benchmarking.local_stack import free_port, local_stack
from mlserve.benchmarking.targets import make_target
from mlserve.monitoring.worker_metrics import FLUSH_INTERVAL_S
from tests.support.triton_server import TritonServer

REQUESTS = 10_000
CLIENTS = 64


def predict_requests(metrics_text: str) -> float:
    """``mlserve_requests_total`` of the predict endpoint, all statuses."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "mlserve_requests_total" and sample.labels["endpoint"] == "predict"
    )


@pytest.fixture
def four_workers(triton_server: TritonServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """uvicorn with 4 workers of the control plane app; its URL and the snapshot folder."""
    port, exchange = free_port(), tmp_path / "worker-metrics"
    exchange.mkdir()
    env = {
        **os.environ,
        "MLSERVE_MODELS_DIR": str(triton_server.repository_path),
        "MLSERVE_TRITON_URL": triton_server.grpc_url,
        "MLSERVE_TRITON__HTTP_URL": triton_server.http_url,
        "MLSERVE_TRITON__METRICS_URL": triton_server.metrics_url,
        "MLSERVE_AUTH__STATE_PATH": str(tmp_path / "platform.sqlite3"),
        "MLSERVE_SERVER__WORKER_METRICS_DIR": str(exchange),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "--workers", "4"]
    command += ["--port", str(port), "--log-level", "warning"]
    command += ["mlserve.control_plane.app:app_from_environment"]
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while len(list(exchange.glob("*.json"))) < 4 or not _ready(url):
            assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "4 workers not up in 180 s"
            time.sleep(0.3)
        yield url, exchange
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def scrape(url: str) -> float:
    """Predict requests counted by one scrape, on a new connection (any worker answers)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return predict_requests((await client.get("/metrics")).text)


async def send_predicts(url: str, n: int) -> int:
    """``n`` /predict requests from :data:`CLIENTS` connections; how many failed."""
    config = BenchmarkConfig(url=url, model="sentiment", request_timeout_s=60)
    texts = [f"review {i % 50}: the screen is great, shipping was slow" for i in range(n)]
    failures = 0
    async with make_target(config, max_connections=CLIENTS) as target:

        async def client(start: int) -> None:
            nonlocal failures
            for text in texts[start::CLIENTS]:
                outcome = await target.send([text])
                failures += outcome.error is not None

        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return failures


async def test_one_scrape_sums_ten_thousand_predicts_over_four_workers(
    four_workers: tuple[str, Path],
) -> None:
    url, exchange = four_workers
    before = await scrape(url)

    assert await send_predicts(url, REQUESTS) == 0
    await asyncio.sleep(FLUSH_INTERVAL_S * 3)

    scrapes = [await scrape(url) for _ in range(6)]  # new connections: several workers
    assert [s - before for s in scrapes] == [REQUESTS] * 6
    per_worker = [
        sum(
            sample[2]
            for family in json.loads(path.read_text())["families"]
            if family["name"] == "mlserve_requests"
            for sample in family["samples"]
            if sample[0] == "mlserve_requests_total" and sample[1]["endpoint"] == "predict"
        )
        for path in exchange.glob("*.json")
    ]
    assert len(per_worker) == 4
    assert sum(per_worker) == before + REQUESTS
    assert sum(1 for count in per_worker if count > 0) >= 2, per_worker  # really spread


def test_mlserve_up_with_two_workers_publishes_and_loads_once(tmp_path: Path) -> None:
    metrics_port = free_port()  # monitoring.port too: every worker listens on it
    env = {"MLSERVE_MONITORING__PORT": str(metrics_port)}
    with local_stack(tmp_path, workers=2, env=env) as stack:
        for i in range(40):  # a connection each: both workers answer some
            httpx.post(f"{stack.url}/predict", json={"text": f"order {i} was great"}, timeout=30)
        time.sleep(FLUSH_INTERVAL_S * 3)
        assert predict_requests(httpx.get(f"{stack.url}/metrics").text) == 40
        for _ in range(6):  # new connections: the kernel hands them to either worker
            scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert predict_requests(scrape.text) == 40
    (up_log,) = tmp_path.glob("mlserve-up-*.log")
    assert "address already in use" not in up_log.read_text()
    (triton_log,) = tmp_path.glob("var/**/tritonserver.log")
    loads = [line for line in triton_log.read_text().splitlines() if "successfully loaded" in line]
    models = sorted(line.rsplit("'", 2)[-2] for line in loads)
    # Each sample model (sentiment's two versions together) loads once, not once per worker.
    assert models == ["iris", "iris-rules", "sentiment"], loads
    published = sorted(p.name for p in (tmp_path / "model_repository" / "sentiment").iterdir())
    assert [name for name in published if name.isdigit()] == ["1", "2"]


def test_more_workers_than_cores_is_refused_at_start_with_one_line(tmp_path: Path) -> None:
    too_many = (os.cpu_count() or 1) + 1
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mlserve"), "up", "--workers", str(too_many)],
        env={**os.environ, "MLSERVE_MODELS_DIR": str(tmp_path / "models")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: server.workers is {too_many} but this machine has {os.cpu_count()} cores: "
        f"more workers than cores only add context switches; use --workers "
        f"{os.cpu_count()} or fewer (MLSERVE_SERVER__WORKERS)"
    ]
    assert not (tmp_path / "models").exists()  # refused before publishing anything
