"""In-process LRU cache with per-entry expiry, used when no Redis URL is configured.

Entries are the :class:`CachedPrediction` objects themselves: they are immutable, so a
caller can never change a cached answer, and a hit costs no decoding (the Redis backend
stores their bytes). Everything runs on the event loop thread without awaiting, so no lock
is needed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.keys import CachedPrediction, CacheKey


class InMemoryCache(PredictionCache):
    """Keeps at most ``max_size`` entries, evicting the least recently used; honours TTLs."""

    backend = "memory"

    def __init__(
        self,
        *,
        max_size: int,
        default_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(default_ttl_seconds=default_ttl_seconds)
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CachedPrediction]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedPrediction | None]:
        now = self._clock()
        found: list[CachedPrediction | None] = []
        for key in keys:
            rendered = key.render()
            entry = self._entries.get(rendered)
            if entry is None:
                found.append(None)
                continue
            expires_at, prediction = entry
            if expires_at <= now:
                del self._entries[rendered]
                found.append(None)
                continue
            self._entries.move_to_end(rendered)
            found.append(prediction)
        self._count_lookups(found)
        return found

    async def set_many(
        self,
        items: Sequence[tuple[CacheKey, CachedPrediction]],
        ttl: float | None = None,
    ) -> None:
        expires_at = self._clock() + self._ttl(ttl)
        for key, prediction in items:
            rendered = key.render()
            self._entries[rendered] = (expires_at, prediction)
            self._entries.move_to_end(rendered)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    async def clear(self) -> None:
        self._entries.clear()
