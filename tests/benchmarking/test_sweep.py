"""Sweep ranges in perf_analyzer's syntax."""

from __future__ import annotations

import pytest

from mlserve.benchmarking.sweep import parse_concurrency_range, parse_rate_range
from mlserve.errors import InvalidInputError


@pytest.mark.parametrize(
    ("spec", "levels"),
    [
        ("1:32:x2", [1, 2, 4, 8, 16, 32]),
        ("1:20:x2", [1, 2, 4, 8, 16]),
        ("2:54:x3", [2, 6, 18, 54]),
        ("4:16:4", [4, 8, 12, 16]),
        ("4:15:4", [4, 8, 12]),
        ("2:5", [2, 3, 4, 5]),
        ("8", [8]),
        (" 3 : 3 ", [3]),
    ],
)
def test_concurrency_ranges(spec: str, levels: list[int]) -> None:
    assert parse_concurrency_range(spec) == levels


def test_rate_ranges_allow_fractions() -> None:
    assert parse_rate_range("0.5:2:0.5") == [0.5, 1.0, 1.5, 2.0]
    assert parse_rate_range("10:80:x2") == [10, 20, 40, 80]
    assert parse_rate_range("100") == [100.0]


@pytest.mark.parametrize(
    "spec",
    ["", "0:4", "4:2", "1:8:x1", "1:8:x0.5", "a:b", "1:2:3:4", "1.5", "1:4:1.5", "-1", "1::2"],
)
def test_bad_concurrency_ranges_name_the_field_and_the_syntax(spec: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_concurrency_range(spec)
    assert caught.value.message.startswith("concurrency takes")
    assert "1:32:x2" in caught.value.message


def test_a_range_with_too_many_levels_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="more than 1000 levels"):
        parse_rate_range("1:5000")
