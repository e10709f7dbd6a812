"""Benchmark configuration: bad values are one clear InvalidInputError naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from mlserve.benchmarking import BenchmarkConfig
from mlserve.errors import InvalidInputError


def test_defaults_measure_concurrency_one_on_the_control_plane() -> None:
    config = BenchmarkConfig()
    assert config.mode == "concurrency"
    assert config.levels() == [1]
    assert config.stats_url is None


def test_request_rate_overrides_concurrency() -> None:
    config = BenchmarkConfig(concurrency="1:8:x2", request_rate="10:40:x2")
    assert config.mode == "request_rate"
    assert config.levels() == [10, 20, 40]


def test_triton_http_reads_statistics_from_its_own_url() -> None:
    config = BenchmarkConfig(target="triton-http", url="http://t:8000", model="m")
    assert config.stats_url == "http://t:8000"
    grpc = BenchmarkConfig(target="triton-grpc", url="t:8001", model="m", triton_http_url="t:8000")
    assert grpc.stats_url == "t:8000"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": "triton-grpc"}, "model"),
        ({"target": "nope"}, "target"),
        ({"window_s": 0}, "window_s"),
        ({"stability_pct": -1}, "stability_pct"),
        ({"max_windows": 0}, "max_windows"),
        ({"max_requests": 0}, "max_requests"),
        ({"batch_size": 0}, "batch_size"),
        ({"unique_ratio": 1.5}, "unique_ratio"),
        ({"version": 0}, "version"),
        ({"concurrency": "0:4"}, "concurrency"),
        ({"request_rate": "x"}, "request_rate"),
        ({"concurrency": None}, "concurrency"),
        ({"texts": ("", " ")}, "texts"),
    ],
)
def test_bad_values_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        BenchmarkConfig(**overrides)
    assert field in caught.value.message
