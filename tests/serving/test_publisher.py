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


async def test_load_all_leaves_served_models_alone_and_reloads_changed_ones(
    stack: Stack,
) -> None:
    # Several control planes (workers, replicas) start against one Triton: each runs
    # load_all, and only a model Triton does not serve as published may be reloaded.
    triton = TritonClient(stack.triton.grpc_url)
    publisher = Publisher(stack.repository, triton)
    name = "startup"
    await publisher.publish(train_sentiment(1), name)
    log = stack.triton.server.log_path

    def loads() -> int:
        return log.read_text().count(f"successfully loaded '{name}'")

    before = loads()
    assert name in await publisher.load_all()
    assert loads() == before

    # A version disabled behind Triton's back: the served set differs, so it reloads.
    stack.repository.set_version_enabled(name, 1, False)
    stack.repository.set_version_enabled(name, 1, True)
    await triton.unload_model(name)
    await publisher.load_all()
    assert loads() == before + 1
    assert await triton.ready_versions(name) == [1]
    await triton.unload_model(name)
    await triton.close()
