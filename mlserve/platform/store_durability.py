"""Refuse a Redis that could lose platform state: checked once, before the platform starts.

Platform state (accounts, tokens, A/B weights, the webhook outbox) must never be evicted and
must survive a Redis restart. A Redis qualifies only when its ``maxmemory-policy`` is
``noeviction`` and it persists (``appendonly yes`` or a non-empty ``save`` schedule).
The check reads ``INFO`` (allowed on managed Redis too) and ``CONFIG GET save`` only when
AOF is off. A Redis that fails it stops start-up with one line saying what to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlserve.errors import SettingsError

FIX = (
    "run that Redis with --maxmemory-policy noeviction and --appendonly yes (or a --save "
    "schedule), or unset MLSERVE_AUTH__STATE_REDIS_URL to keep state in SQLite "
    "(MLSERVE_AUTH__STATE_PATH)"
)


def durability_problem(info: Mapping[str, Any], save_schedule: str | None) -> str | None:
    """Why a Redis with this ``INFO`` (memory + persistence sections) and ``save`` config
    cannot hold platform state, or None when it can."""
    policy = str(info.get("maxmemory_policy", "unknown"))
    if policy != "noeviction":
        return f"its maxmemory-policy is {policy!r}, so it may evict accounts and deliveries"
    if str(info.get("aof_enabled", "0")) == "1":
        return None
    if save_schedule and save_schedule.strip():
        return None
    return "it persists nothing (appendonly no and an empty save schedule)"


def refusal(address: str, problem: str) -> SettingsError:
    """The one-line start-up refusal for the state Redis at ``address``."""
    return SettingsError(f"refusing to keep platform state in Redis at {address}: {problem}; {FIX}")


def same_as_cache(state_url: str | None, cache_url: str | None) -> bool:
    """True when the state store would share the prediction cache's Redis database."""
    return bool(state_url) and state_url == cache_url
