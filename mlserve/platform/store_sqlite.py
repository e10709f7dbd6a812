"""The SQLite implementation of :class:`~mlserve.platform.store.StateStore`.

Used when no Redis is configured: one file (WAL mode, ``synchronous=NORMAL``) so state
survives restarts and is safe for several worker processes on the same node, but it is not
shared between machines — configure Redis for that. Calls run in a worker thread so a
commit never blocks the event loop; each call is one transaction, which makes ``incr``,
``hsetnx``, ``zrem`` and ``zclaim`` atomic across processes too.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from mlserve.errors import ServiceUnavailableError

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL);
CREATE TABLE IF NOT EXISTS hashes (
    key TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, field));
CREATE TABLE IF NOT EXISTS zsets (
    key TEXT NOT NULL, member TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (key, member));
CREATE INDEX IF NOT EXISTS zsets_by_score ON zsets (key, score);
CREATE TABLE IF NOT EXISTS lists (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lists_by_key ON lists (key, seq);
"""

_PURGE_EVERY_S = 60.0


class SqliteStore:
    """State in one SQLite file: durable, single-node."""

    backend = "sqlite"

    def __init__(self, path: Path, *, prefix: str = "mlserve:") -> None:
        self.path = path
        self._prefix = prefix
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._last_purge = 0.0

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, check_same_thread=False, timeout=10.0, isolation_level=None
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
            except (sqlite3.Error, OSError) as exc:
                raise ServiceUnavailableError(
                    f"the state store (SQLite file {self.path}) cannot be opened: {exc}; "
                    "check MLSERVE_AUTH__STATE_PATH and that its folder is writable"
                ) from exc
            self._conn = conn
        return self._conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                conn = self._connect()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    result = work(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

        try:
            return await asyncio.to_thread(call)
        except sqlite3.Error as exc:
            raise ServiceUnavailableError(
                f"the state store (SQLite file {self.path}) failed: {exc}"
            ) from exc

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def ping(self) -> None:
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def check_durable(self) -> None:
        """A SQLite file never evicts and is on disk: nothing to check."""

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # strings and counters

    async def get(self, key: str) -> str | None:
        k, now = self._k(key), time.time()

        def work(c: sqlite3.Connection) -> str | None:
            row = c.execute(
                "SELECT value FROM kv WHERE key=? AND (expires_at IS NULL OR expires_at>?)",
                (k, now),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(work)

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        await self.set_many({key: value}, ttl_seconds)

    async def set_many(self, items: Mapping[str, str], ttl_seconds: float | None = None) -> None:
        now = time.time()
        expires = now + ttl_seconds if ttl_seconds is not None else None
        rows = [(self._k(key), value, expires) for key, value in items.items()]
        purge = now - self._last_purge > _PURGE_EVERY_S
        if purge:
            self._last_purge = now

        def work(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value=excluded.value, expires_at=excluded.expires_at",
                rows,
            )
            if purge:
                c.execute("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at<=?", (now,))

        await self._run(work)

    async def delete(self, *keys: str) -> int:
        ks = [self._k(k) for k in keys]
        now = time.time()

        def work(c: sqlite3.Connection) -> int:
            found = 0
            for k in ks:
                live = c.execute(
                    "DELETE FROM kv WHERE key=? AND (expires_at IS NULL OR expires_at>?)",
                    (k, now),
                ).rowcount
                c.execute("DELETE FROM kv WHERE key=?", (k,))
                parts = [
                    c.execute(f"DELETE FROM {table} WHERE key=?", (k,)).rowcount
                    for table in ("hashes", "zsets", "lists")
                ]
                found += 1 if live or any(parts) else 0
            return found

        return await self._run(work)

    async def incr(self, key: str) -> int:
        k = self._k(key)

        def work(c: sqlite3.Connection) -> int:
            row = c.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, '1', NULL) ON CONFLICT(key) "
                "DO UPDATE SET value=CAST(CAST(value AS INTEGER) + 1 AS TEXT) RETURNING value",
                (k,),
            ).fetchone()
            return int(row[0])

        return await self._run(work)

    # hashes

    async def hget(self, key: str, field: str) -> str | None:
        return (await self.hmget(key, [field]))[0]

    async def hmget(self, key: str, fields: list[str]) -> list[str | None]:
        if not fields:
            return []
        k = self._k(key)

        def work(c: sqlite3.Connection) -> list[str | None]:
            found: dict[str, str] = {}
            for start in range(0, len(fields), 500):
                chunk = fields[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = c.execute(
                    f"SELECT field, value FROM hashes WHERE key=? AND field IN ({marks})",
                    (k, *chunk),
                )
                found.update((str(f), str(v)) for f, v in rows)
            return [found.get(f) for f in fields]

        return await self._run(work)

    async def hset(self, key: str, mapping: Mapping[str, str]) -> None:
        k, items = self._k(key), list(mapping.items())

        def work(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO hashes (key, field, value) VALUES (?, ?, ?) "
                "ON CONFLICT(key, field) DO UPDATE SET value=excluded.value",
                [(k, f, v) for f, v in items],
            )

        await self._run(work)

    async def hsetnx(self, key: str, field: str, value: str) -> bool:
        k = self._k(key)
        return await self._run(
            lambda c: (
                c.execute(
                    "INSERT OR IGNORE INTO hashes (key, field, value) VALUES (?, ?, ?)",
                    (k, field, value),
                ).rowcount
                == 1
            )
        )

    async def hgetall(self, key: str) -> dict[str, str]:
        k = self._k(key)
        return await self._run(
            lambda c: {
                str(f): str(v)
                for f, v in c.execute("SELECT field, value FROM hashes WHERE key=?", (k,))
            }
        )

    async def hdel(self, key: str, *fields: str) -> int:
        k = self._k(key)

        def work(c: sqlite3.Connection) -> int:
            return sum(
                c.execute("DELETE FROM hashes WHERE key=? AND field=?", (k, f)).rowcount
                for f in fields
            )

        return await self._run(work)

    # sorted sets

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        k, items = self._k(key), list(mapping.items())

        def work(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO zsets (key, member, score) VALUES (?, ?, ?) "
                "ON CONFLICT(key, member) DO UPDATE SET score=excluded.score",
                [(k, m, float(s)) for m, s in items],
            )

        await self._run(work)

    async def zrem(self, key: str, *members: str) -> int:
        k = self._k(key)

        def work(c: sqlite3.Connection) -> int:
            return sum(
                c.execute("DELETE FROM zsets WHERE key=? AND member=?", (k, m)).rowcount
                for m in members
            )

        return await self._run(work)

    async def zrange_by_score(
        self, key: str, min_score: float, max_score: float, limit: int | None = None
    ) -> list[tuple[str, float]]:
        k = self._k(key)
        sql = (
            "SELECT member, score FROM zsets WHERE key=? AND score>=? AND score<=? "
            "ORDER BY score, member LIMIT ?"
        )
        args = (k, min_score, max_score, -1 if limit is None else limit)
        return await self._run(lambda c: [(str(m), float(s)) for m, s in c.execute(sql, args)])

    async def zcard(self, key: str) -> int:
        k = self._k(key)
        return await self._run(
            lambda c: int(c.execute("SELECT COUNT(*) FROM zsets WHERE key=?", (k,)).fetchone()[0])
        )

    async def zclaim(self, key: str, member: str, max_score: float, new_score: float) -> bool:
        k = self._k(key)
        return await self._run(
            lambda c: (
                c.execute(
                    "UPDATE zsets SET score=? WHERE key=? AND member=? AND score<=?",
                    (new_score, k, member, max_score),
                ).rowcount
                == 1
            )
        )

    # lists

    async def rpush(self, key: str, *values: str) -> int:
        k = self._k(key)

        def work(c: sqlite3.Connection) -> int:
            c.executemany("INSERT INTO lists (key, value) VALUES (?, ?)", [(k, v) for v in values])
            return int(c.execute("SELECT COUNT(*) FROM lists WHERE key=?", (k,)).fetchone()[0])

        return await self._run(work)

    async def lrange(self, key: str, start: int, stop: int) -> list[str]:
        k = self._k(key)

        def work(c: sqlite3.Connection) -> list[str]:
            values = [
                str(v)
                for (v,) in c.execute("SELECT value FROM lists WHERE key=? ORDER BY seq", (k,))
            ]
            n = len(values)
            lo = max(start + n if start < 0 else start, 0)
            hi = min(stop + n if stop < 0 else stop, n - 1)
            return values[lo : hi + 1] if lo <= hi else []

        return await self._run(work)
