"""The interface every prediction cache backend implements, and its counters.

The predict path calls :meth:`PredictionCache.get_many` once per request with all of its
keys and :meth:`PredictionCache.set_many` once with the fresh predictions. A cache never
raises into the predict path: a backend that cannot answer reports misses and drops writes,
so predictions go on without it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mlserve.serving.cache.keys import CachedPrediction, CacheKey

AvailabilityListener = Callable[[bool], None]
"""Called with ``False`` when a backend becomes unreachable and ``True`` when it is back."""


@dataclass
class CacheStats:
    """Counters the metrics layer reads; they only grow."""

    hits: int = 0
    """Keys found."""
    misses: int = 0
    """Keys not found, expired, undecodable, or not looked up because the backend was down."""
    errors: int = 0
    """Backend operations that failed (timeouts, refused connections)."""
    outages: int = 0
    """Times the backend went from reachable to unreachable."""
    dropped_writes: int = 0
    """Entries not written because the backend was down or the write failed."""

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups, or None before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


class PredictionCache(ABC):
    """Async batch get/set of predictions; implementations never raise on backend failure."""

    backend: str = "abstract"
    """Short name for logs and metrics: ``memory``, ``redis`` or ``disabled``."""

    def __init__(self, *, default_ttl_seconds: float) -> None:
        self.default_ttl_seconds = default_ttl_seconds
        self.stats = CacheStats()
        self._listeners: list[AvailabilityListener] = []

    @property
    def available(self) -> bool:
        """Whether the backend is answering; always True for in-process backends."""
        return True

    def add_availability_listener(self, listener: AvailabilityListener) -> None:
        """Register ``listener`` to hear outages (``False``) and recoveries (``True``)."""
        self._listeners.append(listener)

    def _notify(self, available: bool) -> None:
        for listener in self._listeners:
            listener(available)

    def _count_lookups(self, found: Sequence[CachedPrediction | None]) -> None:
        hits = 0
        for item in found:  # a loop, not a generator: usually one item per request
            if item is not None:
                hits += 1
        self.stats.hits += hits
        self.stats.misses += len(found) - hits

    @abstractmethod
    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedPrediction | None]:
        """The cached prediction for each key, in order, None where absent or unreachable."""

    @abstractmethod
    async def set_many(
        self,
        items: Sequence[tuple[CacheKey, CachedPrediction]],
        ttl: float | None = None,
    ) -> None:
        """Store ``items`` for ``ttl`` seconds (default: the configured ``ttl_seconds``)."""

    async def clear(self) -> None:  # noqa: B027 - optional for backends without state
        """Forget every entry this cache holds (tests and admin use)."""

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections and background tasks; the cache is unusable afterwards."""

    def _ttl(self, ttl: float | None) -> float:
        return self.default_ttl_seconds if ttl is None else ttl
