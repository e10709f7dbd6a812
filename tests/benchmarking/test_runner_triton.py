"""The Triton targets and the server-side breakdown against a real tritonserver."""

from __future__ import annotations

import pytest

from mlserve.benchmarking import BenchmarkConfig, arun_benchmark
from mlserve.benchmarking.server_stats import StatsReader
from mlserve.errors import InvalidInputError, NotFoundError
from tests.benchmarking.conftest import TritonUnderTest


def target_url(triton: TritonUnderTest, target: str) -> str:
    return triton.grpc_url if target == "triton-grpc" else triton.http_url


@pytest.mark.parametrize("target", ["triton-grpc", "triton-http"])
async def test_a_sweep_with_the_server_side_breakdown(
    triton_textlen: TritonUnderTest, target: str
) -> None:
    steps = await arun_benchmark(
        BenchmarkConfig(
            target=target,  # type: ignore[arg-type]
            url=target_url(triton_textlen, target),
            model="textlen",
            concurrency="1:2:x2",
            window_s=0.3,
            max_requests=40,
            triton_http_url=triton_textlen.http_url,
        )
    )

    assert [s.concurrency for s in steps] == [1, 2]
    for step in steps:
        assert step.errors == 0
        assert step.throughput > 0
        assert step.cache_hit_ratio is None
        assert step.server is not None
        assert step.server.requests == 40  # Triton counted exactly this step's requests
        assert step.server.failures == 0
        assert step.server.compute_infer_us > 0
        assert step.server.avg_batch_size is not None
        assert step.server.avg_batch_size >= 1


async def test_batched_requests_show_in_the_batch_size(triton_textlen: TritonUnderTest) -> None:
    [step] = await arun_benchmark(
        BenchmarkConfig(
            target="triton-http",
            url=triton_textlen.http_url,
            model="textlen",
            version=1,
            batch_size=3,
            max_requests=20,
            window_s=0.3,
        )
    )
    assert step.server is not None
    assert step.server.requests == 20
    assert step.server.avg_batch_size is not None
    assert step.server.avg_batch_size >= 3
    assert step.inferences_per_s == pytest.approx(3 * step.throughput)


@pytest.mark.parametrize("target", ["triton-grpc", "triton-http"])
async def test_an_unknown_model_is_one_line_listing_the_ready_ones(
    triton_textlen: TritonUnderTest, target: str
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await arun_benchmark(
            BenchmarkConfig(target=target, url=target_url(triton_textlen, target), model="nope")  # type: ignore[arg-type]
        )
    assert "'nope' is not ready" in caught.value.message
    assert "textlen v1" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("target", ["triton-grpc", "triton-http"])
async def test_requests_the_model_refuses_stop_the_run_with_the_reason(
    triton_textlen: TritonUnderTest, target: str
) -> None:
    url = target_url(triton_textlen, target)
    with pytest.raises(InvalidInputError, match="unexpected inference input 'words'"):
        await arun_benchmark(
            BenchmarkConfig(target=target, url=url, model="textlen", input_name="words")  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidInputError, match="batch-size must be <= 8"):
        await arun_benchmark(
            BenchmarkConfig(target=target, url=url, model="textlen", batch_size=9)  # type: ignore[arg-type]
        )


async def test_statistics_of_an_unknown_model_are_not_found(
    triton_textlen: TritonUnderTest,
) -> None:
    reader = StatsReader(triton_textlen.http_url, model="nope")
    with pytest.raises(NotFoundError, match="no statistics for model 'nope'"):
        await reader.snapshot()
    await reader.aclose()
