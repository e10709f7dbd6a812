"""Pick the cache backend the settings ask for."""

from __future__ import annotations

from mlserve.serving.cache.base import PredictionCache
from mlserve.serving.cache.disabled import DisabledCache
from mlserve.serving.cache.memory import InMemoryCache
from mlserve.serving.cache.redis_backend import RedisCache
from mlserve.settings import Settings


def build_cache(settings: Settings) -> PredictionCache:
    """``DisabledCache`` when ``cache.enabled`` is false, ``RedisCache`` when a Redis URL is set
    (``redis_url`` or ``cache.redis_url``), else an ``InMemoryCache``.

    Nothing connects here: a Redis that is down at start-up shows as an outage on first use,
    and the cache comes back when Redis does.
    """
    cache_settings = settings.cache
    if not cache_settings.enabled:
        return DisabledCache(default_ttl_seconds=cache_settings.ttl_seconds)
    url = settings.effective_redis_url
    if url:
        return RedisCache(url, default_ttl_seconds=cache_settings.ttl_seconds)
    return InMemoryCache(
        max_size=cache_settings.max_size, default_ttl_seconds=cache_settings.ttl_seconds
    )
