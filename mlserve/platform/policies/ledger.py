"""The learning state of one online model, durable and shared through the StateStore.

Why a ledger: every replica must learn from every replica's feedback, and no update may be
lost when two control planes apply feedback at the same moment. The state is a sum
(:class:`~mlserve.platform.policies.linear.LinearStats` plus reward and pull counters), so
each feedback batch is appended as one entry holding *its* contribution (``RPUSH``, atomic
in Redis and SQLite); the state is the sum of all entries, in any order. Each replica folds
the entries it has not seen yet into an in-memory copy. Nothing is read-modify-written, so
there is nothing to lose.

Keys (under the store's prefix)::

    online:learn:<model>:<version>     list   one JSON entry per accepted feedback batch
    online:learn:<model>:<version>:n   counter bumped after each append (cheap "anything
                                       new?" check before reading the list)
    online:pulls:<model>:<version>     list   prediction counters, flushed by each replica
    online:pulls:<model>:<version>:n   counter

A feedback entry: ``{"t": unix time, "s": {action: [A row-major, b]}, "p": {policy id:
[n, reward sum, reward sum of squares]}}``. A pulls entry: ``{hour start: {policy id:
[pulls, explorations, epsilon sum]}}``. Growth: one entry (~1 KB) per feedback batch and
one small entry per replica per second of traffic.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mlserve.platform.policies.linear import LinearFit, LinearStats
from mlserve.platform.store import StateStore

HOUR = 3600
RECENT_WINDOW = 100
"""Feedback rows per policy that the windowed reward averages over."""

Counters = dict[int, list[float]]
"""policy id -> counter vector."""


def hour_of(ts: float) -> int:
    return int(ts // HOUR) * HOUR


def _add(target: Counters, source: dict[str, list[float]] | Counters) -> None:
    for key, values in source.items():
        row = target.setdefault(int(key), [0.0] * len(values))
        for i, value in enumerate(values):
            row[i] += float(value)


@dataclass
class FoldedState:
    """Everything a replica knows about one model, folded from the ledger."""

    stats: LinearStats
    fit: LinearFit
    learn_seen: int = 0
    pulls_seen: int = 0
    rewards_by_hour: dict[int, Counters] = field(default_factory=dict)
    pulls_by_hour: dict[int, Counters] = field(default_factory=dict)
    recent: dict[int, deque[tuple[float, float]]] = field(default_factory=dict)

    def totals(self, by_hour: dict[int, Counters], since: float = 0.0) -> Counters:
        out: Counters = {}
        for hour, counters in by_hour.items():
            if hour + HOUR > since:
                _add(out, counters)
        return out

    def recent_mean(self, policy_id: int) -> float | None:
        batches = self.recent.get(policy_id)
        if not batches:
            return None
        n = sum(b[0] for b in batches)
        return sum(b[1] for b in batches) / n if n else None


class PolicyLedger:
    """Append contributions, fold what others appended. One per model and version."""

    def __init__(
        self, store: StateStore, key: str, actions: int, dimension: int, ridge: float
    ) -> None:
        self._store = store
        self._learn = f"online:learn:{key}"
        self._pulls = f"online:pulls:{key}"
        self._actions = actions
        self._dimension = dimension
        self._ridge = ridge
        stats = LinearStats.empty(actions, dimension)
        self.state = FoldedState(stats=stats, fit=stats.fit(ridge))
        self._lock = asyncio.Lock()
        self._checked_at = -float("inf")

    async def append_feedback(
        self, stats: LinearStats, rewards: dict[int, list[float]], ts: float | None = None
    ) -> None:
        """Record one validated feedback batch (one atomic append), then fold."""
        touched = {
            str(a): [stats.a[a].ravel().tolist(), stats.b[a].tolist()]
            for a in range(self._actions)
            if stats.a[a, 0, 0] > 0
        }
        entry = {"t": time.time() if ts is None else ts, "s": touched, "p": rewards}
        await self._store.rpush(self._learn, json.dumps(entry))
        await self._store.incr(self._learn + ":n")
        await self.refresh()

    async def append_pulls(self, pulls: dict[int, Counters]) -> None:
        """Record prediction counters gathered since the last flush."""
        if not pulls:
            return
        entry = {str(hour): {str(p): v for p, v in c.items()} for hour, c in pulls.items()}
        await self._store.rpush(self._pulls, json.dumps(entry))
        await self._store.incr(self._pulls + ":n")

    async def refresh(self, *, pulls: bool = False, max_age_s: float = 0.0) -> FoldedState:
        """Fold entries appended since the last refresh (by any replica). With
        ``max_age_s``, a state checked against the store less than that long ago is used as
        it is (what this replica appended is always folded at once)."""
        if not pulls and time.monotonic() - self._checked_at < max_age_s:
            return self.state
        async with self._lock:
            state = self.state
            self._checked_at = time.monotonic()
            if await self._count(self._learn) > state.learn_seen:
                entries = await self._store.lrange(self._learn, state.learn_seen, -1)
                for raw in entries:
                    self._fold_feedback(json.loads(raw))
                state.learn_seen += len(entries)
                state.fit = state.stats.fit(self._ridge)
            if pulls and await self._count(self._pulls) > state.pulls_seen:
                entries = await self._store.lrange(self._pulls, state.pulls_seen, -1)
                for raw in entries:
                    for hour, counters in json.loads(raw).items():
                        _add(state.pulls_by_hour.setdefault(int(hour), {}), counters)
                state.pulls_seen += len(entries)
            return state

    async def _count(self, key: str) -> int:
        raw = await self._store.get(key + ":n")
        return int(raw) if raw else 0

    def _fold_feedback(self, entry: dict[str, object]) -> None:
        state = self.state
        d = self._dimension
        contributions = entry["s"]
        assert isinstance(contributions, dict)
        for action, (a_flat, b) in contributions.items():
            state.stats.a[int(action)] += np.asarray(a_flat, dtype=np.float64).reshape(d, d)
            state.stats.b[int(action)] += np.asarray(b, dtype=np.float64)
        rewards = entry["p"]
        assert isinstance(rewards, dict)
        ts = entry["t"]
        assert isinstance(ts, int | float)
        _add(state.rewards_by_hour.setdefault(hour_of(float(ts)), {}), rewards)
        for policy, (n, total, _squares) in rewards.items():
            recent = state.recent.setdefault(int(policy), deque())
            recent.append((float(n), float(total)))
            while len(recent) > 1 and sum(b[0] for b in recent) - recent[0][0] >= RECENT_WINDOW:
                recent.popleft()
