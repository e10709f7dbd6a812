"""The in-memory LRU cache with TTL, the disabled cache and the factory."""

from __future__ import annotations

import dataclasses

import pytest

from mlserve.serving.cache import (
    CachedPrediction,
    CacheKey,
    DisabledCache,
    InMemoryCache,
    RedisCache,
    build_cache,
)
from mlserve.settings import CacheSettings, Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(text: str, version: int = 1) -> CacheKey:
    return CacheKey("sentiment", version, "fp", text)


def prediction(label: str = "positive") -> CachedPrediction:
    return CachedPrediction(label, 0.8, (0.1, 0.1, 0.8), truncated=False)


async def test_set_then_get_returns_hits_in_key_order_and_counts_them() -> None:
    cache = InMemoryCache(max_size=10, default_ttl_seconds=60)
    await cache.set_many([(key("a"), prediction("negative")), (key("b"), prediction())])

    found = await cache.get_many([key("b"), key("missing"), key("a")])

    assert found == [prediction(), None, prediction("negative")]
    assert (cache.stats.hits, cache.stats.misses) == (2, 1)
    assert cache.stats.hit_ratio == 2 / 3


async def test_entries_expire_after_the_default_ttl() -> None:
    clock = FakeClock()
    cache = InMemoryCache(max_size=10, default_ttl_seconds=30, clock=clock)
    await cache.set_many([(key("a"), prediction())])

    clock.now += 29.9
    assert await cache.get_many([key("a")]) == [prediction()]
    clock.now += 0.2
    assert await cache.get_many([key("a")]) == [None]
    assert len(cache) == 0


async def test_a_per_call_ttl_overrides_the_default() -> None:
    clock = FakeClock()
    cache = InMemoryCache(max_size=10, default_ttl_seconds=300, clock=clock)
    await cache.set_many([(key("short"), prediction())], ttl=1)
    await cache.set_many([(key("long"), prediction())])

    clock.now += 2
    assert await cache.get_many([key("short"), key("long")]) == [None, prediction()]


async def test_least_recently_used_entry_is_evicted_beyond_max_size() -> None:
    cache = InMemoryCache(max_size=2, default_ttl_seconds=60)
    await cache.set_many([(key("a"), prediction()), (key("b"), prediction())])
    await cache.get_many([key("a")])  # "a" is now more recent than "b"

    await cache.set_many([(key("c"), prediction())])

    assert await cache.get_many([key("a"), key("b"), key("c")]) == [
        prediction(),
        None,
        prediction(),
    ]
    assert len(cache) == 2


async def test_a_new_version_never_serves_the_old_versions_answer() -> None:
    cache = InMemoryCache(max_size=10, default_ttl_seconds=60)
    await cache.set_many([(key("same text", version=1), prediction("negative"))])

    assert await cache.get_many([key("same text", version=2)]) == [None]
    assert await cache.get_many([key("same text", version=1)]) == [prediction("negative")]


async def test_callers_cannot_mutate_cached_entries() -> None:
    cache = InMemoryCache(max_size=10, default_ttl_seconds=60)
    await cache.set_many([(key("a"), prediction())])
    first = await cache.get_many([key("a")])
    assert first[0] is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        first[0].label = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        first[0].probabilities[0] = 99.0  # type: ignore[index]

    assert await cache.get_many([key("a")]) == [prediction()]


async def test_clear_forgets_everything() -> None:
    cache = InMemoryCache(max_size=10, default_ttl_seconds=60)
    await cache.set_many([(key("a"), prediction())])
    await cache.clear()
    assert await cache.get_many([key("a")]) == [None]


async def test_disabled_cache_misses_and_drops_writes_without_counting() -> None:
    cache = DisabledCache(default_ttl_seconds=60)
    await cache.set_many([(key("a"), prediction())])

    assert await cache.get_many([key("a"), key("b")]) == [None, None]
    assert cache.stats.hits == cache.stats.misses == 0
    assert cache.stats.hit_ratio is None


async def test_build_cache_picks_the_backend_from_settings() -> None:
    memory = build_cache(Settings(cache=CacheSettings(max_size=7, ttl_seconds=12)))
    assert isinstance(memory, InMemoryCache)
    assert (memory.max_size, memory.default_ttl_seconds) == (7, 12)

    disabled = build_cache(Settings(cache=CacheSettings(enabled=False, redis_url="redis://x")))
    assert isinstance(disabled, DisabledCache)

    from_section = build_cache(Settings(cache=CacheSettings(redis_url="redis://127.0.0.1:1/0")))
    top_level = build_cache(
        Settings(redis_url="redis://127.0.0.1:2/0", cache=CacheSettings(redis_url="redis://a"))
    )
    assert isinstance(from_section, RedisCache)
    assert isinstance(top_level, RedisCache)
    assert from_section.url == "redis://127.0.0.1:1/0"
    assert top_level.url == "redis://127.0.0.1:2/0"
    await from_section.close()
    await top_level.close()
