"""Per-variant request counts and latencies, cheap on the request path, shared by replicas.

Each process adds to in-memory counters (:meth:`VariantStats.add`: a few additions, no
I/O); :class:`ExperimentStats` writes them to the state store about once a second, one hash
field per process and version (``experiment:stats:<id>`` / ``<replica>:<version>``), each
field the process's cumulative totals. Reading sums the fields, so totals survive a
restart (the old process's field stays) and every replica's traffic counts. A field also
carries the process's *recent* window (``window_seconds``) for the guardrails, ignored when
its writer has not refreshed it for three windows' worth of flushes.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from mlserve.platform.store import StateStore

LATENCY_SAMPLE = 1000
"""Latencies kept per process and variant (the newest), for the percentiles."""

_MAX_RECENT = 20_000


def stats_key(experiment_id: str) -> str:
    return f"experiment:stats:{experiment_id}"


@dataclass
class VariantStats:
    """One process's counts for one variant (a version within an experiment)."""

    requests: int = 0
    errors: int = 0
    latency_sum_ms: float = 0.0
    latency_sq_ms: float = 0.0
    agreed: int = 0
    compared: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLE))
    recent: deque[tuple[float, bool, float]] = field(
        default_factory=lambda: deque(maxlen=_MAX_RECENT)
    )

    def add(
        self, ok: bool, latency_ms: float, now: float, agreed: int = 0, compared: int = 0
    ) -> None:
        self.requests += 1
        self.agreed += agreed
        self.compared += compared
        self.errors += not ok
        self.latency_sum_ms += latency_ms
        self.latency_sq_ms += latency_ms * latency_ms
        self.latencies.append(latency_ms)
        self.recent.append((now, ok, latency_ms))

    def document(self, window_s: float, now: float) -> str:
        while self.recent and self.recent[0][0] < now - window_s:
            self.recent.popleft()
        recent = list(self.recent)
        return json.dumps(
            {
                "requests": self.requests,
                "errors": self.errors,
                "latency_sum_ms": self.latency_sum_ms,
                "latency_sq_ms": self.latency_sq_ms,
                "agreed": self.agreed,
                "compared": self.compared,
                "latencies": list(self.latencies),
                "recent_requests": len(recent),
                "recent_errors": sum(1 for _, ok, _ in recent if not ok),
                "recent_latencies": [ms for _, _, ms in recent[-LATENCY_SAMPLE:]],
                "flushed_at": now,
            }
        )


@dataclass
class VariantTotals:
    """A variant's counts summed over every process."""

    requests: int = 0
    errors: int = 0
    latency_sum_ms: float = 0.0
    latency_sq_ms: float = 0.0
    agreed: int = 0
    """Mirror copies: answers equal to the primary's, of ``compared``."""
    compared: int = 0
    latencies: list[float] = field(default_factory=list)
    recent_requests: int = 0
    recent_errors: int = 0
    recent_latencies: list[float] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return self.requests - self.errors

    def mean_latency(self) -> float | None:
        return self.latency_sum_ms / self.requests if self.requests else None

    def latency_variance(self) -> float:
        if not self.requests:
            return 0.0
        mean = self.latency_sum_ms / self.requests
        return max(self.latency_sq_ms / self.requests - mean * mean, 0.0)

    def recent_error_rate(self) -> float | None:
        return self.recent_errors / self.recent_requests if self.recent_requests else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in [0, 100]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


class ExperimentStats:
    """This process's counters for every running experiment, and the merged reads."""

    def __init__(self, store: StateStore, replica: str | None = None) -> None:
        self._store = store
        self.replica = replica or uuid.uuid4().hex[:12]
        self._local: dict[tuple[str, int], VariantStats] = {}
        self._dirty: set[tuple[str, int]] = set()

    def add(
        self,
        experiment_id: str,
        version: int,
        ok: bool,
        latency_ms: float,
        agreed: int = 0,
        compared: int = 0,
    ) -> None:
        key = (experiment_id, version)
        stats = self._local.get(key)
        if stats is None:
            stats = self._local[key] = VariantStats()
        stats.add(ok, latency_ms, time.time(), agreed, compared)
        self._dirty.add(key)

    async def flush(self, window_s: dict[str, float]) -> None:
        """Write what changed (and recent windows that may have emptied) to the store;
        ``window_s``: each running experiment's guardrail window."""
        now = time.time()
        by_experiment: dict[str, dict[str, str]] = {}
        for (experiment_id, version), stats in self._local.items():
            window = window_s.get(experiment_id)
            if window is None:
                continue
            if (experiment_id, version) not in self._dirty and not stats.recent:
                continue
            field_name = f"{self.replica}:{version}"
            by_experiment.setdefault(experiment_id, {})[field_name] = stats.document(window, now)
        self._dirty.clear()
        for experiment_id in [e for e, _ in self._local if e not in window_s]:
            self._local = {k: v for k, v in self._local.items() if k[0] != experiment_id}
        for experiment_id, fields in by_experiment.items():
            await self._store.hset(stats_key(experiment_id), fields)

    async def totals(
        self, experiment_id: str, stale_after_s: float = 10.0
    ) -> dict[int, VariantTotals]:
        """Every version's counts summed over processes (recent windows of fresh fields)."""
        rows = await self._store.hgetall(stats_key(experiment_id))
        now = time.time()
        totals: dict[int, VariantTotals] = {}
        for name, raw in rows.items():
            version = int(name.rsplit(":", 1)[1])
            doc = json.loads(raw)
            t = totals.setdefault(version, VariantTotals())
            t.requests += doc["requests"]
            t.errors += doc["errors"]
            t.latency_sum_ms += doc["latency_sum_ms"]
            t.latency_sq_ms += doc["latency_sq_ms"]
            t.agreed += doc.get("agreed", 0)
            t.compared += doc.get("compared", 0)
            t.latencies.extend(doc["latencies"])
            if now - doc["flushed_at"] <= stale_after_s:
                t.recent_requests += doc["recent_requests"]
                t.recent_errors += doc["recent_errors"]
                t.recent_latencies.extend(doc["recent_latencies"])
        return totals
