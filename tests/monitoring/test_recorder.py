"""The prediction recorder feeds monitoring off the request path and survives bad records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from mlserve.monitoring.hub import MonitoringHub
from mlserve.monitoring.recorder import PredictionRecorder, RecorderMetrics
from mlserve.settings import MonitoringSettings


class _Hub:
    """Records what it is given; refuses texts marked ``bad`` (as a broken profile would)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.drifted: list[str] = []

    def record_prediction(
        self,
        model: str,
        version: int,
        text: str,
        probabilities: Sequence[float],
        label: str,
        *,
        drift: bool = True,
        score: float | None = None,
    ) -> None:
        if text == "bad":
            raise ValueError("cannot profile this text")
        self.seen.append(text)
        if drift:
            self.drifted.append(f"{model}-v{version}:{text}")


def test_a_failing_record_is_counted_and_the_rest_still_recorded() -> None:
    hub = _Hub()
    recorder = PredictionRecorder(cast(MonitoringHub, hub))
    for text in ("one", "bad", "two"):
        recorder.record("m", 1, text, [0.2, 0.8], "positive")

    assert recorder.drain() == 3
    assert hub.seen == ["one", "two"]
    assert recorder.failed == 1


def test_beyond_max_pending_the_oldest_are_dropped_and_counted() -> None:
    hub = _Hub()
    recorder = PredictionRecorder(cast(Any, hub), max_pending=2)
    for text in ("a", "b", "c"):
        recorder.record("m", 1, text, [1.0], "x")

    recorder.drain()
    assert hub.seen == ["b", "c"]
    assert recorder.dropped == 1


def test_drain_with_a_limit_leaves_the_rest_queued() -> None:
    hub = _Hub()
    recorder = PredictionRecorder(cast(Any, hub))
    for text in ("a", "b", "c"):
        recorder.record("m", 1, text, [1.0], "x")

    assert recorder.drain(2) == 2
    assert hub.seen == ["a", "b"]
    assert recorder.drain(2) == 1
    assert hub.seen == ["a", "b", "c"]


def test_beyond_the_drift_sample_rate_predictions_only_count_in_the_metrics() -> None:
    hub = _Hub()
    now = [100.2]
    recorder = PredictionRecorder(cast(Any, hub), samples_per_second=2, clock=lambda: now[0])
    for text in ("a", "b", "c"):
        recorder.record("m", 1, text, [1.0], "x")
    recorder.record("other", 1, "d", [1.0], "x")  # each version has its own budget
    now[0] = 101.0  # a new second, a new budget
    recorder.record("m", 1, "e", [1.0], "x")

    recorder.drain()
    assert hub.seen == ["a", "b", "c", "d", "e"]  # label and confidence metrics: all
    assert hub.drifted == ["m-v1:a", "m-v1:b", "other-v1:d", "m-v1:e"]
    assert recorder.unsampled == 1


def test_a_sample_rate_of_zero_sends_every_prediction_to_drift() -> None:
    hub = _Hub()
    recorder = PredictionRecorder(cast(Any, hub), samples_per_second=0)
    for i in range(50):
        recorder.record("m", 1, str(i), [1.0], "x")

    recorder.drain()
    assert len(hub.drifted) == 50


def test_the_metric_says_what_became_of_each_prediction() -> None:
    now = [100.0]
    recorder = PredictionRecorder(
        cast(Any, _Hub()), max_pending=3, samples_per_second=2, clock=lambda: now[0]
    )
    registry = CollectorRegistry()
    registry.register(RecorderMetrics(recorder))
    for text in ("a", "b", "c", "bad"):
        recorder.record("m", 1, text, [1.0], "x")
    recorder.drain()

    exposition = generate_latest(registry).decode()
    assert 'mlserve_drift_predictions_total{outcome="sampled"} 2.0' in exposition
    assert 'mlserve_drift_predictions_total{outcome="unsampled"} 2.0' in exposition
    assert 'mlserve_drift_predictions_total{outcome="dropped"} 1.0' in exposition
    assert 'mlserve_drift_predictions_total{outcome="failed"} 1.0' in exposition


def test_the_hub_records_a_predictions_confidence_from_a_tuple_or_an_array() -> None:
    hub = MonitoringHub(MonitoringSettings(), CollectorRegistry())
    hub.record_prediction("m", 1, "a text", (0.2, 0.7, 0.1), "b", drift=False)
    hub.record_prediction("m", 1, "a text", np.array([0.9, 0.1]), "a", drift=False)
    hub.record_prediction("m", 1, "a text", None, "outlier", drift=False)  # no probabilities
    series = hub.metrics.confidence.labels("m", "1")
    assert sum(series.counts) == 2
    assert series.sum == pytest.approx(0.7 + 0.9)
