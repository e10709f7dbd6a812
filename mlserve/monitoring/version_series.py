"""One model version's request-path series, each looked up once and then kept.

Every answered ``/predict`` updates about seven labelled series of one model version (the
request's latency and count, preprocessing, the shared-call wait, the Triton call, cache
hits and misses). Looked up by label values each time, that is a label tuple, a version
label string and a dictionary lookup per series per request. :class:`VersionSeries` holds
one version's series instead: :meth:`ControlPlaneMetrics.series
<mlserve.monitoring.metrics.ControlPlaneMetrics.series>` finds it with one lookup, and it
finds each series on the first update that needs it, exactly when looking it up by labels
would have created it, so the exposition never changes. Keeping a series is safe because
a loop metric's series are never removed (:mod:`mlserve.monitoring.loop_metrics`); the
same one-thread contract applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlserve.monitoring.loop_metrics import CounterChild, HistogramChild

if TYPE_CHECKING:
    from mlserve.monitoring.metrics import ControlPlaneMetrics


class VersionSeries:
    """The request path's series of ``model`` ``version`` (None: a request that never
    resolved one, labelled ``""``)."""

    __slots__ = (
        "_cache_hits",
        "_cache_misses",
        "_metrics",
        "_preprocessing",
        "_requests",
        "_triton",
        "_wait",
        "model",
        "version",
        "version_label",
    )

    def __init__(self, metrics: ControlPlaneMetrics, model: str, version: int | None) -> None:
        self._metrics = metrics
        self.model = model
        self.version = version
        self.version_label = "" if version is None else str(version)
        """As :func:`~mlserve.monitoring.metrics.version_label` writes it."""
        self._requests: dict[tuple[str, int], tuple[HistogramChild, CounterChild]] = {}
        """``(endpoint, status)`` -> its latency histogram and request counter."""
        self._preprocessing: HistogramChild | None = None
        self._wait: HistogramChild | None = None
        self._triton: HistogramChild | None = None
        self._cache_hits: CounterChild | None = None
        self._cache_misses: CounterChild | None = None

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """One answered request (any status), with its total latency."""
        series = self._requests.get((endpoint, status))
        if series is None:
            series = self._requests[(endpoint, status)] = self._request_series(endpoint, status)
        series[0].observe(seconds)
        series[1].inc()
        if status == 429:
            self._metrics.rejected.labels(self.model).inc()

    def _request_series(self, endpoint: str, status: int) -> tuple[HistogramChild, CounterChild]:
        metrics = self._metrics
        duration = metrics.request_duration.labels(endpoint, self.model, self.version_label)
        count = metrics.requests.labels(endpoint, self.model, str(status))
        metrics.known_model(self.model)
        return duration, count

    def observe_predictions(
        self,
        preprocess_s: float,
        queue_s: float,
        triton_s: float | None,
        *,
        hits: int,
        misses: int,
    ) -> None:
        """One request's predictions: its preprocessing time, the shared-call wait and
        Triton round trip when any went to Triton (``triton_s`` not None), and how many
        came from the cache (``hits``) or not (``misses``)."""
        metrics = self._metrics
        if self._preprocessing is None:
            self._preprocessing = metrics.preprocessing.labels(self.model)
        self._preprocessing.observe(preprocess_s)
        if triton_s is not None:
            if self._wait is None:
                self._wait = metrics.shared_call_wait.labels(self.model)
            self._wait.observe(queue_s)
            if self._triton is None:
                self._triton = metrics.triton_duration.labels(self.model, self.version_label)
            self._triton.observe(triton_s)
        if hits:
            if self._cache_hits is None:
                self._cache_hits = metrics.cache_hits.labels(self.model)
            self._cache_hits.inc(hits)
        if misses:
            if self._cache_misses is None:
                self._cache_misses = metrics.cache_misses.labels(self.model)
            self._cache_misses.inc(misses)
