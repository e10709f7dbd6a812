"""F1: platform state never lives in the evicting prediction-cache Redis, and a state Redis
that could evict or forget is refused at start with one line saying what to set."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from mlserve.errors import SettingsError
from mlserve.platform.auth import UserService
from mlserve.platform.config import PlatformConfig
from mlserve.platform.store import check_state_store, open_store
from mlserve.platform.store_redis import RedisStore
from mlserve.serving.cache.factory import build_cache
from mlserve.serving.cache.keys import CachedPrediction, CacheKey
from mlserve.settings import Settings
from tests.platform.conftest import fast_hasher
from tests.support.redis_server import RedisServer

EVICTING = {"--maxmemory": "2mb", "--maxmemory-policy": "allkeys-lru"}


async def test_state_survives_when_the_cache_redis_evicts(tmp_path: Path) -> None:
    with RedisServer(options=EVICTING) as cache_redis:
        settings = Settings(
            redis_url=cache_redis.url, auth={"state_path": tmp_path / "state.sqlite3"}
        )
        config = PlatformConfig.from_settings(settings)
        store = open_store(config)
        users = UserService(store, token_ttl_seconds=60, hasher=fast_hasher())
        await users.create_user("root", "root-password-1", role="admin")
        token = await users.login("root", "root-password-1")

        cache = build_cache(settings)
        payload = CachedPrediction("positive", 0.9, (0.1, 0.9), truncated=False)
        for batch in range(40):
            await cache.set_many(
                [(CacheKey("m", 1, "fp", f"text {batch}-{i}"), payload) for i in range(200)]
            )
        stats = redis.Redis.from_url(cache_redis.url).info("stats")
        assert stats["evicted_keys"] > 0, "the cache Redis was not filled past maxmemory"

        assert store.backend == "sqlite"
        assert (await users.authenticate("root", "root-password-1")).role == "admin"
        assert (await users.user_for_token(token.access_token)).username == "root"
        await store.close()


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({**EVICTING, "--appendonly": "yes"}, "maxmemory-policy is 'allkeys-lru'"),
        ({"--maxmemory-policy": "volatile-lru", "--save": "60 1"}, "'volatile-lru'"),
        ({"--maxmemory-policy": "noeviction"}, "persists nothing"),
    ],
)
def test_a_state_redis_that_could_lose_state_is_refused_at_start(
    tmp_path: Path, options: dict[str, str], why: str
) -> None:
    with RedisServer(options=options) as state_redis:
        config = PlatformConfig(redis_url=state_redis.url, state_path=tmp_path)
        with pytest.raises(SettingsError) as refused:
            check_state_store(config)
        message = refused.value.message
        assert why in message
        assert "\n" not in message
        assert "--maxmemory-policy noeviction" in message
        assert "MLSERVE_AUTH__STATE_REDIS_URL" in message


@pytest.mark.parametrize(
    "persistence", [{"--appendonly": "yes"}, {"--save": "60 1", "--appendonly": "no"}]
)
def test_a_noeviction_persisted_redis_holds_state(
    tmp_path: Path, persistence: dict[str, str]
) -> None:
    with RedisServer(options={"--maxmemory-policy": "noeviction", **persistence}) as server:
        config = PlatformConfig(redis_url=server.url, state_path=tmp_path)
        check_state_store(config)
        assert isinstance(open_store(config), RedisStore)


async def test_platform_startup_refuses_an_evicting_state_redis(tmp_path: Path) -> None:
    with RedisServer(options=EVICTING) as server:
        store = open_store(PlatformConfig(redis_url=server.url, state_path=tmp_path))
        with pytest.raises(SettingsError, match="may evict accounts and deliveries"):
            await store.check_durable()
        await store.close()


def test_the_state_redis_cannot_be_the_cache_redis(tmp_path: Path) -> None:
    url = "redis://127.0.0.1:6390/0"
    settings = Settings(redis_url=url, auth={"state_redis_url": url, "state_path": tmp_path})
    with pytest.raises(SettingsError, match="is the prediction cache's Redis"):
        PlatformConfig.from_settings(settings)


def test_the_cache_redis_url_alone_keeps_state_in_sqlite(tmp_path: Path) -> None:
    settings = Settings(
        cache={"redis_url": "redis://127.0.0.1:6390/0"}, auth={"state_path": tmp_path / "s"}
    )
    config = PlatformConfig.from_settings(settings)
    assert config.redis_url is None
    assert open_store(config).backend == "sqlite"
