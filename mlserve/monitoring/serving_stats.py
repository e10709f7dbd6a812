"""Request outcomes and latency per (model, version), over a sliding horizon and per interval.

Prometheus keeps the full history; this is the control plane's own short memory, what the
alerts (success rate, average latency) and the serving-performance baseline need without
querying Prometheus. Memory is bounded: time buckets covering the horizon per version and
at most ``max_versions`` versions.

Outcome classes: a status below 400 is a success; 429 and 5xx are failures (the service
did not serve the request); other 4xx are the client's errors and do not count against the
success rate (their latency still counts).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

VersionKey = tuple[str, int | None]


@dataclass(frozen=True)
class ServingStats:
    """Outcomes and latency of one version over some span of time."""

    model: str
    version: int | None
    successes: int
    failures: int
    client_errors: int
    latency_seconds_total: float
    latency_quantiles_ms: tuple[float, float, float] | None = None
    """p50, p95, p99 over the most recent requests of the span (None when not tracked)."""
    span_seconds: float | None = None
    """Time the figures cover (for throughput); None for a poll interval."""

    @property
    def throughput_rps(self) -> float | None:
        """Requests per second over the span."""
        if not self.span_seconds or self.span_seconds <= 0:
            return None
        return self.requests / self.span_seconds

    @property
    def requests(self) -> int:
        """All requests, client errors included."""
        return self.successes + self.failures + self.client_errors

    @property
    def success_rate(self) -> float | None:
        """Successes / (successes + failures); None without such requests."""
        served = self.successes + self.failures
        return self.successes / served if served else None

    @property
    def error_rate(self) -> float | None:
        rate = self.success_rate
        return None if rate is None else 1.0 - rate

    @property
    def avg_latency_ms(self) -> float | None:
        return 1000.0 * self.latency_seconds_total / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "client_errors": self.client_errors,
            "success_rate": self.success_rate,
            "avg_latency_ms": self.avg_latency_ms,
            "p50_ms": self.latency_quantiles_ms[0] if self.latency_quantiles_ms else None,
            "p95_ms": self.latency_quantiles_ms[1] if self.latency_quantiles_ms else None,
            "p99_ms": self.latency_quantiles_ms[2] if self.latency_quantiles_ms else None,
            "throughput_rps": self.throughput_rps,
        }


class _Totals:
    __slots__ = ("client_errors", "failures", "latency", "start", "successes")

    def __init__(self, start: float = 0.0) -> None:
        self.start = start
        self.successes = 0
        self.failures = 0
        self.client_errors = 0
        self.latency = 0.0

    def add(self, status: int, latency: float) -> None:
        """One request; ``latency`` already checked (finite, else 0)."""
        if status < 400:
            self.successes += 1
        elif status == 429 or status >= 500:
            self.failures += 1
        else:
            self.client_errors += 1
        self.latency += latency


class _Version:
    """One version's figures: time buckets over the horizon, the current poll interval
    (None until a request comes in it), the latest latencies, and when it was last seen."""

    __slots__ = ("buckets", "interval", "samples", "seen")

    def __init__(self, latency_samples: int) -> None:
        self.buckets: deque[_Totals] = deque()
        self.interval: _Totals | None = None
        self.samples: deque[tuple[float, float]] = deque(maxlen=latency_samples)
        self.seen = 0.0


def _stats(
    key: VersionKey,
    parts: list[_Totals],
    quantiles: tuple[float, float, float] | None = None,
    span: float | None = None,
) -> ServingStats:
    return ServingStats(
        model=key[0],
        version=key[1],
        successes=sum(p.successes for p in parts),
        failures=sum(p.failures for p in parts),
        client_errors=sum(p.client_errors for p in parts),
        latency_seconds_total=sum(p.latency for p in parts),
        latency_quantiles_ms=quantiles,
        span_seconds=span,
    )


def _quantiles(
    samples: deque[tuple[float, float]], since: float
) -> tuple[float, float, float] | None:
    recent = [seconds for at, seconds in samples if at >= since]
    if not recent:
        return None
    p50, p95, p99 = np.quantile(np.asarray(recent) * 1000.0, [0.5, 0.95, 0.99])
    return float(p50), float(p95), float(p99)


class RequestStats:
    """Counts request outcomes per version; cheap to record, bounded in memory."""

    def __init__(
        self,
        horizon_seconds: float = 300.0,
        *,
        bucket_seconds: float = 10.0,
        max_versions: int = 1024,
        latency_samples: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.horizon_seconds = horizon_seconds
        self.bucket_seconds = min(bucket_seconds, horizon_seconds)
        self._max_versions = max_versions
        self._clock = clock
        self._versions: dict[VersionKey, _Version] = {}
        self._latency_samples = latency_samples
        self._started = clock()
        self._lock = threading.Lock()

    def record(self, model: str, version: int | None, status: int, seconds: float) -> None:
        """One finished request: its HTTP status and how long it took."""
        now = self._clock()
        start = now - now % self.bucket_seconds
        latency = seconds if 0.0 < seconds < math.inf else 0.0  # NaN fails both tests
        with self._lock:
            state = self._versions.get((model, version))
            if state is None:
                state = self._add((model, version))
            state.seen = now
            buckets = state.buckets
            if not buckets or buckets[-1].start != start:
                buckets.append(_Totals(start))
                self._expire(buckets, now)
            buckets[-1].add(status, latency)
            interval = state.interval
            if interval is None:
                interval = state.interval = _Totals()
            interval.add(status, latency)
            if 0.0 <= seconds < math.inf:
                state.samples.append((now, seconds))

    def _add(self, key: VersionKey) -> _Version:
        """A new version's figures; past ``max_versions`` the least recently seen go."""
        versions = self._versions
        while len(versions) >= self._max_versions:
            del versions[min(versions, key=lambda k: versions[k].seen)]
        state = versions[key] = _Version(self._latency_samples)
        return state

    def _expire(self, buckets: deque[_Totals], now: float) -> None:
        while buckets and buckets[0].start + self.bucket_seconds <= now - self.horizon_seconds:
            buckets.popleft()

    def window(self) -> list[ServingStats]:
        """Per-version totals over the last ``horizon_seconds``, by model and version.

        Latency quantiles come from the last ``latency_samples`` requests within the
        horizon; throughput divides by the time covered (the horizon, or less since start).
        """
        now = self._clock()
        since = now - self.horizon_seconds
        span = max(min(self.horizon_seconds, now - self._started), 1e-9)
        with self._lock:
            result = []
            for key, state in self._versions.items():
                self._expire(state.buckets, now)
                if state.buckets:
                    quantiles = _quantiles(state.samples, since)
                    result.append(_stats(key, list(state.buckets), quantiles, span))
        return sorted(result, key=lambda s: (s.model, s.version or 0))

    def take_interval(self) -> list[ServingStats]:
        """Per-version totals since the previous call (one poll interval), then reset."""
        with self._lock:
            taken = []
            for key, state in self._versions.items():
                if state.interval is not None:
                    taken.append((key, state.interval))
                    state.interval = None
        return sorted(
            (_stats(key, [totals]) for key, totals in taken),
            key=lambda s: (s.model, s.version or 0),
        )
