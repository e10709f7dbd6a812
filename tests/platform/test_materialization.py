"""Materialized predictions: Redis (real server) and the in-process store behave alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mlserve.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.platform.materialize import MaterializedRow, Materializer, MemoryKV
from mlserve.platform.store_redis import RedisStore
from tests.platform.conftest import unique_prefix
from tests.support.redis_server import RedisServer


def rows(*entities: str, version: int = 2) -> list[MaterializedRow]:
    return [
        MaterializedRow(
            entity_id=e,
            prediction_id=f"p-{e}",
            version=version,
            prediction=1,
            probabilities={"0": 0.1, "1": 0.9},
        )
        for e in entities
    ]


@pytest.fixture(params=["redis", "memory"])
async def materializer(
    request: pytest.FixtureRequest, platform_redis: RedisServer
) -> AsyncIterator[Materializer]:
    if request.param == "memory":
        yield Materializer(MemoryKV(), ttl_seconds=0.5, backend="memory")
        return
    store = RedisStore.from_url(platform_redis.url, prefix=unique_prefix())
    try:
        yield Materializer(store, ttl_seconds=0.5, backend="redis")
    finally:
        await store.close()


async def test_store_then_fetch_latest(materializer: Materializer) -> None:
    ack = await materializer.materialize("churn", rows("c1", "c2"))
    assert ack["materialized"] is True
    assert ack["model"] == "churn"
    assert ack["keys"] == ["c1", "c2"]
    assert ack["stored_at"]
    await materializer.materialize("churn", [MaterializedRow("c1", "p-new", 3, 0)])
    latest = await materializer.fetch("churn", "c1")
    assert (latest["prediction_id"], latest["version"], latest["prediction"]) == ("p-new", "v3", 0)
    assert 0 <= latest["age_seconds"] < 5
    other = await materializer.fetch("churn", "c2", max_age_seconds=60)
    assert other["probabilities"] == {"0": 0.1, "1": 0.9}


async def test_missing_expired_and_too_old_are_404(materializer: Materializer) -> None:
    with pytest.raises(NotFoundError, match="never materialized or expired"):
        await materializer.fetch("churn", "nobody")
    await materializer.materialize("churn", rows("c1"))
    await asyncio.sleep(0.2)
    with pytest.raises(NotFoundError, match=r"older than max_age_seconds=0\.1"):
        await materializer.fetch("churn", "c1", max_age_seconds=0.1)
    await asyncio.sleep(0.45)
    with pytest.raises(NotFoundError, match="expired"):
        await materializer.fetch("churn", "c1")
    with pytest.raises(NotFoundError):
        await materializer.fetch("other-model", "c1")


async def test_bad_fetch_parameters_are_422(materializer: Materializer) -> None:
    with pytest.raises(InvalidInputError, match="max_age_seconds must be >= 0"):
        await materializer.fetch("churn", "c1", max_age_seconds=-1)


async def test_redis_down_is_a_503_saying_nothing_was_stored_then_recovers() -> None:
    with RedisServer() as server:
        store = RedisStore.from_url(server.url, prefix=unique_prefix())
        materializer = Materializer(store, ttl_seconds=60, backend="redis")
        await materializer.materialize("churn", rows("before"))
        server.stop()
        with pytest.raises(ServiceUnavailableError, match="nothing was stored for churn"):
            await materializer.materialize("churn", rows("a", "b"))
        server.start()
        await materializer.materialize("churn", rows("a"))
        assert (await materializer.fetch("churn", "a"))["entity_id"] == "a"
        await store.close()


async def test_memory_store_is_bounded() -> None:
    kv = MemoryKV(max_entries=3)
    await kv.set_many({f"k{i}": str(i) for i in range(5)}, ttl_seconds=60)
    assert [await kv.get(f"k{i}") for i in range(5)] == [None, None, "2", "3", "4"]
