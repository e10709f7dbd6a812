"""``mlserve_inflight_requests{model}``, the one gauge read at scrape time.

The control plane's in-flight limiter already counts the texts each model holds; with it as
the ``source`` the gauge reads those counts when Prometheus scrapes, and the request path
pays nothing. Without a source (a control plane with no limiter) it keeps its own counts,
moved by :meth:`ControlPlaneMetrics.track_in_flight
<mlserve.monitoring.metrics.ControlPlaneMetrics.track_in_flight>`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class InflightGauge(Collector):
    """``mlserve_inflight_requests{model}``: counted here, or read from a source at scrape."""

    def __init__(self) -> None:
        self.source: Callable[[], Mapping[str, int]] | None = None
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def track(self, model: str) -> None:
        """Expose ``model`` (at 0 until counted), so its series exists before its first request."""
        with self._lock:
            self._counts.setdefault(model, 0)

    def add(self, model: str, amount: int) -> None:
        """Move ``model``'s own count (used while no ``source`` is set)."""
        with self._lock:
            self._counts[model] = self._counts.get(model, 0) + amount

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts = dict(self._counts)
        if self.source is not None:
            counts = {model: 0 for model in counts} | dict(self.source())
        family = _family()
        for model, value in sorted(counts.items()):
            family.add_metric((model,), float(value))
        yield family

    def describe(self) -> Iterator[Metric]:
        yield _family()


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "mlserve_inflight_requests",
        "Texts being processed (holding an in-flight slot), per model.",
        labels=("model",),
    )
