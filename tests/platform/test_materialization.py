"""Materialized predictions: Redis (real server), SQLite and the in-process store behave
alike; the platform keeps them in its state store, so workers and replicas share them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mlserve.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.platform.materialize import MaterializedRow, Materializer, MemoryKV
from mlserve.platform.store_redis import RedisStore
from mlserve.platform.store_sqlite import SqliteStore
from tests.platform.conftest import Harness, unique_prefix
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


@pytest.fixture(params=["redis", "sqlite", "memory"])
async def materializer(
    request: pytest.FixtureRequest, platform_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[Materializer]:
    if request.param == "memory":
        yield Materializer(MemoryKV(), ttl_seconds=0.5, backend="memory")
        return
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "state.sqlite3")
        yield Materializer(sqlite, ttl_seconds=0.5, backend="sqlite")
        await sqlite.close()
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


async def test_the_platform_keeps_them_in_its_state_store_shared_by_replicas(
    harness: Harness,
) -> None:
    ack = await harness.client.post(
        "/api/v1/predict/churn/v2",
        headers=harness.admin,
        json={"inputs": [{"age": 50.0, "income": 1.0}], "entity_ids": ["a1"], "materialize": True},
    )
    assert ack.status_code == 200, ack.text
    # Another worker or replica on the same SQLite file reads it.
    other = SqliteStore(harness.api.services.config.state_path)
    fetched = await Materializer(other, ttl_seconds=60, backend="sqlite").fetch("churn", "a1")
    assert fetched["prediction_id"] == ack.json()["prediction_ids"][0]
    await other.close()
