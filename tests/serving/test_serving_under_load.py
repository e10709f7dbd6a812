"""Cache, backpressure and deadlines through the real control plane, Triton and Redis.

* Redis cache: a batch sends only its misses to Triton (Triton's own statistics count them);
  a Redis outage leaves predictions working and the cache comes back with Redis.
* Overload: far more concurrent requests than the in-flight bound get only 200s and 429s
  (with ``Retry-After``), never a 5xx.
* Deadline: a deadline that has run out is a 504 naming the stage.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Stack, stack_settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.redis_server import RedisServer
from tests.support.triton_server import TritonServer


def unique_texts(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"order {run}-{i} arrived, the screen is great" for i in range(n)]


def triton_inferences(triton: TritonServer, model: str = "sentiment") -> int:
    """Texts Triton has run for ``model`` so far (``inference_count`` over its versions)."""
    stats = httpx.get(f"{triton.http_url}/v2/models/{model}/stats", timeout=10).json()
    return sum(int(entry["inference_count"]) for entry in stats["model_stats"])


@pytest.fixture(scope="module")
def redis_plane(
    triton_server: TritonServer, redis_server: RedisServer
) -> Iterator[ControlPlaneServer]:
    """A control plane whose cache is the session's redis-server."""
    settings = stack_settings(
        triton_server,
        Path(tempfile.mkdtemp(prefix="mlserve-state-")),
        cache={"enabled": True, "redis_url": redis_server.url, "ttl_seconds": 300},
    )
    with ControlPlaneServer(settings) as server:
        yield server


def test_a_batch_sends_only_its_cache_misses_to_triton(
    redis_plane: ControlPlaneServer, triton_server: TritonServer
) -> None:
    first, second = unique_texts(6), unique_texts(4)
    with httpx.Client(base_url=redis_plane.base_url, timeout=30) as client:
        before = triton_inferences(triton_server)
        cold = client.post("/batch-predict", json={"texts": first})
        assert cold.status_code == 200, cold.text
        assert [p["cached"] for p in cold.json()["predictions"]] == [False] * 6
        assert triton_inferences(triton_server) - before == 6

        mixed_texts = [first[0], second[0], first[1], second[1], first[2], second[2], second[3]]
        before = triton_inferences(triton_server)
        mixed = client.post("/batch-predict", json={"texts": mixed_texts})

    assert mixed.status_code == 200, mixed.text
    predictions = mixed.json()["predictions"]
    assert [p["cached"] for p in predictions] == [True, False, True, False, True, False, False]
    assert triton_inferences(triton_server) - before == 4  # only the 4 new texts
    by_text = dict(zip(first, cold.json()["predictions"], strict=True))
    for text, prediction in zip(mixed_texts, predictions, strict=True):
        if text in by_text:
            assert prediction["label"] == by_text[text]["label"]
            assert prediction["probabilities"] == by_text[text]["probabilities"]


def test_predictions_go_on_through_a_redis_outage_and_the_cache_comes_back(
    redis_plane: ControlPlaneServer, redis_server: RedisServer
) -> None:
    [text] = unique_texts(1)
    with httpx.Client(base_url=redis_plane.base_url, timeout=30) as client:
        assert client.post("/predict", json={"text": text}).json()["cached"] is False
        assert client.post("/predict", json={"text": text}).json()["cached"] is True

        redis_server.stop()
        during = [client.post("/predict", json={"text": text}) for _ in range(5)]
        assert [r.status_code for r in during] == [200] * 5
        assert all(r.json()["cached"] is False for r in during)
        assert client.get("/health").json()["cache"] == "unavailable"

        redis_server.start()  # empty again: nothing is persisted
        deadline = time.monotonic() + 15
        while client.get("/health").json()["cache"] != "available":
            client.post("/predict", json={"text": text})  # use drives the reconnect probe
            assert time.monotonic() < deadline, "the cache did not come back with Redis"
            time.sleep(0.2)
        client.post("/predict", json={"text": text})
        again = client.post("/predict", json={"text": text})

    assert again.status_code == 200
    assert again.json()["cached"] is True


