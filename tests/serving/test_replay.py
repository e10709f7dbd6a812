"""A request body answered before is answered again without the work, through the real
control plane and Triton: still counted, never across versions or endpoints."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from mlserve.samples.sentiment_model import train_sentiment
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.conftest import Stack
from tests.serving.test_serving_under_load import triton_inferences


def metric(client: httpx.Client, sample: str, **labels: str) -> float:
    """The value of one sample of the control plane's ``/metrics`` (0 when absent)."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_a_repeated_body_is_answered_from_the_cache_and_still_counted(stack: Stack) -> None:
    body = f'{{"text": "replayed {uuid.uuid4().hex}: the screen is great"}}'.encode()
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        first = client.post("/predict", content=body).json()
        hits = metric(client, "mlserve_cache_hits_total", model="sentiment")
        requests = metric(
            client, "mlserve_requests_total", endpoint="predict", model="sentiment", status="200"
        )
        inferences = triton_inferences(stack.triton)

        again = [client.post("/predict", content=body).json() for _ in range(3)]

        assert first["cached"] is False
        for answer in again:
            assert answer["cached"] is True
            assert answer["triton_ms"] is None
            assert answer["latency_ms"] >= 0
            for field in ("label", "probabilities", "confidence", "model", "version"):
                assert answer[field] == first[field]
        assert triton_inferences(stack.triton) == inferences
        assert metric(client, "mlserve_cache_hits_total", model="sentiment") == hits + 3
        assert (
            metric(
                client,
                "mlserve_requests_total",
                endpoint="predict",
                model="sentiment",
                status="200",
            )
            == requests + 3
        )


def test_a_body_answered_at_predict_is_not_replayed_at_batch_predict(stack: Stack) -> None:
    body = b'{"text": "answered at predict only"}'
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        assert client.post("/predict", content=body).status_code == 200
        assert client.post("/predict", content=body).json()["cached"] is True
        wrong = client.post("/batch-predict", content=body)

    assert wrong.status_code == 422
    assert "texts" in wrong.json()["error"]


async def test_a_new_version_answers_a_repeated_body_itself(stack: Stack) -> None:
    triton = TritonClient(stack.triton.grpc_url)
    publisher = Publisher(stack.repository, triton)
    name = f"replay-{uuid.uuid4().hex[:6]}"
    await publisher.publish(train_sentiment(1), name)
    body = f'{{"text": "the delivery was fine", "model": "{name}"}}'.encode()
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        first = (await client.post("/predict", content=body)).json()
        replayed = (await client.post("/predict", content=body)).json()
        await publisher.publish(train_sentiment(2), name)
        answers = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answers.append((await client.post("/predict", content=body)).json())
            if answers[-1]["version"] == "v2" and answers[-1]["cached"]:
                break
            await asyncio.sleep(0.2)
    await triton.close()

    assert (first["version"], first["cached"]) == ("v1", False)
    assert (replayed["version"], replayed["cached"]) == ("v1", True)
    first_v2 = next(a for a in answers if a["version"] == "v2")
    assert first_v2["cached"] is False  # v2 ran the text itself, nothing of v1 was replayed
    assert (answers[-1]["version"], answers[-1]["cached"]) == ("v2", True)
