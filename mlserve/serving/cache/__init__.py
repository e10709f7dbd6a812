"""Prediction cache: keys, the async batch interface and its backends (memory, Redis, off).

Use :func:`build_cache` to get the backend the settings ask for.
"""

from mlserve.serving.cache.base import AvailabilityListener, CacheStats, PredictionCache
from mlserve.serving.cache.disabled import DisabledCache
from mlserve.serving.cache.factory import build_cache
from mlserve.serving.cache.keys import CachedPrediction, CacheKey
from mlserve.serving.cache.memory import InMemoryCache
from mlserve.serving.cache.redis_backend import RedisCache

__all__ = [
    "AvailabilityListener",
    "CacheKey",
    "CacheStats",
    "CachedPrediction",
    "DisabledCache",
    "InMemoryCache",
    "PredictionCache",
    "RedisCache",
    "build_cache",
]