@pytest.fixture(scope="module")
def bounded_plane(triton_server: TritonServer) -> Iterator[ControlPlaneServer]:
    """A control plane that lets 2 texts per model be in flight, with a 5 s deadline."""
    settings = stack_settings(
        triton_server,
        Path(tempfile.mkdtemp(prefix="mlserve-state-")),
        limits={"max_inflight_per_model": 2, "default_timeout_ms": 5000},
    )
    with ControlPlaneServer(settings) as server:
        yield server


async def test_overload_gets_only_200s_and_429s_with_retry_after(
    bounded_plane: ControlPlaneServer,
) -> None:
    texts = unique_texts(96)
    limits = httpx.Limits(max_connections=96, max_keepalive_connections=96)
    async with httpx.AsyncClient(
        base_url=bounded_plane.base_url, timeout=10, limits=limits
    ) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.post("/predict", json={"text": text}) for text in texts)
        )
        elapsed = time.perf_counter() - started

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 2
    assert statuses.count(429) >= 1
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert "limits.max_inflight_per_model" in refused.json()["error"]
    assert elapsed < 5.0  # refusals are immediate: nobody waits out the deadline


def test_a_deadline_that_ran_out_is_a_504_naming_the_stage(
    bounded_plane: ControlPlaneServer,
) -> None:
    [text] = unique_texts(1)
    response = httpx.post(
        f"{bounded_plane.base_url}/predict", json={"text": text, "timeout_ms": 0.001}, timeout=10
    )
    assert response.status_code == 504, response.text
    error = response.json()["error"]
    assert "0.001 ms" in error
    assert "during preprocessing" in error


def triton_requests(triton: TritonServer, model: str = "sentiment") -> int:
    """Requests Triton has answered for ``model`` (one per call, whatever its batch)."""
    stats = httpx.get(f"{triton.http_url}/v2/models/{model}/stats", timeout=10).json()
    return sum(int(entry["inference_stats"]["success"]["count"]) for entry in stats["model_stats"])


def plane_with_calls_in_flight(triton: TritonServer, calls: int) -> ControlPlaneServer:
    """A control plane that keeps ``calls`` Triton calls in flight per model version."""
    settings = stack_settings(
        triton,
        Path(tempfile.mkdtemp(prefix="mlserve-state-")),
        triton={
            "metrics_url": triton.metrics_url,
            "http_url": triton.http_url,
            "calls_in_flight": calls,
        },
    )
    return ControlPlaneServer(settings)


def mixed_texts(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [
        f"{run}-{i} "
        + ("great product, I love it" if i % 2 else "terrible, I hate it, a waste of money")
        for i in range(n)
    ]


async def predict_together(base_url: str, texts: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(texts), max_keepalive_connections=len(texts))
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        return await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))


async def test_concurrent_requests_share_triton_calls_and_keep_their_own_answers(
    stack: Stack, triton_server: TritonServer
) -> None:
    texts = mixed_texts(48)
    before_texts, before_calls = triton_inferences(triton_server), triton_requests(triton_server)
    with plane_with_calls_in_flight(triton_server, 1) as plane:
        together = await predict_together(plane.base_url, texts)
    sent_texts = triton_inferences(triton_server) - before_texts
    sent_calls = triton_requests(triton_server) - before_calls
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:  # own cache
        alone = [await client.post("/predict", json={"text": text}) for text in texts]

    assert [r.status_code for r in together] == [200] * 48
    assert sent_texts == 48
    assert sent_calls < 48  # requests that waited for the busy call rode together
    for shared, single in zip(together, alone, strict=True):
        assert shared.json()["cached"] is False
        assert shared.json()["probabilities"] == single.json()["probabilities"]
    assert {r.json()["label"] for r in together} == {"positive", "negative"}


async def test_with_no_shared_calls_every_request_is_its_own_triton_call(
    triton_server: TritonServer,
) -> None:
    texts = mixed_texts(48)
    before_calls = triton_requests(triton_server)
    with plane_with_calls_in_flight(triton_server, 0) as plane:
        responses = await predict_together(plane.base_url, texts)

    assert [r.status_code for r in responses] == [200] * 48
    assert triton_requests(triton_server) - before_calls == 48
