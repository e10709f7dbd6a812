"""The Redis implementation of :class:`~mlserve.platform.store.StateStore`.

Each call maps onto one Redis command (``zclaim`` onto a small Lua script, so the
compare-and-set is atomic across replicas). Keys get the configured prefix. Connection
problems become :class:`~mlserve.errors.ServiceUnavailableError` naming the Redis address,
so an outage answers 503 instead of a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from mlserve.errors import ServiceUnavailableError
from mlserve.platform.store_durability import durability_problem, refusal

_ZCLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


class RedisStore:
    """State in Redis: durable as the Redis is configured, shared by all replicas."""

    backend = "redis"

    def __init__(self, client: aioredis.Redis, *, prefix: str, address: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._address = address
        self._zclaim = client.register_script(_ZCLAIM)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "mlserve:") -> RedisStore:
        """Connect lazily to ``url`` with short timeouts, so a dead Redis fails fast."""
        client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2.0, socket_timeout=5.0
        )
        return cls(client, prefix=prefix, address=_redact(url))

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise ServiceUnavailableError(
                f"the state store (Redis at {self._address}) is unreachable: {exc}; "
                "check that Redis is running and MLSERVE_REDIS_URL points at it"
            ) from exc

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def ping(self) -> None:
        with self._guard():
            await self._redis.ping()

    async def check_durable(self) -> None:
        """Raise :class:`~mlserve.errors.SettingsError` (one line) unless this Redis never
        evicts and persists (see :mod:`mlserve.platform.store_durability`)."""
        with self._guard():
            info = dict(await self._redis.info("memory"))
            info.update(await self._redis.info("persistence"))
            save: str | None = None
            if str(info.get("aof_enabled")) != "1":
                try:
                    save = (await self._redis.config_get("save")).get("save")
                except ResponseError:
                    save = None  # CONFIG disabled (managed Redis): AOF is the proof asked for
        problem = durability_problem(info, save)
        if problem:
            raise refusal(self._address, problem)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()

    async def get(self, key: str) -> str | None:
        with self._guard():
            return cast(str | None, await self._redis.get(self._k(key)))

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        px = max(1, int(ttl_seconds * 1000)) if ttl_seconds is not None else None
        with self._guard():
            await self._redis.set(self._k(key), value, px=px)

    async def set_many(self, items: Mapping[str, str], ttl_seconds: float | None = None) -> None:
        if not items:
            return
        px = max(1, int(ttl_seconds * 1000)) if ttl_seconds is not None else None
        with self._guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, value in items.items():
                    pipe.set(self._k(key), value, px=px)
                await pipe.execute()

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        with self._guard():
            return int(await self._redis.delete(*(self._k(k) for k in keys)))

    async def incr(self, key: str) -> int:
        with self._guard():
            return int(await self._redis.incr(self._k(key)))

    async def hget(self, key: str, field: str) -> str | None:
        with self._guard():
            return cast(str | None, await self._redis.hget(self._k(key), field))

    async def hmget(self, key: str, fields: list[str]) -> list[str | None]:
        if not fields:
            return []
        with self._guard():
            values = await self._redis.hmget(self._k(key), fields)
        return cast(list[str | None], values)

    async def hset(self, key: str, mapping: Mapping[str, str]) -> None:
        if not mapping:
            return
        with self._guard():
            await self._redis.hset(self._k(key), mapping=dict(mapping))  # type: ignore[arg-type]

    async def hsetnx(self, key: str, field: str, value: str) -> bool:
        with self._guard():
            return bool(await self._redis.hsetnx(self._k(key), field, value))

    async def hgetall(self, key: str) -> dict[str, str]:
        with self._guard():
            return cast(dict[str, str], await self._redis.hgetall(self._k(key)))

    async def hdel(self, key: str, *fields: str) -> int:
        if not fields:
            return 0
        with self._guard():
            return int(await self._redis.hdel(self._k(key), *fields))

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if not mapping:
            return
        with self._guard():
            await self._redis.zadd(self._k(key), dict(mapping))

    async def zrem(self, key: str, *members: str) -> int:
        if not members:
            return 0
        with self._guard():
            return int(await self._redis.zrem(self._k(key), *members))

    async def zrange_by_score(
        self, key: str, min_score: float, max_score: float, limit: int | None = None
    ) -> list[tuple[str, float]]:
        kwargs: dict[str, Any] = {"withscores": True}
        if limit is not None:
            kwargs.update(start=0, num=limit)
        with self._guard():
            rows = cast(
                list[tuple[str, float]],
                await self._redis.zrangebyscore(
                    self._k(key), _bound(min_score), _bound(max_score), **kwargs
                ),
            )
        return [(str(member), float(score)) for member, score in rows]

    async def zcard(self, key: str) -> int:
        with self._guard():
            return int(await self._redis.zcard(self._k(key)))

    async def zclaim(self, key: str, member: str, max_score: float, new_score: float) -> bool:
        with self._guard():
            result = await self._zclaim(
                keys=[self._k(key)], args=[member, repr(max_score), repr(new_score)]
            )
        return bool(result)

    async def rpush(self, key: str, *values: str) -> int:
        if not values:
            return await self._llen(key)
        with self._guard():
            return int(await self._redis.rpush(self._k(key), *values))

    async def lrange(self, key: str, start: int, stop: int) -> list[str]:
        with self._guard():
            return cast(list[str], await self._redis.lrange(self._k(key), start, stop))

    async def _llen(self, key: str) -> int:
        with self._guard():
            return int(await self._redis.llen(self._k(key)))


def _bound(score: float) -> str | float:
    if score == float("inf"):
        return "+inf"
    if score == float("-inf"):
        return "-inf"
    return score


def _redact(url: str) -> str:
    """The URL without a password, for error messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
