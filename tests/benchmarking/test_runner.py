"""The benchmark runner against a live HTTP server speaking the predict contract."""

from __future__ import annotations

import time

import pytest

from mlserve.benchmarking import BenchmarkConfig, BenchmarkProgress, arun_benchmark, run_benchmark
from mlserve.errors import NotFoundError, ServiceUnavailableError
from tests.benchmarking.conftest import PredictServer


def config(server: PredictServer, **overrides: object) -> BenchmarkConfig:
    options: dict[str, object] = {
        "url": server.url,
        "window_s": 0.3,
        "max_requests": 60,
        "unique_ratio": 0.0,
        "pool_size": 5,
    }
    options.update(overrides)
    return BenchmarkConfig(**options)  # type: ignore[arg-type]


async def test_a_concurrency_sweep_reports_each_level(predict_server: PredictServer) -> None:
    events: list[BenchmarkProgress] = []

    steps = await arun_benchmark(config(predict_server, concurrency="1:4:x2"), events.append)

    assert [s.concurrency for s in steps] == [1, 2, 4]
    assert predict_server.requests == 1 + 3 * 60  # the check, then n per step
    for step in steps:
        assert step.errors == 0
        assert step.throughput > 0
        assert step.p50_ms is not None
        assert step.p99_ms is not None
        assert 2.0 <= step.p50_ms <= step.p90_ms <= step.p95_ms <= step.p99_ms  # type: ignore[operator]
        assert step.cache_hit_ratio is not None
        assert step.cache_hit_ratio > 0.9
        assert step.server is None
    finals = [e for e in events if e.result is not None]
    assert [e.result for e in finals] == steps
    assert {e.step_count for e in events} == {3}
    assert events[0].windows == 0
    assert events[0].label == "concurrency 1"


async def test_unique_texts_never_hit_the_cache(predict_server: PredictServer) -> None:
    [step] = await arun_benchmark(config(predict_server, unique_ratio=1.0, concurrency="2"))
    assert step.cache_hit_ratio == 0.0


async def test_batches_go_to_batch_predict(predict_server: PredictServer) -> None:
    [step] = await arun_benchmark(
        config(predict_server, batch_size=4, max_requests=10, concurrency="2")
    )
    assert predict_server.texts == 4 * (1 + 10)  # the check sends a full batch too
    assert step.inferences_per_s == pytest.approx(4 * step.throughput)
    assert step.cache_hit_ratio is not None


async def test_failed_requests_are_counted_by_kind(predict_server: PredictServer) -> None:
    [step] = await arun_benchmark(config(predict_server, model="flaky", concurrency="3"))
    assert step.errors_by_kind == {"http_503": 20}  # every third of texts 2..61
    assert step.errors == 20


async def test_request_rate_mode_paces_the_requests(predict_server: PredictServer) -> None:
    [step] = await arun_benchmark(
        config(predict_server, request_rate="50", max_requests=20, window_s=0.2)
    )
    assert step.concurrency is None
    assert step.request_rate == 50
    assert step.errors == 0
    assert 0 < step.throughput < 75  # paced, not as fast as the server goes


async def test_without_a_request_bound_windows_stop_at_stability_or_the_limit(
    predict_server: PredictServer,
) -> None:
    [step] = await arun_benchmark(
        config(predict_server, max_requests=None, window_s=0.15, max_windows=4)
    )
    assert 1 <= step.windows <= 4
    assert step.stable or step.windows == 4
    assert step.measured_s == pytest.approx(0.15 * min(3, step.windows), rel=0.5)


async def test_a_model_the_server_does_not_know_is_one_not_found_line(
    predict_server: PredictServer,
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await arun_benchmark(config(predict_server, model="missing"))
    assert "Unknown model 'missing'; models: sentiment" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("target", ["control-plane", "triton-http", "triton-grpc"])
def test_a_server_that_is_down_is_one_quick_service_unavailable_line(
    closed_port: int, target: str
) -> None:
    address = f"127.0.0.1:{closed_port}"
    url = address if target == "triton-grpc" else f"http://{address}"
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailableError) as caught:
        run_benchmark(BenchmarkConfig(target=target, url=url, model="sentiment"))  # type: ignore[arg-type]
    assert time.perf_counter() - started < 3
    assert "Cannot reach" in caught.value.message
    assert "\n" not in caught.value.message


async def test_an_unreachable_statistics_url_stops_before_the_sweep(
    predict_server: PredictServer, closed_port: int
) -> None:
    with pytest.raises(ServiceUnavailableError, match="Triton statistics"):
        await arun_benchmark(
            config(predict_server, triton_http_url=f"http://127.0.0.1:{closed_port}")
        )
    assert predict_server.requests == 1  # only the check ran
