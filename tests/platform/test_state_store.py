"""The StateStore contract, run against SQLite and a real redis-server alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mlserve.errors import ServiceUnavailableError
from mlserve.platform.config import PlatformConfig
from mlserve.platform.store import StateStore, open_store
from mlserve.platform.store_redis import RedisStore
from mlserve.platform.store_sqlite import SqliteStore
from tests.platform.conftest import unique_prefix
from tests.support.redis_server import RedisServer


async def test_strings_ttl_and_delete(store: StateStore) -> None:
    assert await store.get("missing") is None
    await store.set("a", "1")
    await store.set("short", "x", ttl_seconds=0.2)
    assert await store.get("a") == "1"
    assert await store.get("short") == "x"
    await asyncio.sleep(0.35)
    assert await store.get("short") is None
    assert await store.delete("a", "never") == 1
    assert await store.get("a") is None


async def test_set_many_and_counters(store: StateStore) -> None:
    await store.set_many({"m1": "a", "m2": "b"}, ttl_seconds=30)
    assert [await store.get("m1"), await store.get("m2")] == ["a", "b"]
    counts = await asyncio.gather(*(store.incr("counter") for _ in range(20)))
    assert sorted(counts) == list(range(1, 21))


async def test_hashes(store: StateStore) -> None:
    await store.hset("h", {"x": "1", "y": "2"})
    assert await store.hget("h", "x") == "1"
    assert await store.hmget("h", ["y", "nope", "x"]) == ["2", None, "1"]
    assert await store.hsetnx("h", "x", "other") is False
    assert await store.hsetnx("h", "z", "3") is True
    assert await store.hgetall("h") == {"x": "1", "y": "2", "z": "3"}
    assert await store.hdel("h", "x", "nope") == 1
    assert await store.hgetall("h") == {"y": "2", "z": "3"}
    assert await store.delete("h") == 1
    assert await store.hgetall("h") == {}


async def test_sorted_sets_and_claim(store: StateStore) -> None:
    await store.zadd("z", {"a": 3.0, "b": 1.0, "c": 2.0})
    assert await store.zrange_by_score("z", float("-inf"), float("inf")) == [
        ("b", 1.0),
        ("c", 2.0),
        ("a", 3.0),
    ]
    assert await store.zrange_by_score("z", 1.5, 3.0, limit=1) == [("c", 2.0)]
    assert await store.zcard("z") == 3
    # claim only succeeds while the score is still <= max_score, and only once
    assert await store.zclaim("z", "b", 1.0, 100.0) is True
    assert await store.zclaim("z", "b", 1.0, 200.0) is False
    assert await store.zclaim("z", "missing", 10.0, 20.0) is False
    assert await store.zrange_by_score("z", 99, 101) == [("b", 100.0)]
    assert await store.zrem("z", "b", "missing") == 1
    assert await store.zrem("z", "b") == 0


async def test_concurrent_claims_have_one_winner(store: StateStore) -> None:
    await store.zadd("outbox", {"job": 1.0})
    wins = await asyncio.gather(*(store.zclaim("outbox", "job", 5.0, 50.0) for _ in range(10)))
    assert wins.count(True) == 1


async def test_lists(store: StateStore) -> None:
    assert await store.lrange("l", 0, -1) == []
    assert await store.rpush("l", "a", "b") == 2
    assert await store.rpush("l", "c") == 3
    assert await store.lrange("l", 0, -1) == ["a", "b", "c"]
    assert await store.lrange("l", -2, -1) == ["b", "c"]
    assert await store.lrange("l", 1, 1) == ["b"]


async def test_sqlite_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "var" / "platform.sqlite3"
    first = SqliteStore(path)
    await first.hset("users", {"1": "ada"})
    await first.zadd("webhook:outbox", {"d1": 12.5})
    await first.close()
    second = SqliteStore(path)
    try:
        assert await second.hget("users", "1") == "ada"
        assert await second.zrange_by_score("webhook:outbox", 0, 100) == [("d1", 12.5)]
    finally:
        await second.close()


async def test_redis_state_is_shared_by_replicas(platform_redis: RedisServer) -> None:
    prefix = unique_prefix()
    replica_a = RedisStore.from_url(platform_redis.url, prefix=prefix)
    replica_b = RedisStore.from_url(platform_redis.url, prefix=prefix)
    try:
        await replica_a.hset("abtest", {"churn": '{"v1": 1}'})
        assert await replica_b.hget("abtest", "churn") == '{"v1": 1}'
        assert await replica_a.incr("user:next_id") == 1
        assert await replica_b.incr("user:next_id") == 2
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_redis_down_is_a_503_naming_redis() -> None:
    with RedisServer() as server:
        store = RedisStore.from_url(server.url, prefix=unique_prefix())
        await store.set("k", "v")
        server.stop()
        with pytest.raises(ServiceUnavailableError, match=r"Redis at redis://127\.0\.0\.1"):
            await store.get("k")
        await store.close()


async def test_unwritable_sqlite_path_is_a_503_naming_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SqliteStore(blocker / "platform.sqlite3")
    with pytest.raises(ServiceUnavailableError, match="MLSERVE_AUTH__STATE_PATH"):
        await store.ping()


def test_open_store_picks_redis_only_when_configured(tmp_path: Path) -> None:
    sqlite = open_store(PlatformConfig(redis_url=None, state_path=tmp_path / "s.db"))
    redis = open_store(PlatformConfig(redis_url="redis://127.0.0.1:1/0", state_path=tmp_path))
    assert (sqlite.backend, redis.backend) == ("sqlite", "redis")
