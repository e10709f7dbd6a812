"""One object the control plane holds for all monitoring: feed it, poll it, ask it.

Wiring, in the app factory::

    hub = MonitoringHub(settings.monitoring, registry,
                        reference_lookup=lambda m, v: repo.metadata(m, v).reference_profile)
    hub.metrics.set_inflight_source(limiter.inflight_counts)   # mlserve_inflight_requests
    # request path (cheap, synchronous, never raises for a well-formed call):
    hub.record_request("predict", model, version, status, seconds)
    hub.record_prediction(model, version, text_or_record, probabilities, label)
    # background task every settings.monitoring.triton_poll_seconds:
    hub.tick(snapshot_from_metrics_text(await triton.metrics_text()))
    # routes:
    generate_latest(registry); hub.drift_report(model, v).to_dict(); hub.alerts()

Everything here is in memory and bounded; nothing blocks on I/O except the drift monitor's
one-time reference lookup per version.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry

from mlserve.monitoring.alerts import Alert, AlertThresholds, build_alerts
from mlserve.monitoring.drift import DriftMonitor, DriftReport, PerformanceDriftDetector
from mlserve.monitoring.drift import performance as perf
from mlserve.monitoring.drift.monitor import ReferenceLookup
from mlserve.monitoring.feature_window import FeatureWindows
from mlserve.monitoring.metrics import ControlPlaneMetrics
from mlserve.monitoring.overview import VersionOverview, build_overview
from mlserve.monitoring.serving_stats import RequestStats
from mlserve.settings import MonitoringSettings
from mlserve.triton.metrics import ModelDelta, TritonSnapshot, compute_deltas


class MonitoringHub:
    """Metrics, drift, request statistics, performance baselines and alerts, together."""

    def __init__(
        self,
        settings: MonitoringSettings,
        registry: CollectorRegistry,
        *,
        reference_lookup: ReferenceLookup | None = None,
        request_stats: RequestStats | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = ControlPlaneMetrics(registry)
        self.drift = DriftMonitor.from_settings(
            settings, reference_lookup=reference_lookup, on_report=self.metrics.update_drift
        )
        self.requests = request_stats or RequestStats(settings.stats_horizon_seconds)
        self.performance = PerformanceDriftDetector(settings.baseline_intervals)
        self.thresholds = AlertThresholds.from_settings(settings)
        self.features = FeatureWindows(settings.drift_window)
        """The last records of tabular and custom models (seed S3's ``/monitor/basic``)."""
        self._last_snapshot: TritonSnapshot | None = None
        self._last_deltas: list[ModelDelta] = []
        self._lock = threading.Lock()

    # -- request path -------------------------------------------------------------------

    def record_request(
        self, endpoint: str, model: str, version: int | None, status: int, seconds: float
    ) -> None:
        """One answered request: Prometheus counters and the alerting statistics."""
        self.metrics.observe_request(endpoint, model, version, status, seconds)
        self.requests.record(model, version, status, seconds)

    def record_prediction(
        self,
        model: str,
        version: int,
        item: str | Mapping[str, Any],
        probabilities: Sequence[float] | npt.NDArray[Any] | None,
        label: str | None,
        *,
        drift: bool = True,
        score: float | None = None,
    ) -> DriftReport | None:
        """One prediction of any kind: a text or a record (features by name).

        Label and confidence metrics (classifiers and anomaly labels), the score histogram
        (anomaly scores, regression values), and the drift window unless ``drift`` is False
        (a prediction left out of the drift sample)."""
        if probabilities is None:
            confidence = None
        elif isinstance(probabilities, np.ndarray):
            confidence = float(probabilities.max())
        else:  # a prediction's few class probabilities: Python's max, not an array's
            confidence = float(max(probabilities))
        if label is not None:
            self.metrics.observe_prediction(model, version, label, confidence)
        if score is not None:
            self.metrics.observe_score(model, version, score)
        if not drift:
            return None
        if isinstance(item, str):
            if probabilities is None:
                return None
            return self.drift.observe(model, version, item, probabilities)
        return self.drift.observe_record(model, version, item, probabilities, score=score)

    def record_tabular_prediction(
        self,
        model: str,
        version: int,
        record: Mapping[str, Any],
        probabilities: Sequence[float] | npt.NDArray[Any],
        label: str,
    ) -> DriftReport | None:
        """One tabular prediction: label/confidence metrics and the drift window."""
        return self.record_prediction(model, version, record, probabilities, label)

    # -- periodic -----------------------------------------------------------------------

    def tick(self, triton: TritonSnapshot | None = None) -> list[ModelDelta]:
        """Close one poll interval: feed performance baselines, refresh gauges and alerts.

        Call every ``triton_poll_seconds`` with a fresh Triton snapshot (None when Triton
        could not be read: the control plane's own figures are still processed). Returns
        the Triton per-version figures of the interval (empty on the first snapshot).
        """
        for stats in self.requests.take_interval():
            self.performance.observe_many(
                stats.model,
                stats.version,
                {perf.LATENCY_MS: stats.avg_latency_ms, perf.ERROR_RATE: stats.error_rate},
            )
        deltas: list[ModelDelta] = []
        if triton is not None:
            with self._lock:
                previous, self._last_snapshot = self._last_snapshot, triton
            if previous is not None:
                deltas = compute_deltas(previous, triton)
            self.metrics.update_triton(triton, deltas)
            for delta in deltas:
                self.performance.observe_many(
                    delta.model,
                    delta.version,
                    {
                        perf.QUEUE_US: delta.queue_us_per_request,
                        perf.COMPUTE_US: delta.compute_us_per_request,
                    },
                )
            with self._lock:
                self._last_deltas = deltas
        self.metrics.update_performance(self.performance.checks())
        self.metrics.update_alerts(self.alerts())
        return deltas

    # -- questions ----------------------------------------------------------------------

    def drift_report(self, model: str, version: int) -> DriftReport:
        """Drift state of one version (``"no reference"`` when it has no profile)."""
        return self.drift.report(model, version)

    def alerts(self) -> list[Alert]:
        """Active alerts: drift, success rate, average latency, rising queue/latency/errors."""
        return build_alerts(
            drift=self.drift.reports(),
            serving=self.requests.window(),
            performance=self.performance.checks(),
            thresholds=self.thresholds,
        )

    def triton_deltas(self) -> list[ModelDelta]:
        """Triton's per-version figures of the last complete poll interval."""
        with self._lock:
            return list(self._last_deltas)

    def overview(self) -> list[VersionOverview]:
        """One row per model version: requests, latency, Triton, labels, cache, drift."""
        return build_overview(
            serving=self.requests.window(),
            triton=self.triton_deltas(),
            drift=self.drift.reports(),
            labels=self.metrics.label_counts(),
            cache=self.metrics.cache_counts(),
        )

    def summary(self) -> dict[str, Any]:
        """Everything at once, JSON-ready (what ``mlserve stats`` prints).

        ``versions`` holds the per-version rows; the other keys the detail they come from.
        """
        return {
            "horizon_seconds": self.requests.horizon_seconds,
            "versions": [row.to_dict() for row in self.overview()],
            "serving": [s.to_dict() for s in self.requests.window()],
            "triton": [d.to_dict() for d in self.triton_deltas()],
            "performance": [c.to_dict() for c in self.performance.checks()],
            "drift": [r.to_dict() for r in self.drift.reports()],
            "alerts": [a.to_dict() for a in self.alerts()],
            "features": self.features.summary(),
        }
