"""The durable state store behind the ``/api/v1`` platform: one small async interface.

Why this shape: users, tokens, A/B weights, webhooks (config, outbox, delivery log),
deployments, feedback and the prediction log must survive a restart and, when several
control-plane replicas run, be shared by all of them. The interface is the handful of Redis
primitives those need (strings with TTL, counters, hashes, sorted sets, lists, plus an
atomic compare-and-set on a sorted-set score used to lease outbox entries), so that:

- with ``auth.state_redis_url`` set, :class:`~mlserve.platform.store_redis.RedisStore`
  maps each call 1:1 onto Redis — shared by every replica; at start it must prove it never
  evicts and persists (:meth:`StateStore.check_durable`), since the prediction cache's
  Redis (``redis_url``/``cache.redis_url``) may evict and is never used for state;
- otherwise :class:`~mlserve.platform.store_sqlite.SqliteStore` keeps the same data in one
  SQLite file (WAL mode) — durable, safe for several worker processes on one node, but not
  shared across machines.

Values are strings (JSON documents); each domain module owns its keys. Every key starts
with the configured prefix (default ``mlserve:``). Key layout::

    user:next_id                    counter          auth
    users                           hash id -> user JSON
    users:by_name / users:by_email  hash lower(name|email) -> id (HSETNX = unique)
    token:<sha256(token)>           string (TTL)     user id + expiry
    abtest                          hash model -> weights JSON
    webhook:config                  hash user id -> webhook JSON
    webhook:delivery                hash delivery id -> delivery JSON
    webhook:outbox                  zset delivery id -> due time (pending deliveries)
    webhook:log:<user id>           zset delivery id -> created time
    deploy:next_id                  counter
    deployments                     hash id -> deployment JSON
    deploy:logs:<id>                list of log lines
    pred                            hash prediction id -> prediction JSON
    pred:all                        zset prediction id -> ts (bounds the log)
    pred:idx:<model>:<version>      zset prediction id -> ts
    feedback                        hash prediction id -> feedback JSON
    dq:ref:<model>:<version>        string: reference profile from background data
    mat:<model>:<entity id>         string (TTL): materialized prediction

A store that cannot reach its backend raises :class:`~mlserve.errors.ServiceUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mlserve.platform.config import PlatformConfig


class StateStore(Protocol):
    """Async key/value, hash, sorted-set and list primitives with Redis semantics."""

    @property
    def backend(self) -> str:
        """``"redis"`` or ``"sqlite"``, for health output and logs."""
        ...

    async def ping(self) -> None:
        """Raise ServiceUnavailableError when the backend cannot be reached."""

    async def check_durable(self) -> None:
        """Raise :class:`~mlserve.errors.SettingsError` (one line: why and what to set) when
        the backend could lose state: a Redis that evicts or persists nothing."""

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    # strings and counters
    async def get(self, key: str) -> str | None:
        """The value, or None when missing or expired."""

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Store ``value``; it disappears after ``ttl_seconds`` when given."""

    async def set_many(self, items: Mapping[str, str], ttl_seconds: float | None = None) -> None:
        """Store several values in one transaction: all of them or none."""

    async def delete(self, *keys: str) -> int:
        """Delete keys of any type; returns how many existed."""

    async def incr(self, key: str) -> int:
        """Atomically add one to a counter (missing = 0) and return the new value."""

    # hashes
    async def hget(self, key: str, field: str) -> str | None: ...

    async def hmget(self, key: str, fields: list[str]) -> list[str | None]: ...

    async def hset(self, key: str, mapping: Mapping[str, str]) -> None: ...

    async def hsetnx(self, key: str, field: str, value: str) -> bool:
        """Set ``field`` only if it does not exist; True when it was set (atomic)."""

    async def hgetall(self, key: str) -> dict[str, str]: ...

    async def hdel(self, key: str, *fields: str) -> int: ...

    # sorted sets
    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        """Add members or update their scores."""

    async def zrem(self, key: str, *members: str) -> int:
        """Remove members; returns how many were present (atomic: 1 means 'you removed it')."""

    async def zrange_by_score(
        self, key: str, min_score: float, max_score: float, limit: int | None = None
    ) -> list[tuple[str, float]]:
        """Members with ``min_score <= score <= max_score``, lowest score first."""

    async def zcard(self, key: str) -> int: ...

    async def zclaim(self, key: str, member: str, max_score: float, new_score: float) -> bool:
        """Atomically set ``member``'s score to ``new_score`` if it exists with a score
        ``<= max_score``; True when it did. Used to lease due outbox entries so that two
        workers never deliver the same entry at once."""

    # lists
    async def rpush(self, key: str, *values: str) -> int:
        """Append values; returns the new length."""

    async def lrange(self, key: str, start: int, stop: int) -> list[str]:
        """Elements ``start..stop`` inclusive; negative indexes count from the end."""


def check_state_store(config: PlatformConfig) -> None:
    """Run :meth:`StateStore.check_durable` once, synchronously (for ``mlserve up`` before
    the server starts): raises :class:`~mlserve.errors.SettingsError` with one line."""
    import asyncio

    async def check() -> None:
        store = open_store(config)
        try:
            await store.check_durable()
        finally:
            await store.close()

    asyncio.run(check())


def open_store(config: PlatformConfig) -> StateStore:
    """Redis when ``config.redis_url`` (``auth.state_redis_url``) is set, else SQLite at
    ``config.state_path``."""
    if config.redis_url:
        from mlserve.platform.store_redis import RedisStore

        return RedisStore.from_url(config.redis_url, prefix=config.key_prefix)
    from mlserve.platform.store_sqlite import SqliteStore

    return SqliteStore(config.state_path, prefix=config.key_prefix)
