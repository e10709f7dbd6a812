"""The control plane's Prometheus metrics, every one named ``mlserve_*``.

They live on a :class:`~prometheus_client.CollectorRegistry` handed in (never the global
default), so every app instance, and every test, has its own. The request path calls the
small ``observe_*`` methods, whose metrics are lock-free
(:mod:`mlserve.monitoring.loop_metrics`: call them from the event loop's thread only); the
monitoring hub pushes drift, Triton and alert state into the gauges. Label values are model
names, versions (``"3"``, or ``""`` when a request never resolved one), endpoints and status
codes: pass resolved names only (an unknown model requested by a client should be labelled
``"-"``) so the number of series stays bounded.

Serve it with ``prometheus_client.generate_latest(registry)`` (content type
``prometheus_client.CONTENT_TYPE_LATEST``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

from mlserve.monitoring.inflight_gauge import InflightGauge
from mlserve.monitoring.lifecycle_metrics import LifecycleMetrics
from mlserve.monitoring.loop_metrics import LoopCounter, LoopHistogram
from mlserve.monitoring.version_series import VersionSeries

if TYPE_CHECKING:
    from mlserve.monitoring.alerts import Alert
    from mlserve.monitoring.drift import DriftReport, PerformanceCheck
    from mlserve.triton.metrics import ModelDelta, TritonSnapshot

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds: 1 ms to 10 s, about three buckets per decade."""
PREPROCESSING_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)
CONFIDENCE_BUCKETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
SCORE_BUCKETS = (-100.0, -10.0, -1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0, 10.0, 100.0, 1000.0)
"""Regression values and anomaly scores: signed, of any scale (decades around zero)."""
ALERT_KINDS = ("drift", "success_rate", "latency", "queue_time", "error_rate", "performance")
"""Every ``kind`` label of ``mlserve_alerts_active`` (see :mod:`mlserve.monitoring.alerts`)."""


def version_label(version: int | None) -> str:
    """How versions appear in labels: ``"3"`` (as Triton writes them), ``""`` when unknown."""
    return "" if version is None else str(version)


