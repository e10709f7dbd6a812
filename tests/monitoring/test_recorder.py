"""The prediction recorder feeds monitoring off the request path and survives bad records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from mlserve.monitoring.hub import MonitoringHub
from mlserve.monitoring.recorder import PredictionRecorder


class _Hub:
    """Records what it is given; refuses texts marked ``bad`` (as a broken profile would)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def record_prediction(
        self, model: str, version: int, text: str, probabilities: Sequence[float], label: str
    ) -> None:
        if text == "bad":
            raise ValueError("cannot profile this text")
        self.seen.append(text)


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
