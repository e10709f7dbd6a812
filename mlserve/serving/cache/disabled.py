"""The cache used when ``cache.enabled`` is false: every lookup misses, writes vanish."""

from __future__ import annotations

from collections.abc import Sequence

from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.keys import CachedPrediction, CacheKey


class DisabledCache(PredictionCache):
    """A no-op cache, so the predict path needs no ``if cache is None`` branches.

    Its counters stay at zero: nothing is looked up, so there is no hit ratio to report.
    """

    backend = "disabled"

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedPrediction | None]:
        return [None] * len(keys)

    async def set_many(
        self,
        items: Sequence[tuple[CacheKey, CachedPrediction]],
        ttl: float | None = None,
    ) -> None:
        return None
