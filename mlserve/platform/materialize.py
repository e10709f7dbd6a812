"""Materialized predictions: the latest prediction per (model, entity id), with a TTL.

``predict(..., materialize=true)`` stores each record's prediction under its entity id
instead of returning it; consumers read it back with ``fetch-materialized`` (and a webhook
tells them when it is there). The platform stores them in its state store (Redis or
SQLite: shared by every worker and replica, kept across restarts); :class:`MemoryKV` is an
in-process dictionary with the same TTL semantics, single-process only.

Writes are all-or-nothing: when the store is down, :meth:`Materializer.materialize` raises
ServiceUnavailableError saying nothing was stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from mlserve.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.platform.versions import version_label


class ExpiringKV(Protocol):
    """The part of a store materialization needs (a :class:`StateStore` satisfies it)."""

    async def get(self, key: str) -> str | None: ...

    async def set_many(
        self, items: Mapping[str, str], ttl_seconds: float | None = None
    ) -> None: ...


class MemoryKV:
    """In-process :class:`ExpiringKV`: same TTL semantics, single process only."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._max_entries = max_entries

    async def get(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    async def set_many(self, items: Mapping[str, str], ttl_seconds: float | None = None) -> None:
        expires = time.monotonic() + ttl_seconds if ttl_seconds is not None else None
        for key, value in items.items():
            self._data.pop(key, None)
            self._data[key] = (value, expires)
        if len(self._data) > self._max_entries:
            self._evict()

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
            del self._data[key]
        while len(self._data) > self._max_entries:
            del self._data[next(iter(self._data))]


@dataclass(frozen=True)
class MaterializedRow:
    """One record's prediction to store."""

    entity_id: str
    prediction_id: str
    version: int
    prediction: Any
    probabilities: Any = None


class Materializer:
    """Stores and fetches materialized predictions."""

    def __init__(self, kv: ExpiringKV, *, ttl_seconds: float, backend: str) -> None:
        self._kv = kv
        self.ttl_seconds = ttl_seconds
        self.backend = backend

    @staticmethod
    def _key(model: str, entity_id: str) -> str:
        return f"mat:{model}:{entity_id}"

    async def materialize(self, model: str, rows: Sequence[MaterializedRow]) -> dict[str, Any]:
        """Store every row (the same entity twice: the last row wins) and return the ack
        ``{"materialized": true, "model", "stored_at", "keys", ...}``."""
        stored_ts = time.time()
        stored_at = datetime.fromtimestamp(stored_ts, UTC).isoformat()
        items = {
            self._key(model, row.entity_id): json.dumps(
                {
                    "model": model,
                    "entity_id": row.entity_id,
                    "version": version_label(row.version),
                    "prediction_id": row.prediction_id,
                    "prediction": row.prediction,
                    "probabilities": row.probabilities,
                    "stored_at": stored_at,
                    "stored_ts": stored_ts,
                }
            )
            for row in rows
        }
        try:
            await self._kv.set_many(items, ttl_seconds=self.ttl_seconds)
        except ServiceUnavailableError as exc:
            raise ServiceUnavailableError(
                f"materialization failed, nothing was stored for {model} "
                f"({len(rows)} predictions): {exc.message}"
            ) from exc
        return {
            "materialized": True,
            "model": model,
            "stored_at": stored_at,
            "keys": [row.entity_id for row in rows],
            "count": len(rows),
            "versions": sorted({version_label(row.version) for row in rows}),
            "ttl_seconds": self.ttl_seconds,
        }

    async def fetch(
        self, model: str, entity_id: str, max_age_seconds: float | None = None
    ) -> dict[str, Any]:
        """The latest stored prediction for the entity, with ``age_seconds``; NotFoundError
        when there is none, it expired, or it is older than ``max_age_seconds``."""
        if max_age_seconds is not None and max_age_seconds < 0:
            raise InvalidInputError(f"max_age_seconds must be >= 0 (got {max_age_seconds})")
        if not entity_id:
            raise InvalidInputError("entity_id is required: pass ?entity_id=<id>")
        raw = await self._kv.get(self._key(model, entity_id))
        if raw is None:
            raise NotFoundError(
                f"no materialized prediction for entity {entity_id!r} of model {model!r}: it "
                f"was never materialized or expired (TTL {self.ttl_seconds:g} s); predict with "
                "materialize=true first"
            )
        record: dict[str, Any] = json.loads(raw)
        age = max(0.0, time.time() - float(record.pop("stored_ts")))
        if max_age_seconds is not None and age > max_age_seconds:
            raise NotFoundError(
                f"the materialized prediction for entity {entity_id!r} of {model!r} is "
                f"{age:.0f} s old, older than max_age_seconds={max_age_seconds:g}; predict "
                "again with materialize=true or allow an older one"
            )
        record["age_seconds"] = round(age, 3)
        return record