class ControlPlaneMetrics:
    """All ``mlserve_*`` metrics, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._models: set[str] = set()
        self._series: dict[tuple[str, int | None], VersionSeries] = {}
        mv = ("model", "version")
        self.request_duration = LoopHistogram(
            "mlserve_request_duration_seconds",
            "Request latency seen by the control plane, per endpoint and model version.",
            ("endpoint", *mv),
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.requests = LoopCounter(
            "mlserve_requests",
            "Requests answered, by endpoint, model and HTTP status code.",
            ("endpoint", "model", "status"),
            registry=registry,
        )
        self.predictions = LoopCounter(
            "mlserve_predictions",
            "Predictions made, by predicted label.",
            (*mv, "label"),
            registry=registry,
        )
        self.confidence = LoopHistogram(
            "mlserve_prediction_confidence",
            "Highest class probability of each prediction.",
            mv,
            registry=registry,
            buckets=CONFIDENCE_BUCKETS,
        )
        self.cache_hits = LoopCounter(
            "mlserve_cache_hits",
            "Predictions served from the cache.",
            ("model",),
            registry=registry,
        )
        self.cache_misses = LoopCounter(
            "mlserve_cache_misses",
            "Predictions not found in the cache.",
            ("model",),
            registry=registry,
        )
        self.cache_errors = Counter(
            "mlserve_cache_errors",
            "Cache backend failures (served without the cache).",
            ("backend", "operation"),
            registry=registry,
        )
        self.in_flight = InflightGauge()
        registry.register(self.in_flight)
        self.rejected = LoopCounter(
            "mlserve_rejected_requests",
            "Requests rejected with 429 because a model had too many in flight.",
            ("model",),
            registry=registry,
        )
        self.preprocessing = LoopHistogram(
            "mlserve_preprocessing_duration_seconds",
            "Preprocessing per request: validation, cleaning and tensor building "
            "(tokenization included).",
            ("model",),
            registry=registry,
            buckets=PREPROCESSING_BUCKETS,
        )
        self.shared_call_wait = LoopHistogram(
            "mlserve_shared_call_wait_seconds",
            "Time a request waited for a shared Triton call before it was sent.",
            ("model",),
            registry=registry,
            buckets=PREPROCESSING_BUCKETS,
        )
        self.scores = LoopHistogram(
            "mlserve_prediction_score",
            "Regression values and anomaly scores returned, per model version.",
            mv,
            registry=registry,
            buckets=SCORE_BUCKETS,
        )
        self.triton_duration = LoopHistogram(
            "mlserve_triton_request_duration_seconds",
            "Round trip of one Triton infer call (tensor encoding and the wait for a shared "
            "call not included).",
            mv,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.drift_score = Gauge(
            "mlserve_drift_score",
            "Effect size of the last drift window per signal (KS or Jensen-Shannon, 0-1).",
            (*mv, "signal"),
            registry=registry,
        )
        self.drift_detected = Gauge(
            "mlserve_drift_detected",
            "1 when the last evaluated window drifted, else 0.",
            mv,
            registry=registry,
        )
        self.drift_windows = Counter(
            "mlserve_drift_windows",
            "Evaluated drift windows, by result (ok or drift).",
            (*mv, "result"),
            registry=registry,
        )
        self.triton_batch_size = Gauge(
            "mlserve_triton_avg_batch_size",
            "Average dynamic batch size over the last Triton poll interval.",
            mv,
            registry=registry,
        )
        self.triton_queue = Gauge(
            "mlserve_triton_queue_seconds_per_request",
            "Average time a request waited in Triton's queue, last poll interval.",
            mv,
            registry=registry,
        )
        self.triton_compute = Gauge(
            "mlserve_triton_compute_seconds_per_request",
            "Average compute (input + infer + output) time per request, last poll interval.",
            mv,
            registry=registry,
        )
        self.triton_pending = Gauge(
            "mlserve_triton_pending_requests",
            "Requests waiting in Triton at the last poll.",
            mv,
            registry=registry,
        )
        self.triton_failures = Gauge(
            "mlserve_triton_interval_failures",
            "Failed Triton requests in the last interval.",
            mv,
            registry=registry,
        )
        self.triton_rate = Gauge(
            "mlserve_triton_inferences_per_second",
            "Inferences per second, last interval.",
            mv,
            registry=registry,
        )
        self.triton_cpu = Gauge(
            "mlserve_triton_cpu_utilization",
            "Triton host CPU utilization (0-1) at last poll.",
            registry=registry,
        )
        self.performance_rising = Gauge(
            "mlserve_performance_rising",
            "1 when a serving series (latency, error rate, queue time) rose above baseline.",
            (*mv, "series"),
            registry=registry,
        )
        self.alerts_active = Gauge(
            "mlserve_alerts_active",
            "Active alerts by kind and model.",
            ("kind", "model"),
            registry=registry,
        )
        self.lifecycle = LifecycleMetrics(registry)
        """Experiments, mirror copies and stages (:mod:`mlserve.monitoring.lifecycle_metrics`)."""

    # -- request path -------------------------------------------------------------------

    def series(self, model: str, version: int | None) -> VersionSeries:
        """``model`` ``version``'s request-path series, found once and kept
        (:mod:`mlserve.monitoring.version_series`)."""
        series = self._series.get((model, version))
        if series is None:
            series = self._series[(model, version)] = VersionSeries(self, model, version)
        return series

    def observe_request(
        self, endpoint: str, model: str, version: int | None, status: int, seconds: float
    ) -> None:
        """One answered request (any status), with its total latency."""
        self.series(model, version).observe_request(endpoint, status, seconds)

    def known_model(self, model: str) -> None:
        """Create a model's per-model series at 0 on first sight, so ``rate()`` and
        dashboards see "none yet" rather than "no data"."""
        if model in self._models:
            return
        self._models.add(model)
        self.rejected.labels(model)
        self.cache_hits.labels(model)
        self.cache_misses.labels(model)
        self.in_flight.track(model)

    def observe_prediction(
        self, model: str, version: int, label: str, confidence: float | None
    ) -> None:
        """One prediction returned to a client (cached ones included); ``confidence`` None
        for labels without probabilities (anomaly detectors)."""
        self.known_model(model)
        v = version_label(version)
        self.predictions.labels(model, v, label).inc()
        if confidence is not None:
            self.confidence.labels(model, v).observe(confidence)

    def observe_score(self, model: str, version: int, score: float) -> None:
        """A regression value or anomaly score returned to a client."""
        self.scores.labels(model, version_label(version)).observe(score)

    def observe_cache_error(self, backend: str, operation: str) -> None:
        """A cache backend call failed (e.g. ``("redis", "get")``)."""
        self.cache_errors.labels(backend, operation).inc()

    @contextmanager
    def track_in_flight(self, model: str) -> Iterator[None]:
        """Count a request as in flight for the duration of the ``with`` block."""
        self.in_flight.add(model, 1)
        try:
            yield
        finally:
            self.in_flight.add(model, -1)

    def set_inflight_source(self, source: Callable[[], Mapping[str, int]] | None) -> None:
        """Read ``mlserve_inflight_requests`` from ``source`` at scrape time (e.g.
        ``InflightLimiter.inflight_counts``) instead of :meth:`track_in_flight` counts."""
        self.in_flight.source = source

    # -- state pushed by the monitoring hub --------------------------------------------

    def update_drift(self, report: DriftReport) -> None:
        """Publish one version's latest evaluated drift window."""
        if report.status not in ("ok", "drift"):
            return
        v = version_label(report.version)
        for signal in report.signals:
            self.drift_score.labels(report.model, v, signal.signal).set(signal.score)
        self.drift_detected.labels(report.model, v).set(1.0 if report.detected else 0.0)
        self.drift_windows.labels(report.model, v, "drift" if report.detected else "ok").inc()

    def update_triton(self, snapshot: TritonSnapshot, deltas: Iterable[ModelDelta]) -> None:
        """Replace the Triton gauges with the last interval's figures."""
        gauges = (
            self.triton_batch_size,
            self.triton_queue,
            self.triton_compute,
            self.triton_pending,
            self.triton_failures,
            self.triton_rate,
        )
        for gauge in gauges:
            gauge.clear()
        for d in deltas:
            labels = (d.model, version_label(d.version))
            values = (
                d.avg_batch_size,
                None if d.queue_us_per_request is None else d.queue_us_per_request / 1e6,
                None if d.compute_us_per_request is None else d.compute_us_per_request / 1e6,
                d.pending_requests,
                d.failures,
                d.inferences_per_second,
            )
            for gauge, value in zip(gauges, values, strict=True):
                if value is not None:
                    gauge.labels(*labels).set(value)
        if snapshot.cpu_utilization is not None:
            self.triton_cpu.set(snapshot.cpu_utilization)

    def update_performance(self, checks: Iterable[PerformanceCheck]) -> None:
        self.performance_rising.clear()
        for check in checks:
            if check.status != "baseline":
                labels = (check.model, version_label(check.version), check.series)
                self.performance_rising.labels(*labels).set(1.0 if check.rising else 0.0)

    def update_alerts(self, alerts: Iterable[Alert]) -> None:
        """Active alerts per kind and model; 0 for every kind of every model seen, so a
        cleared alert reads 0 rather than vanishing."""
        self.alerts_active.clear()
        alerts = list(alerts)
        for model in self._models | {a.model for a in alerts}:
            for kind in ALERT_KINDS:
                self.alerts_active.labels(kind, model).set(0.0)
        for alert in alerts:
            self.alerts_active.labels(alert.kind, alert.model).inc()

    def label_counts(self) -> dict[tuple[str, int | None], dict[str, float]]:
        """Predictions per label since start, by (model, version)."""
        counts: dict[tuple[str, int | None], dict[str, float]] = {}
        for family in self.predictions.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    raw = sample.labels["version"]
                    key = (sample.labels["model"], int(raw) if raw.isdigit() else None)
                    counts.setdefault(key, {})[sample.labels["label"]] = sample.value
        return counts

    def cache_counts(self) -> dict[str, tuple[float, float]]:
        """``(hits, misses)`` per model since start."""
        totals: dict[str, list[float]] = {}
        for position, counter in enumerate((self.cache_hits, self.cache_misses)):
            for family in counter.collect():
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        entry = totals.setdefault(sample.labels["model"], [0.0, 0.0])
                        entry[position] = sample.value
        return {model: (hits, misses) for model, (hits, misses) in totals.items()}

    def metric_names(self) -> frozenset[str]:
        """Every sample name this registry can expose (see :func:`exported_metric_names`)."""
        return sample_names(self.registry)


def sample_names(registry: CollectorRegistry) -> frozenset[str]:
    """Names of the samples a registry's metric families expose, series or not.

    Counters expose ``<name>_total`` (and ``_created``), histograms ``_bucket``, ``_sum``,
    ``_count`` (and ``_created``), gauges their name.
    """
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
    }
    return frozenset(
        family.name + suffix
        for family in registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    )


@lru_cache(maxsize=1)
def exported_metric_names() -> frozenset[str]:
    """All sample names :class:`ControlPlaneMetrics` exports (for dashboard checks)."""
    return ControlPlaneMetrics(CollectorRegistry()).metric_names()
