"""The prediction log: every ``/api/v1/predict`` record, bounded in size.

Feedback joins on ``prediction_id``; online metrics, the hourly timeseries and data quality
read windows of it. It keeps the newest ``max_size`` predictions (checked after each write,
the oldest are dropped together with their feedback), so its size is bounded whatever the
traffic. Inputs are kept with each prediction for data-quality checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from mlserve.platform.store import StateStore

_RECORDS = "pred"
_ALL = "pred:all"

EvictHook = Callable[[list[str]], Awaitable[None]]


def _version_index(model: str, version: int) -> str:
    return f"pred:idx:{model}:{version}"


def _model_index(model: str) -> str:
    return f"pred:model:{model}"


class PredictionRecord(BaseModel):
    """One served prediction."""

    prediction_id: str
    request_id: str
    model: str
    version: int
    ts: float
    latency_ms: float
    output: Any = None
    probabilities: Any = None
    entity_id: str | None = None
    inputs: dict[str, Any] | None = None
    score: float | None = None
    """An anomaly detector's score (negative = outlier); None for other models."""


class PredictionLog:
    """Append, look up and scan predictions."""

    def __init__(self, store: StateStore, *, max_size: int) -> None:
        self._store = store
        self.max_size = max_size
        self._evict_hooks: list[EvictHook] = []

    def on_evict(self, hook: EvictHook) -> None:
        """Run ``hook(prediction_ids)`` when old predictions are dropped."""
        self._evict_hooks.append(hook)

    async def record(self, records: Sequence[PredictionRecord]) -> None:
        if not records:
            return
        await self._store.hset(_RECORDS, {r.prediction_id: r.model_dump_json() for r in records})
        by_version: dict[tuple[str, int], dict[str, float]] = {}
        by_model: dict[str, dict[str, float]] = {}
        for r in records:
            by_version.setdefault((r.model, r.version), {})[r.prediction_id] = r.ts
            by_model.setdefault(r.model, {})[r.prediction_id] = r.ts
        for (model, version), members in by_version.items():
            await self._store.zadd(_version_index(model, version), members)
        for model, members in by_model.items():
            await self._store.zadd(_model_index(model), members)
        await self._store.zadd(_ALL, {r.prediction_id: r.ts for r in records})
        await self._trim()

    async def get_many(self, prediction_ids: list[str]) -> list[PredictionRecord | None]:
        raws = await self._store.hmget(_RECORDS, prediction_ids)
        return [None if raw is None else PredictionRecord.model_validate_json(raw) for raw in raws]

    async def window(
        self, model: str, version: int | None, since: float, until: float
    ) -> list[PredictionRecord]:
        """Predictions of ``model`` (one version, or all when None) with ``since <= ts <=
        until``, oldest first."""
        index = _model_index(model) if version is None else _version_index(model, version)
        ids = [member for member, _ in await self._store.zrange_by_score(index, since, until)]
        return [r for r in await self.get_many(ids) if r is not None]

    async def size(self) -> int:
        return await self._store.zcard(_ALL)

    async def _trim(self) -> None:
        excess = await self._store.zcard(_ALL) - self.max_size
        if excess <= 0:
            return
        oldest = [
            m
            for m, _ in await self._store.zrange_by_score(
                _ALL, float("-inf"), float("inf"), limit=excess
            )
        ]
        indexes: dict[str, list[str]] = {}
        for r in await self.get_many(oldest):
            if r is not None:
                indexes.setdefault(_version_index(r.model, r.version), []).append(r.prediction_id)
                indexes.setdefault(_model_index(r.model), []).append(r.prediction_id)
        for index, members in indexes.items():
            await self._store.zrem(index, *members)
        await self._store.hdel(_RECORDS, *oldest)
        await self._store.zrem(_ALL, *oldest)
        for hook in self._evict_hooks:
            await hook(oldest)
