"""Triton statistics: parsing, step deltas, and a statistics URL that does not answer."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mlserve.benchmarking.server_stats import StatsReader, StatsSnapshot, breakdown
from mlserve.errors import ServiceUnavailableError


def model_stats(
    version: str, *, requests: int, executions: int, queue_ns: int, infer_ns: int, fails: int = 0
) -> dict[str, Any]:
    """One ``model_stats`` entry as ``GET v2/models/<m>/stats`` returns it."""
    return {
        "name": "sentiment",
        "version": version,
        "last_inference": 1_700_000_000_000,
        "inference_count": requests,
        "execution_count": executions,
        "inference_stats": {
            "success": {"count": requests, "ns": queue_ns + infer_ns},
            "fail": {"count": fails, "ns": 0},
            "queue": {"count": requests, "ns": queue_ns},
            "compute_input": {"count": requests, "ns": requests * 2_000},
            "compute_infer": {"count": requests, "ns": infer_ns},
            "compute_output": {"count": requests, "ns": requests * 1_000},
            "cache_hit": {"count": 0, "ns": 0},
            "cache_miss": {"count": 0, "ns": 0},
        },
        "batch_stats": [],
        "memory_usage": [],
    }


def test_snapshot_sums_the_versions_of_a_model() -> None:
    snapshot = StatsSnapshot.from_json(
        {
            "model_stats": [
                model_stats("1", requests=10, executions=5, queue_ns=1_000, infer_ns=50_000),
                model_stats("2", requests="30", executions=10, queue_ns=3_000, infer_ns=90_000),  # type: ignore[arg-type]
            ]
        }
    )
    assert snapshot.inference_count == 40
    assert snapshot.execution_count == 15
    assert snapshot.success_count == 40
    assert snapshot.queue_ns == 4_000
    assert snapshot.compute_infer_ns == 140_000


def test_breakdown_gives_per_request_microseconds_and_the_batch_size() -> None:
    before = StatsSnapshot.from_json(
        {"model_stats": [model_stats("1", requests=100, executions=100, queue_ns=0, infer_ns=0)]}
    )
    after = StatsSnapshot.from_json(
        {
            "model_stats": [
                model_stats(
                    "1", requests=300, executions=150, queue_ns=400_000, infer_ns=1_000_000, fails=3
                )
            ]
        }
    )

    step = breakdown(before, after)

    assert step.requests == 200
    assert step.failures == 3
    assert step.queue_us == pytest.approx(2.0)  # 400 µs over 200 requests
    assert step.compute_input_us == pytest.approx(2.0)
    assert step.compute_infer_us == pytest.approx(5.0)
    assert step.compute_output_us == pytest.approx(1.0)
    assert step.avg_batch_size == pytest.approx(4.0)  # 200 inferences in 50 executions
    assert step.total_us == pytest.approx(10.0)


def test_a_step_triton_never_saw_has_zero_times_and_no_batch_size() -> None:
    same = StatsSnapshot.from_json(
        {"model_stats": [model_stats("1", requests=5, executions=5, queue_ns=10, infer_ns=10)]}
    )
    step = breakdown(same, same)
    assert step.requests == 0
    assert step.queue_us == step.compute_infer_us == 0.0
    assert step.avg_batch_size is None


def test_stats_urls_per_model_version_and_for_all_models() -> None:
    assert StatsReader("127.0.0.1:8000", model="m").url == "http://127.0.0.1:8000/v2/models/m/stats"
    assert (
        StatsReader("http://h:8000/", model="m", version=2).url
        == "http://h:8000/v2/models/m/versions/2/stats"
    )
    assert StatsReader("http://h:8000", model=None).url == "http://h:8000/v2/models/stats"


async def test_a_closed_statistics_port_is_one_line_service_unavailable(closed_port: int) -> None:
    reader = StatsReader(f"http://127.0.0.1:{closed_port}", model="m", timeout_s=2)
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailableError) as caught:
        await reader.snapshot()
    await reader.aclose()

    assert time.perf_counter() - started < 2
    assert "Cannot read Triton statistics" in caught.value.message
    assert "\n" not in caught.value.message
