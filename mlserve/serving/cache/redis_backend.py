"""Redis-backed prediction cache that degrades to "no cache" while Redis is away.

One request costs at most two round trips: one ``MGET`` for all of its keys and one
pipeline of ``SET ... PX`` for the fresh predictions (``PX`` is ``EX`` in milliseconds, so
fractional ``ttl_seconds`` are honoured).

When Redis stops answering, the first failing call marks the cache unavailable, logs one
warning, counts an outage and tells the availability listeners. From then on calls return
misses and drop writes without touching the network; at most once per
``reconnect_interval_s`` a background ``PING`` checks whether Redis is back, and the first
successful one brings the cache back (logged once, listeners told). Socket timeouts are
short and every call has a hard time bound, so a hanging Redis cannot hold a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.keys import KEY_PREFIX, CachedPrediction, CacheKey

log = logging.getLogger(__name__)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
"""Failures meaning Redis cannot be reached (as opposed to Redis refusing a command)."""


class RedisCache(PredictionCache):
    """Prediction cache in Redis; see the module docstring for the outage behaviour."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        default_ttl_seconds: float,
        socket_timeout_s: float = 0.5,
        connect_timeout_s: float = 0.5,
        reconnect_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(default_ttl_seconds=default_ttl_seconds)
        self.url = url
        self.reconnect_interval_s = reconnect_interval_s
        self._call_timeout_s = socket_timeout_s + connect_timeout_s
        self._clock = clock
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            decode_responses=False,
        )
        self._available = True
        self._retry_at = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._last_command_error_log = -float("inf")

    @property
    def available(self) -> bool:
        return self._available

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedPrediction | None]:
        if not keys:
            return []
        found: list[CachedPrediction | None] = [None] * len(keys)
        if self._usable():
            try:
                async with asyncio.timeout(self._call_timeout_s):
                    raw = await self._client.mget([key.render() for key in keys])
            except _UNREACHABLE as exc:
                self._went_down(exc)
            except RedisError as exc:
                self._command_failed("MGET", exc)
            else:
                found = [_decode(value) for value in raw]
        self._count_lookups(found)
        return found

    async def set_many(
        self,
        items: Sequence[tuple[CacheKey, CachedPrediction]],
        ttl: float | None = None,
    ) -> None:
        if not items:
            return
        if not self._usable():
            self.stats.dropped_writes += len(items)
            return
        ttl_ms = max(1, round(self._ttl(ttl) * 1000))
        try:
            async with asyncio.timeout(self._call_timeout_s):
                async with self._client.pipeline(transaction=False) as pipe:
                    for key, prediction in items:
                        pipe.set(key.render(), prediction.to_bytes(), px=ttl_ms)
                    await pipe.execute()
        except _UNREACHABLE as exc:
            self.stats.dropped_writes += len(items)
            self._went_down(exc)
        except RedisError as exc:
            self.stats.dropped_writes += len(items)
            self._command_failed("SET pipeline", exc)

    async def clear(self) -> None:
        """Delete every prediction key (``SCAN`` + ``DEL``); other keys are left alone."""
        if not self._usable():
            return
        try:
            batch: list[bytes] = []
            async for key in self._client.scan_iter(match=f"{KEY_PREFIX}:*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    await self._client.delete(*batch)
                    batch.clear()
            if batch:
                await self._client.delete(*batch)
        except _UNREACHABLE as exc:
            self._went_down(exc)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        await self._client.aclose()

    def _usable(self) -> bool:
        """True when calls should reach Redis; while down, maybe start a reconnect probe."""
        if self._available:
            return True
        if self._probe is None and self._clock() >= self._retry_at:
            self._probe = asyncio.get_running_loop().create_task(self._probe_once())
        return False

    async def _probe_once(self) -> None:
        try:
            async with asyncio.timeout(self._call_timeout_s):
                await self._client.ping()
        except (*_UNREACHABLE, RedisError):
            self._retry_at = self._clock() + self.reconnect_interval_s
        else:
            self._available = True
            log.info("Redis cache at %s is reachable again; caching resumed", _safe(self.url))
            self._notify(True)
        finally:
            self._probe = None

    def _went_down(self, exc: BaseException) -> None:
        self.stats.errors += 1
        self._retry_at = self._clock() + self.reconnect_interval_s
        if not self._available:
            return
        self._available = False
        self.stats.outages += 1
        log.warning(
            "Redis cache at %s is unreachable (%s: %s); serving predictions without the cache "
            "and retrying every %.1f s",
            _safe(self.url),
            type(exc).__name__,
            exc or "timed out",
            self.reconnect_interval_s,
        )
        self._notify(False)

    def _command_failed(self, command: str, exc: RedisError) -> None:
        self.stats.errors += 1
        now = self._clock()
        if now - self._last_command_error_log >= 60.0:
            self._last_command_error_log = now
            log.warning(
                "Redis cache %s failed: %s (further failures logged once a minute)", command, exc
            )


def _decode(value: bytes | str | None) -> CachedPrediction | None:
    if value is None:
        return None
    try:
        return CachedPrediction.from_bytes(value)
    except ValueError:
        log.debug("ignoring an undecodable cache entry")
        return None


def _safe(url: str) -> str:
    """The URL without a password, for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"
