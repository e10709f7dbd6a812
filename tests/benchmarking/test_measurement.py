"""Percentiles, the stability rule, and merging windows into a step result."""

from __future__ import annotations

from collections import Counter

import pytest

from mlserve.benchmarking.measurement import Window, is_stable, merge, percentile
from mlserve.benchmarking.results import StepResult


def window(throughput: float, latency_s: float | None, *, duration_s: float = 1.0) -> Window:
    n = round(throughput * duration_s)
    latencies = [] if latency_s is None else [latency_s] * n
    return Window(duration_s=duration_s, latencies_s=latencies)


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100..1, unsorted on purpose
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize(("values", "pct"), [([], 50), ([1.0], 0), ([1.0], 101)])
def test_percentile_refuses_nonsense(values: list[float], pct: float) -> None:
    with pytest.raises(ValueError, match=r"percentile|pct"):
        percentile(values, pct)


def test_three_agreeing_windows_are_stable() -> None:
    windows = [window(50, 0.5), window(100, 0.010), window(104, 0.0104), window(96, 0.0098)]
    assert is_stable(windows, 10)
    assert not is_stable(windows[:3], 10)  # the first window is an outlier
    assert not is_stable(windows[1:3], 10)  # fewer than three


def test_a_throughput_or_latency_outlier_breaks_stability() -> None:
    assert not is_stable([window(100, 0.01), window(100, 0.01), window(130, 0.01)], 10)
    assert not is_stable([window(100, 0.01), window(100, 0.01), window(100, 0.013)], 10)
    assert is_stable([window(100, 0.01), window(100, 0.01), window(130, 0.01)], 20)


def test_windows_without_successes_agree_only_with_each_other() -> None:
    assert is_stable([window(0, None), window(0, None), window(0, None)], 10)
    assert not is_stable([window(0, None), window(100, 0.01), window(100, 0.01)], 10)


def test_merge_adds_everything_up() -> None:
    merged = merge(
        [
            Window(1.0, [0.1], Counter({"timeout": 1}), cached=1, cache_reported=2),
            Window(2.0, [0.2, 0.3], Counter({"timeout": 2, "http_503": 1}), 0, 2),
        ]
    )
    assert merged.duration_s == 3.0
    assert merged.latencies_s == [0.1, 0.2, 0.3]
    assert merged.errors == Counter({"timeout": 3, "http_503": 1})
    assert (merged.cached, merged.cache_reported) == (1, 4)
    assert merged.throughput == 1.0


def test_step_result_reports_the_last_windows_and_all_errors() -> None:
    warmup = Window(1.0, [1.0] * 5, Counter({"http_503": 2}), cached=0, cache_reported=5)
    measured = [
        Window(1.0, [0.010 + i / 1000 for i in range(10)], Counter(), 5, 10) for _ in range(3)
    ]

    result = StepResult.from_windows(
        [warmup, *measured],
        measured=3,
        stable=True,
        batch_size=4,
        concurrency=8,
        request_rate=None,
    )

    assert result.requests == 30
    assert result.throughput == pytest.approx(10.0)
    assert result.inferences_per_s == pytest.approx(40.0)
    assert result.p50_ms == pytest.approx(14.0)
    assert result.p99_ms == pytest.approx(19.0)
    assert result.errors == 2
    assert result.errors_by_kind == {"http_503": 2}
    assert result.cache_hit_ratio == pytest.approx(15 / 35)
    assert (result.windows, result.measured_s, result.stable) == (4, 3.0, True)
    assert result.load_label == "concurrency 8"


def test_a_step_without_successes_has_no_latencies() -> None:
    result = StepResult.from_windows(
        [Window(1.0, [], Counter({"connection": 4}))],
        measured=1,
        stable=False,
        batch_size=1,
        concurrency=None,
        request_rate=20.0,
    )
    assert result.p50_ms is None
    assert result.avg_ms is None
    assert result.throughput == 0.0
    assert result.cache_hit_ratio is None
    assert result.load_label == "20 req/s"
