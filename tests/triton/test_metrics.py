"""Triton metrics text and statistics into per-interval figures."""

from __future__ import annotations

import pytest

from mlserve.triton.metrics import (
    MetricsParseError,
    compute_deltas,
    snapshot_from_metrics_text,
    snapshot_from_statistics,
)


def _text(success: int, count: int, execs: int, queue_us: int, pending: int) -> str:
    labels = 'model="sentiment",version="1"'
    return f"""# HELP nv_inference_request_success Number of successful requests
# TYPE nv_inference_request_success counter
nv_inference_request_success{{{labels}}} {success}
nv_inference_request_failure{{{labels},reason="REJECTED"}} 1
nv_inference_request_failure{{{labels},reason="BACKEND"}} 2
nv_inference_count{{{labels}}} {count}
nv_inference_exec_count{{{labels}}} {execs}
nv_inference_queue_duration_us{{{labels}}} {queue_us}
nv_inference_compute_infer_duration_us{{{labels}}} {2 * queue_us}
nv_inference_pending_request_count{{{labels}}} {pending}
nv_cpu_utilization 0.25
"""


def test_deltas_give_batch_size_queue_and_compute_per_request() -> None:
    before = snapshot_from_metrics_text(_text(10, 10, 10, 1_000, 0), taken_at=0.0)
    after = snapshot_from_metrics_text(_text(110, 110, 35, 51_000, 3), taken_at=10.0)
    assert before.models[("sentiment", 1)].request_failure == 3
    (delta,) = compute_deltas(before, after)
    assert delta.avg_batch_size == pytest.approx(4.0)
    assert delta.queue_us_per_request == pytest.approx(500.0)
    assert delta.compute_us_per_request == pytest.approx(1_000.0)
    assert delta.inferences_per_second == pytest.approx(10.0)
    assert delta.pending_requests == 3
    assert after.cpu_utilization == 0.25


def test_counter_reset_counts_from_zero_and_idle_interval_has_no_ratios() -> None:
    before = snapshot_from_metrics_text(_text(100, 100, 50, 9_000, 0), taken_at=0.0)
    restarted = snapshot_from_metrics_text(_text(4, 8, 2, 400, 0), taken_at=5.0)
    (delta,) = compute_deltas(before, restarted)
    assert delta.avg_batch_size == pytest.approx(4.0)
    (idle,) = compute_deltas(restarted, snapshot_from_metrics_text(_text(4, 8, 2, 400, 0), 9.0))
    assert idle.avg_batch_size is None
    assert idle.queue_us_per_request is None


def test_statistics_json_matches_metrics_units() -> None:
    document = {
        "model_stats": [
            {
                "name": "sentiment",
                "version": "2",
                "inference_count": 40,
                "execution_count": 10,
                "inference_stats": {
                    "success": {"count": 40, "ns": 4_000_000},
                    "queue": {"count": 40, "ns": 800_000},
                    "cache_hit": {"count": 3, "ns": 10},
                },
            }
        ]
    }
    counters = snapshot_from_statistics(document, taken_at=1.0).models[("sentiment", 2)]
    assert counters.queue_us == 800.0
    assert counters.request_success == 40
    assert counters.cache_hits == 3


def test_malformed_metrics_text_is_refused() -> None:
    with pytest.raises(MetricsParseError, match="without a value"):
        snapshot_from_metrics_text('nv_inference_count{model="m"}')
