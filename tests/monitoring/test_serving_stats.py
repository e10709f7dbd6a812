"""Request outcomes per version over a horizon and per poll interval
(mlserve/monitoring/serving_stats.py), on a clock the tests move."""

from __future__ import annotations

import math

import pytest

from mlserve.monitoring.serving_stats import RequestStats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_outcomes_latency_and_quantiles_per_version() -> None:
    clock = Clock()
    stats = RequestStats(60.0, bucket_seconds=10.0, clock=clock)
    for status, seconds in ((200, 0.010), (200, 0.030), (503, 0.020), (429, 0.0), (422, 0.040)):
        stats.record("iris", 1, status, seconds)
    stats.record("iris", 2, 200, 0.5)
    clock.now += 5
    v1, v2 = stats.window()
    assert (v1.model, v1.version, v2.version) == ("iris", 1, 2)
    assert (v1.successes, v1.failures, v1.client_errors) == (2, 2, 1)
    assert v1.success_rate == pytest.approx(0.5)
    assert v1.avg_latency_ms == pytest.approx(20.0)  # 100 ms over 5 requests
    assert v1.latency_quantiles_ms is not None
    assert v1.latency_quantiles_ms[0] == pytest.approx(20.0)
    assert v1.throughput_rps == pytest.approx(5 / 5.0)


def test_requests_older_than_the_horizon_leave_the_window() -> None:
    clock = Clock()
    stats = RequestStats(30.0, bucket_seconds=10.0, clock=clock)
    stats.record("m", 1, 200, 0.1)
    clock.now += 15
    stats.record("m", 1, 500, 0.1)
    assert stats.window()[0].requests == 2
    clock.now += 30  # the first bucket is past the horizon, the second not yet
    (only,) = stats.window()
    assert (only.successes, only.failures) == (0, 1)
    clock.now += 30
    assert stats.window() == []


def test_each_poll_interval_is_taken_once() -> None:
    clock = Clock()
    stats = RequestStats(clock=clock)
    stats.record("m", 1, 200, 0.2)
    stats.record("m", 1, 200, 0.4)
    stats.record("n", None, 500, 0.1)
    taken = stats.take_interval()
    assert [(s.model, s.requests) for s in taken] == [("m", 2), ("n", 1)]
    assert taken[0].avg_latency_ms == pytest.approx(300.0)
    assert stats.take_interval() == []
    stats.record("m", 1, 404, 0.1)
    assert [(s.model, s.client_errors) for s in stats.take_interval()] == [("m", 1)]
    assert stats.window()[0].requests == 3  # the horizon keeps them all


def test_unusable_latencies_count_as_requests_but_add_no_time() -> None:
    stats = RequestStats(clock=Clock())
    for seconds in (math.nan, math.inf, -1.0, 0.25):
        stats.record("m", 1, 200, seconds)
    (only,) = stats.window()
    assert only.requests == 4
    assert only.latency_seconds_total == pytest.approx(0.25)


def test_the_least_recently_seen_version_goes_past_max_versions() -> None:
    clock = Clock()
    stats = RequestStats(clock=clock, max_versions=2)
    stats.record("m", 1, 200, 0.1)
    clock.now += 1
    stats.record("m", 2, 200, 0.1)
    clock.now += 1
    stats.record("m", 1, 200, 0.1)  # v1 seen again: v2 is now the oldest
    clock.now += 1
    stats.record("m", 3, 200, 0.1)
    assert [s.version for s in stats.window()] == [1, 3]
