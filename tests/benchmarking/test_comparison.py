"""Ratios and targets of a compare_serving document, on hand-made steps."""

from __future__ import annotations

from typing import Any

from mlserve.benchmarking.comparison import median_ratios, ratios_of, targets_of


def step(concurrency: int, throughput: float, p50_ms: float, cpu_total: float | None) -> Any:
    stored: dict[str, Any] = {
        "concurrency": concurrency,
        "throughput": throughput,
        "inferences_per_s": throughput,
        "p50_ms": p50_ms,
    }
    if cpu_total is not None:
        stored["cpu_us_per_request"] = {"total": cpu_total}
    return stored


def document(**scenarios: list[Any]) -> dict[str, Any]:
    return {"scenarios": {name.replace("_", "-"): {"steps": s} for name, s in scenarios.items()}}


DOC = document(
    triton_http=[step(1, 1000, 1.0, 1100), step(16, 4000, 4.0, 400)],
    triton_grpc=[step(1, 500, 2.0, 2400), step(16, 2000, 8.0, 800)],
    predict_cold=[step(1, 400, 2.5, 2500), step(16, 1800, 8.0, 800)],
    predict_warm=[step(1, 1600, 0.5, 600), step(16, 3600, 4.0, 400)],
)


def test_throughput_ratios_come_with_the_bound_cpu_per_request_puts_on_them() -> None:
    ratios = ratios_of(DOC, 1, 16)
    assert ratios["predict_cold_over_triton_http_throughput_c16"] == 0.45
    assert ratios["cpu_bound_predict_cold_over_triton_http_c16"] == 0.5  # 400 / 800 µs
    assert ratios["predict_warm_over_cold_throughput_c16"] == 2.0
    assert ratios["cpu_bound_predict_warm_over_cold_c16"] == 2.0  # 800 / 400 µs
    assert ratios["predict_cold_minus_triton_grpc_p50_ms_c1"] == 0.5


def test_without_cpu_figures_the_bounds_are_none() -> None:
    bare = document(
        triton_http=[step(16, 4000, 4.0, None)], predict_cold=[step(16, 1800, 8.0, None)]
    )
    assert ratios_of(bare, 16, 16)["cpu_bound_predict_cold_over_triton_http_c16"] is None


def test_cache_targets_are_judged_at_both_concurrency_ends() -> None:
    targets = {t["name"]: t for t in targets_of(ratios_of(DOC, 1, 16), 1, 16)}
    assert targets["predict keeps 60% of Triton HTTP throughput (c=16)"]["met"] is False
    assert targets["predict keeps 60% of Triton HTTP throughput (c=16)"]["cpu_bound"] == 0.5
    assert targets["warm-cache throughput 3x higher than cold (c=16)"]["met"] is False
    assert targets["warm-cache throughput 3x higher than cold (c=1)"]["met"] is True  # 4x
    assert targets["warm-cache p50 3x lower than cold (c=1)"]["met"] is True  # 5x
    assert targets["predict p50 within 1.5 ms of Triton gRPC p50 (c=1)"]["met"] is True


def test_medians_over_rounds_add_up_error_counts() -> None:
    merged = median_ratios(
        [
            {"a": 1.0, "b": None, "overload_other_errors": {"timeout": 1}},
            {"a": 3.0, "b": None, "overload_other_errors": {}},
            {"a": 2.5, "b": None, "overload_other_errors": {"timeout": 2, "http_500": 1}},
        ]
    )
    assert merged == {"a": 2.5, "b": None, "overload_other_errors": {"timeout": 3, "http_500": 1}}


def test_the_asgi_floor_bounds_the_cache_targets_when_it_was_measured() -> None:
    with_floor = {**DOC["scenarios"], "asgi-floor": {"steps": [step(16, 9000, 1.6, 200)]}}
    ratios = ratios_of({"scenarios": with_floor}, 16, 16)
    assert ratios["asgi_floor_over_predict_cold_throughput_c16"] == 5.0  # 9000 / 1800
    assert ratios["predict_cold_over_asgi_floor_p50_c16"] == 5.0  # 8.0 / 1.6 ms
    assert ratios["predict_warm_over_asgi_floor_throughput_c16"] == 0.4
    targets = {t["name"]: t for t in targets_of(ratios, 16, 16)}
    assert targets["warm-cache throughput 3x higher than cold (c=16)"]["asgi_floor"] == 5.0
    assert targets["warm-cache p50 3x lower than cold (c=16)"]["asgi_floor"] == 5.0
    without = {t["name"]: t for t in targets_of(ratios_of(DOC, 16, 16), 16, 16)}
    assert "asgi_floor" not in without["warm-cache throughput 3x higher than cold (c=16)"]
