"""What one measurement window collects, percentiles, and perf_analyzer's stability rule.

A step is measured in consecutive time windows. After each window the step is *stable*
when the last three windows agree: each window's throughput and average latency lie within
``stability_pct`` percent of the three windows' mean (perf_analyzer's ``-s``). The reported
figures then merge those last windows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

STABILITY_WINDOWS = 3
"""How many trailing windows must agree (perf_analyzer uses 3)."""


@dataclass
class Window:
    """Outcomes of the requests that completed within one measurement window."""

    duration_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    """Client-side latency of each successful request."""
    errors: Counter[str] = field(default_factory=Counter)
    """Failed requests by kind (``http_429``, ``timeout``, ``connection``, ...)."""
    cached: int = 0
    """Texts answered from the control plane's cache (per its ``cached`` field)."""
    cache_reported: int = 0
    """Texts whose response said whether they were cached."""

    @property
    def successes(self) -> int:
        return len(self.latencies_s)

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return self.successes / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def mean_latency_s(self) -> float | None:
        return sum(self.latencies_s) / len(self.latencies_s) if self.latencies_s else None


def merge(windows: Sequence[Window]) -> Window:
    """One window holding everything the given windows saw."""
    merged = Window()
    for window in windows:
        merged.duration_s += window.duration_s
        merged.latencies_s.extend(window.latencies_s)
        merged.errors.update(window.errors)
        merged.cached += window.cached
        merged.cache_reported += window.cache_reported
    return merged


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile: the smallest value with ``pct``% at or below it.

    Raises ``ValueError`` for an empty ``values`` or ``pct`` outside (0, 100].
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def is_stable(
    windows: Sequence[Window], stability_pct: float, count: int = STABILITY_WINDOWS
) -> bool:
    """Whether the last ``count`` windows agree within ``stability_pct`` percent.

    Both throughput and mean latency of every one of them must be within the percentage of
    their mean. Windows without any success agree only with each other (a server failing
    every request is stable at zero, so the step ends instead of running to the limit).
    """
    if len(windows) < count:
        return False
    last = windows[-count:]
    latencies = [w.mean_latency_s for w in last]
    if all(lat is None for lat in latencies):
        return True
    if any(lat is None for lat in latencies):
        return False
    return _within([w.throughput for w in last], stability_pct) and _within(
        [lat for lat in latencies if lat is not None], stability_pct
    )


def _within(values: Sequence[float], pct: float) -> bool:
    mean = sum(values) / len(values)
    if mean == 0:
        return all(v == 0 for v in values)
    return all(abs(v - mean) <= mean * pct / 100 for v in values)
