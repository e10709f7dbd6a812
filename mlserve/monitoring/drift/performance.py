"""Serving-performance drift: per-interval queue time, latency, error rate vs their baseline.

Each (model, version, series) learns a baseline from its first ``baseline_intervals``
intervals with traffic (median and median absolute deviation, robust to a slow first
request). Afterwards an interval value is "high" above

    max(median + mad_factor * 1.4826 * MAD,  median * rise_factor,  median + min_rise)

and the series is *rising* once ``consecutive`` intervals in a row were high, so a single
spike does not alert. ``min_rise`` per series keeps noise-free baselines (an error rate of
exactly 0) from alerting on one failed request. Intervals without traffic (None/NaN) are
ignored. The baseline stays fixed until :meth:`PerformanceDriftDetector.rebaseline` (after
a planned change, e.g. new hardware), so slow creep is caught too. Memory: a few floats per
series, at most ``max_series`` series (least recently updated dropped).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

LATENCY_MS = "latency_ms"
ERROR_RATE = "error_rate"
QUEUE_US = "queue_us_per_request"
COMPUTE_US = "compute_us_per_request"

DEFAULT_MIN_RISE: dict[str, float] = {
    LATENCY_MS: 5.0,
    ERROR_RATE: 0.01,
    QUEUE_US: 1_000.0,
    COMPUTE_US: 1_000.0,
}
"""Smallest absolute rise that counts, per series (unknown series: 0)."""

PerformanceStatus = Literal["baseline", "ok", "rising"]


@dataclass(frozen=True)
class PerformanceCheck:
    """Where one series stands against its baseline."""

    model: str
    version: int | None
    series: str
    status: PerformanceStatus
    rising: bool
    current: float | None
    baseline: float | None
    threshold: float | None
    intervals: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "series": self.series,
            "status": self.status,
            "rising": self.rising,
            "current": self.current,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "intervals": self.intervals,
        }


@dataclass
class _Series:
    warmup: list[float] = field(default_factory=list)
    baseline: float | None = None
    threshold: float | None = None
    recent_high: deque[bool] = field(default_factory=deque)
    current: float | None = None
    intervals: int = 0


class PerformanceDriftDetector:
    """Flags series whose per-interval values rose above their own baseline."""

    def __init__(
        self,
        baseline_intervals: int = 12,
        *,
        rise_factor: float = 1.5,
        mad_factor: float = 4.0,
        consecutive: int = 3,
        min_rise: Mapping[str, float] | None = None,
        max_series: int = 1024,
    ) -> None:
        if baseline_intervals < 3:
            raise ValueError("baseline_intervals must be at least 3")
        self.baseline_intervals = baseline_intervals
        self.rise_factor = rise_factor
        self.mad_factor = mad_factor
        self.consecutive = max(1, consecutive)
        self.min_rise = dict(DEFAULT_MIN_RISE if min_rise is None else min_rise)
        self._max_series = max_series
        self._series: OrderedDict[tuple[str, int | None, str], _Series] = OrderedDict()
        self._lock = threading.Lock()

    def observe(
        self, model: str, version: int | None, series: str, value: float | None
    ) -> PerformanceCheck:
        """Add one interval's value (None or NaN: no traffic in the interval)."""
        key = (model, version, series)
        with self._lock:
            state = self._series.get(key)
            if state is None:
                state = self._series[key] = _Series(recent_high=deque(maxlen=self.consecutive))
                while len(self._series) > self._max_series:
                    self._series.popitem(last=False)
            self._series.move_to_end(key)
            if value is not None and math.isfinite(value):
                self._update(state, series, float(value))
            return self._check(key, state)

    def observe_many(
        self, model: str, version: int | None, values: Mapping[str, float | None]
    ) -> list[PerformanceCheck]:
        """:meth:`observe` for several series of one interval."""
        return [self.observe(model, version, name, value) for name, value in values.items()]

    def _update(self, state: _Series, series: str, value: float) -> None:
        state.current = value
        state.intervals += 1
        if state.threshold is None:
            state.warmup.append(value)
            if len(state.warmup) >= self.baseline_intervals:
                data = np.asarray(state.warmup)
                median = float(np.median(data))
                spread = 1.4826 * float(np.median(np.abs(data - median)))
                state.baseline = median
                state.threshold = max(
                    median + self.mad_factor * spread,
                    median * self.rise_factor,
                    median + self.min_rise.get(series, 0.0),
                )
                state.warmup = []
            return
        state.recent_high.append(value > state.threshold)

    def _check(self, key: tuple[str, int | None, str], state: _Series) -> PerformanceCheck:
        rising = len(state.recent_high) == self.consecutive and all(state.recent_high)
        status: PerformanceStatus = "rising" if rising else "ok"
        if state.threshold is None:
            status = "baseline"
        return PerformanceCheck(
            model=key[0],
            version=key[1],
            series=key[2],
            status=status,
            rising=rising,
            current=state.current,
            baseline=state.baseline,
            threshold=state.threshold,
            intervals=state.intervals,
        )

    def checks(self) -> list[PerformanceCheck]:
        """The current check of every series, sorted by model, version, series."""
        with self._lock:
            items = sorted(self._series.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2]))
            return [self._check(key, state) for key, state in items]

    def rebaseline(self, model: str, version: int | None = None) -> None:
        """Forget the baselines of ``model`` (one version or all): they are learnt anew."""
        with self._lock:
            for key in [k for k in self._series if k[0] == model and version in (None, k[1])]:
                del self._series[key]
