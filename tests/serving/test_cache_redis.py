"""The Redis cache against a real redis-server: batching, TTL, versions, outage, recovery."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from mlserve.serving.cache import CachedPrediction, CacheKey, RedisCache
from tests.support.redis_server import RedisServer, free_port

REDIS_LOGGER = "mlserve.serving.cache.redis_backend"


def keys(n: int, *, model: str, version: int = 1) -> list[CacheKey]:
    return [CacheKey(model, version, "fp", f"text number {i}") for i in range(n)]


def prediction(i: int = 0) -> CachedPrediction:
    return CachedPrediction(f"label{i}", 0.5, (0.5, 0.25, 0.25), truncated=i % 2 == 0)


def command_calls(server: RedisServer, command: str) -> int:
    stats = redis.Redis.from_url(server.url).info("commandstats")
    entry = stats.get(f"cmdstat_{command}")
    return int(entry["calls"]) if entry else 0


@pytest.fixture
def model() -> str:
    """A model name no other test uses, so tests can share one redis-server."""
    return f"model-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def cache(redis_server: RedisServer) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_server.url, default_ttl_seconds=60)
    yield cache
    await cache.close()


async def test_lookups_take_one_mget_and_writes_one_pipeline(
    cache: RedisCache, redis_server: RedisServer, model: str
) -> None:
    batch = keys(20, model=model)
    sets_before = command_calls(redis_server, "set")
    await cache.set_many([(k, prediction(i)) for i, k in enumerate(batch)])
    assert command_calls(redis_server, "set") - sets_before == 20

    mget_before, get_before = (
        command_calls(redis_server, "mget"),
        command_calls(redis_server, "get"),
    )
    found = await cache.get_many([*batch, CacheKey(model, 1, "fp", "never stored")])

    assert command_calls(redis_server, "mget") - mget_before == 1
    assert command_calls(redis_server, "get") - get_before == 0
    assert found == [*(prediction(i) for i in range(20)), None]
    assert (cache.stats.hits, cache.stats.misses) == (20, 1)


async def test_entries_carry_the_configured_ttl(
    cache: RedisCache, redis_server: RedisServer, model: str
) -> None:
    [key] = keys(1, model=model)
    await cache.set_many([(key, prediction())])

    pttl = redis.Redis.from_url(redis_server.url).pttl(key.render())
    assert 59_000 < pttl <= 60_000


async def test_entries_expire(cache: RedisCache, model: str) -> None:
    [key] = keys(1, model=model)
    await cache.set_many([(key, prediction())], ttl=0.2)
    assert await cache.get_many([key]) == [prediction()]

    await asyncio.sleep(0.35)
    assert await cache.get_many([key]) == [None]


async def test_a_new_version_never_serves_the_old_versions_answer(
    cache: RedisCache, model: str
) -> None:
    await cache.set_many([(k, prediction()) for k in keys(3, model=model, version=1)])

    assert await cache.get_many(keys(3, model=model, version=2)) == [None, None, None]
    assert await cache.get_many(keys(3, model=model, version=1)) == [prediction()] * 3


async def test_undecodable_entries_read_as_misses(
    cache: RedisCache, redis_server: RedisServer, model: str
) -> None:
    [key] = keys(1, model=model)
    redis.Redis.from_url(redis_server.url).set(key.render(), b"garbage")
    assert await cache.get_many([key]) == [None]


async def test_clear_deletes_prediction_keys_only(
    cache: RedisCache, redis_server: RedisServer, model: str
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("unrelated", b"keep")
    await cache.set_many([(k, prediction()) for k in keys(3, model=model)])

    await cache.clear()

    assert await cache.get_many(keys(3, model=model)) == [None, None, None]
    assert client.get("unrelated") == b"keep"


async def test_outage_gives_fast_misses_logs_once_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCache(own_redis.url, default_ttl_seconds=60, reconnect_interval_s=0.1)
    events: list[bool] = []
    cache.add_availability_listener(events.append)
    batch = keys(5, model="m")
    await cache.set_many([(k, prediction()) for k in batch])
    assert await cache.get_many(batch) == [prediction()] * 5

    own_redis.stop()
    caplog.set_level(logging.INFO, logger=REDIS_LOGGER)
    started = time.perf_counter()
    for _ in range(20):
        assert await cache.get_many(batch) == [None] * 5
        await cache.set_many([(k, prediction()) for k in batch])
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert not cache.available
    assert cache.stats.outages == 1
    assert cache.stats.dropped_writes == 100
    assert events == [False]
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.name == REDIS_LOGGER
    ]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()

    own_redis.start()
    deadline = time.monotonic() + 5
    while not cache.available and time.monotonic() < deadline:
        await cache.get_many(batch)
        await asyncio.sleep(0.05)

    assert cache.available
    assert events == [False, True]
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    await cache.set_many([(k, prediction(1)) for k in batch])
    assert await cache.get_many(batch) == [prediction(1)] * 5
    assert cache.stats.outages == 1
    await cache.close()


async def test_a_hung_redis_costs_one_short_timeout_then_misses_at_once(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCache(
        own_redis.url, default_ttl_seconds=60, socket_timeout_s=0.2, reconnect_interval_s=0.1
    )
    batch = keys(3, model="m")
    await cache.set_many([(k, prediction()) for k in batch])
    caplog.set_level(logging.WARNING, logger=REDIS_LOGGER)

    own_redis.pause()
    try:
        started = time.perf_counter()
        assert await cache.get_many(batch) == [None] * 3
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(10):
            assert await cache.get_many(batch) == [None] * 3
        following = time.perf_counter() - started
    finally:
        own_redis.resume()

    assert first < 1.0
    assert following < 0.1
    assert len([r for r in caplog.records if r.name == REDIS_LOGGER]) == 1
    deadline = time.monotonic() + 5
    while not cache.available and time.monotonic() < deadline:
        await cache.get_many(batch)
        await asyncio.sleep(0.05)
    assert await cache.get_many(batch) == [prediction()] * 3
    await cache.close()


async def test_redis_down_from_the_start_is_an_outage_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", default_ttl_seconds=60)
    caplog.set_level(logging.WARNING, logger=REDIS_LOGGER)

    started = time.perf_counter()
    assert await cache.get_many(keys(2, model="m")) == [None, None]
    await cache.set_many([(k, prediction()) for k in keys(2, model="m")])
    assert await cache.get_many(keys(2, model="m")) == [None, None]

    assert time.perf_counter() - started < 1.0
    assert cache.stats.outages == 1
    assert cache.stats.misses == 4
    assert len([r for r in caplog.records if r.name == REDIS_LOGGER]) == 1
    await cache.close()
