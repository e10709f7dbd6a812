"""Per-model request figures over any window, from the control plane's own counters.

The request metrics (``mlserve_requests_total`` by model and status,
``mlserve_request_duration_seconds`` by model and version) are cumulative since the process
started. :class:`ModelFigures` snapshots them every few seconds and answers *differences*:
the figures of one model over the last ``window_seconds`` (custom alerts), or since the
previous pass (the hourly history). Percentiles come from the histogram's buckets (the
upper bound of the bucket holding the rank, as Prometheus' ``histogram_quantile`` does
without interpolation).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

MAX_WINDOW_SECONDS = 24 * 3600


@dataclass
class Figures:
    """Requests of one model: outcomes and latency (a cumulative total or a difference)."""

    requests: int = 0
    errors: int = 0
    """5xx answers."""
    client_errors: int = 0
    latency_sum_s: float = 0.0
    latency_count: int = 0
    buckets: dict[float, float] = field(default_factory=dict)
    """Cumulative histogram: upper bound (s) -> requests at or under it."""
    versions: set[str] = field(default_factory=set)

    def minus(self, earlier: Figures) -> Figures:
        return Figures(
            self.requests - earlier.requests,
            self.errors - earlier.errors,
            self.client_errors - earlier.client_errors,
            self.latency_sum_s - earlier.latency_sum_s,
            self.latency_count - earlier.latency_count,
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            set(self.versions),
        )

    @property
    def success_rate(self) -> float | None:
        served = self.requests - self.client_errors
        return (served - self.errors) / served if served > 0 else None

    @property
    def error_rate(self) -> float | None:
        rate = self.success_rate
        return None if rate is None else 1 - rate

    @property
    def avg_latency_ms(self) -> float | None:
        return self.latency_sum_s / self.latency_count * 1000 if self.latency_count else None

    def latency_quantile_ms(self, q: float) -> float | None:
        if not self.latency_count or not self.buckets:
            return None
        rank = q * self.latency_count
        for le in sorted(self.buckets):
            if self.buckets[le] >= rank:
                return le * 1000 if math.isfinite(le) else None
        return None


def read_figures(registry: CollectorRegistry) -> dict[str, Figures]:
    """Cumulative figures per model (the unresolved model ``-`` left out)."""
    figures: dict[str, Figures] = {}

    def of(model: str) -> Figures:
        return figures.setdefault(model, Figures())

    for family in registry.collect():
        if family.name == "mlserve_requests":
            for s in family.samples:
                if not s.name.endswith("_total") or s.labels["model"] == "-":
                    continue
                f, status = of(s.labels["model"]), int(s.labels["status"])
                f.requests += int(s.value)
                if status >= 500:
                    f.errors += int(s.value)
                elif status >= 400:
                    f.client_errors += int(s.value)
        elif family.name == "mlserve_request_duration_seconds":
            for s in family.samples:
                model = s.labels.get("model", "-")
                if model == "-":
                    continue
                f = of(model)
                f.versions.add(s.labels.get("version", ""))
                if s.name.endswith("_sum"):
                    f.latency_sum_s += s.value
                elif s.name.endswith("_count"):
                    f.latency_count += int(s.value)
                elif s.name.endswith("_bucket"):
                    le = float(s.labels["le"])
                    f.buckets[le] = f.buckets.get(le, 0.0) + s.value
    return figures


class ModelFigures:
    """Snapshots of the cumulative figures, for differences over windows."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._snapshots: deque[tuple[float, dict[str, Figures]]] = deque()

    def take(self, now: float | None = None) -> dict[str, Figures]:
        """Take a snapshot (call every few seconds); returns the cumulative figures."""
        now = time.time() if now is None else now
        current = read_figures(self._registry)
        self._snapshots.append((now, current))
        while self._snapshots and self._snapshots[0][0] < now - MAX_WINDOW_SECONDS:
            self._snapshots.popleft()
        return current

    def models(self) -> list[str]:
        return sorted(self._snapshots[-1][1]) if self._snapshots else []

    def total(self, model: str) -> Figures:
        """Since this process started."""
        return self._snapshots[-1][1].get(model, Figures()) if self._snapshots else Figures()

    def window(self, model: str, seconds: float) -> Figures:
        """Over (about) the last ``seconds``: newest snapshot minus the newest one at
        least ``seconds`` older (or the oldest kept)."""
        if not self._snapshots:
            return Figures()
        newest_ts, newest = self._snapshots[-1]
        base: dict[str, Figures] = {}
        for ts, snapshot in self._snapshots:
            if ts > newest_ts - seconds:
                break
            base = snapshot
        current = newest.get(model, Figures())
        return current.minus(base.get(model, Figures()))
