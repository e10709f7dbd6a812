"""The one place a predict request is recorded, whatever its route and kind.

Per request: ``mlserve_requests_total`` and the latency histogram (every status, 5xx
included), the preprocessing, shared-call wait and Triton histograms. Per prediction: cache
hit or miss, label and confidence (or score) metrics, and drift through the
:class:`~mlserve.monitoring.recorder.PredictionRecorder` (off the request path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mlserve.dataplane.request import Timings
from mlserve.monitoring.hub import MonitoringHub
from mlserve.monitoring.recorder import PredictionRecorder
from mlserve.serving.cache.keys import CachedPrediction
from mlserve.serving.registry import ResolvedModel


class ExperimentCounts(Protocol):
    """Where answered requests count for running experiments (synchronous, no I/O)."""

    def observe(self, model: str, version: int, status: int, seconds: float) -> None: ...


class Observer:
    """Feeds monitoring from the data plane; a no-op without a hub."""

    def __init__(
        self, monitoring: MonitoringHub | None, recorder: PredictionRecorder | None = None
    ) -> None:
        self.monitoring = monitoring
        self.recorder = recorder
        self.experiments: ExperimentCounts | None = None
        """Running experiments' counters (requests, errors, latency per variant)."""

    def request(
        self, endpoint: str, model: ResolvedModel | None, status: int, seconds: float
    ) -> None:
        """One answered request. An unresolved model is recorded as ``-``: a name from a
        request is never a metric label (unbounded cardinality)."""
        if self.experiments is not None and model is not None:
            self.experiments.observe(model.name, model.version, status, seconds)
        if self.monitoring is None:
            return
        name = model.name if model else "-"
        version = model.version if model else None
        self.monitoring.record_request(endpoint, name, version, status, seconds)

    def predictions(
        self,
        model: ResolvedModel,
        items: Sequence[Any],
        predictions: Sequence[CachedPrediction],
        sent: Sequence[int],
        timings: Timings,
    ) -> None:
        """The predictions of one answered request; those at positions ``sent`` came from
        Triton, the others from the cache."""
        hub = self.monitoring
        if hub is None:
            return
        misses = len(sent)
        hub.metrics.series(model.name, model.version).observe_predictions(
            timings.preprocess_s,
            timings.queue_s,
            timings.triton_s,
            hits=len(items) - misses,
            misses=misses,
        )
        if model.kind.input_form != "text" and items:
            # the kind's names of an item's values (a causal item has no action column)
            names: Sequence[str] | None = model.served.drift_names
            if names is None:
                first = model.served.drift_input(items[0])
                names = list(first) if isinstance(first, Mapping) else model.metadata.features
            for item, prediction in zip(items, predictions, strict=True):
                hub.features.add(model.name, model.version, names, item, prediction.label)
        recorder = self.recorder
        if recorder is None:
            return
        served = model.served
        for item, prediction in zip(items, predictions, strict=True):
            score = prediction.score
            if score is None and isinstance(prediction.value, float):
                score = prediction.value
            recorder.record(
                model.name,
                model.version,
                served.drift_input(item),
                prediction.probabilities,
                prediction.label,
                score,
            )
