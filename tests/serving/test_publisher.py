"""Publishing new versions while traffic flows: no request may fail."""

from __future__ import annotations

import asyncio

import httpx

from mlserve.samples.sentiment_model import train_sentiment
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.conftest import Stack


async def test_publishing_v2_and_v3_under_20_concurrent_clients_fails_no_request(
    stack: Stack,
) -> None:
    # Publish as `mlserve load` does: another process with its own Triton client.
    triton = TritonClient(stack.triton.grpc_url)
    publisher = Publisher(stack.repository, triton)
    name = "swap"
    await publisher.publish(train_sentiment(1), name)

    results: list[tuple[int, str]] = []
    stop = asyncio.Event()

    async def client(i: int) -> None:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            n = 0
            while not stop.is_set():
                n += 1
                response = await http.post(
                    "/predict",
                    json={"text": f"client {i} request {n}: great", "model_version": name},
                )
                version = response.json().get("version", "") if response.status_code == 200 else ""
                results.append((response.status_code, version))

    clients = [asyncio.create_task(client(i)) for i in range(20)]
    await asyncio.sleep(0.5)
    for version in (2, 3):
        await publisher.publish(train_sentiment(version), name)
        await asyncio.sleep(1.5)  # the control plane re-reads Triton's ready set each second
    stop.set()
    await asyncio.gather(*clients)

    failures = [status for status, _ in results if status != 200]
    assert len(results) > 100
    assert failures == []
    assert {"v1", "v3"} <= {version for _, version in results}
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        after = await http.post("/predict", json={"text": "great", "model_version": name})
    assert after.json()["version"] == "v3"
    await triton.close()
