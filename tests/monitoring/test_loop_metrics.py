"""Lock-free request-path metrics expose what prometheus-client's own would."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from mlserve.monitoring.loop_metrics import LoopCounter, LoopHistogram

BUCKETS = (0.001, 0.01, 0.1, 1.0)


def exposition(registry: CollectorRegistry) -> str:
    """The text format with the ``_created`` timestamps taken out (they differ by nature)."""
    text = generate_latest(registry).decode()
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 <t>", text)


def test_counter_and_histogram_expose_the_same_samples_as_prometheus_client() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counters = [
        LoopCounter("x_requests", "Requests.", ("model", "status"), registry=ours),
        Counter("x_requests", "Requests.", ("model", "status"), registry=theirs),
    ]
    histograms = [
        LoopHistogram("x_seconds", "Latency.", ("model",), registry=ours, buckets=BUCKETS),
        Histogram("x_seconds", "Latency.", ("model",), registry=theirs, buckets=BUCKETS),
    ]
    for counter in counters:
        counter.labels("a", "200").inc()
        counter.labels("a", "200").inc(2)
        counter.labels("b", "429")  # a series created at 0
    for histogram in histograms:
        for value in (0.0005, 0.001, 0.05, 0.05, 3.0):
            histogram.labels("a").observe(value)
        histogram.labels("b")

    assert exposition(ours) == exposition(theirs)
    assert 'x_seconds_bucket{le="0.1",model="a"} 4.0' in exposition(ours)


def test_the_wrong_number_of_labels_is_refused() -> None:
    counter = LoopCounter("y_total", "Y.", ("model",), registry=CollectorRegistry())
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels("a", "b")
    histogram = LoopHistogram(
        "z_seconds", "Z.", ("model",), registry=CollectorRegistry(), buckets=BUCKETS
    )
    with pytest.raises(ValueError, match="takes labels"):
        histogram.labels()


def test_a_histogram_needs_a_finite_bucket() -> None:
    with pytest.raises(ValueError, match="finite bucket"):
        LoopHistogram("w", "W.", (), registry=CollectorRegistry(), buckets=(float("inf"),))
