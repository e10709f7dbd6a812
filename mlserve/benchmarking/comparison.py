"""The ratios and targets of a ``benchmarks/compare_serving.py`` document.

A document (format ``mlserve.compare_serving/1``) holds, per scenario (``triton-http``,
``predict-cold``, ...), one stored step per concurrency level. :func:`ratios_of` turns one
run into named comparisons (each name carries the concurrency it compares at),
:func:`median_ratios` merges several rounds, and :func:`targets_of` judges issue 4's
targets on them, with the bound that CPU per request puts on each throughput ratio where
it was measured (``cpu_bound``) and, for the cache targets, what a cache hit that did no
work at all reached on the same server (``asgi_floor``, scenario ``asgi-floor``).
"""

from __future__ import annotations

import statistics
from typing import Any

OVERLOAD_CONCURRENCY = 256
"""Concurrency of the overload scenario."""
OVERLOAD_DEADLINE_MS = 2000
"""Default deadline of the overload scenario's control plane."""


def _step(doc: dict[str, Any], scenario: str, concurrency: int) -> dict[str, Any] | None:
    entry = doc["scenarios"].get(scenario)
    if entry is None:
        return None
    return next((s for s in entry["steps"] if s["concurrency"] == concurrency), None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def cpu_total(step: dict[str, Any]) -> float | None:
    """CPU microseconds per request of all processes in a stored step, if measured."""
    total = step.get("cpu_us_per_request", {}).get("total")
    return float(total) if total else None


_STEP_RATIOS = (
    ("triton_grpc_over_onnxruntime_throughput", "triton-grpc", "onnxruntime", "throughput"),
    ("predict_cold_over_triton_http_throughput", "predict-cold", "triton-http", "throughput"),
    ("predict_cold_over_triton_grpc_throughput", "predict-cold", "triton-grpc", "throughput"),
    ("predict_warm_over_cold_throughput", "predict-warm", "predict-cold", "throughput"),
    ("predict_cold_over_warm_p50", "predict-cold", "predict-warm", "p50_ms"),
    ("asgi_floor_over_predict_cold_throughput", "asgi-floor", "predict-cold", "throughput"),
    ("predict_cold_over_asgi_floor_p50", "predict-cold", "asgi-floor", "p50_ms"),
    ("predict_warm_over_asgi_floor_throughput", "predict-warm", "asgi-floor", "throughput"),
    (
        "batch_predict_cold_over_predict_cold_texts_per_s",
        "batch-predict-cold",
        "predict-cold",
        "inferences_per_s",
    ),
)
"""(name, numerator scenario, denominator scenario, step field) of each plain ratio, in the
order they are stored."""


def ratios_of(doc: dict[str, Any], low: int, high: int) -> dict[str, Any]:
    """The comparisons printed and stored; names carry the concurrency they compare at."""

    def s(name: str, c: int) -> dict[str, Any]:
        return _step(doc, name, c) or {}

    ratios: dict[str, Any] = {}
    for c in sorted({low, high}):
        for name, numerator, denominator, field in _STEP_RATIOS:
            ratios[f"{name}_c{c}"] = _ratio(
                s(numerator, c).get(field), s(denominator, c).get(field)
            )
        cold, grpc = s("predict-cold", c).get("p50_ms"), s("triton-grpc", c).get("p50_ms")
        ratios[f"predict_cold_minus_triton_grpc_p50_ms_c{c}"] = (
            round(cold - grpc, 3) if cold is not None and grpc is not None else None
        )
        ratios[f"cpu_bound_predict_cold_over_triton_http_c{c}"] = _ratio(
            cpu_total(s("triton-http", c)), cpu_total(s("predict-cold", c))
        )
        ratios[f"cpu_bound_predict_warm_over_cold_c{c}"] = _ratio(
            cpu_total(s("predict-cold", c)), cpu_total(s("predict-warm", c))
        )
    over = _step(doc, "overload", OVERLOAD_CONCURRENCY)
    if over is not None:
        kinds: dict[str, int] = over["errors_by_kind"]
        ratios["overload_accepted_per_s"] = round(over["throughput"], 1)
        ratios["overload_rejected_429"] = kinds.get("http_429", 0)
        ratios["overload_other_errors"] = {k: n for k, n in kinds.items() if k != "http_429"}
        ratios["overload_accepted_p99_ms"] = over["p99_ms"]
    return ratios


def median_ratios(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each ratio's median over the rounds; error counts (dicts) are added up."""
    merged: dict[str, Any] = {}
    for name in rounds[0]:
        values = [r.get(name) for r in rounds]
        if isinstance(values[0], dict):
            total: dict[str, int] = {}
            for value in values:
                for kind, n in (value or {}).items():
                    total[kind] = total.get(kind, 0) + n
            merged[name] = total
        else:
            numbers = [v for v in values if isinstance(v, int | float)]
            merged[name] = round(statistics.median(numbers), 3) if numbers else None
    return merged


def targets_of(ratios: dict[str, Any], low: int, high: int) -> list[dict[str, Any]]:
    """The issue's targets, judged on ``ratios``."""

    def target(
        name: str,
        value: float | None,
        goal: str,
        met: bool | None,
        cpu_bound: str | None = None,
        floor: str | None = None,
    ) -> dict[str, Any]:
        judged = {"name": name, "value": value, "goal": goal, "met": met}
        if cpu_bound is not None:
            judged["cpu_bound"] = ratios.get(cpu_bound)
        if floor is not None and ratios.get(floor) is not None:
            judged["asgi_floor"] = ratios[floor]
        return judged

    def at_least(v: float | None, goal: float) -> bool | None:
        return None if v is None else v >= goal

    targets = [
        target(
            f"predict keeps 60% of Triton HTTP throughput (c={high})",
            v := ratios[f"predict_cold_over_triton_http_throughput_c{high}"],
            ">= 0.60",
            at_least(v, 0.60),
            f"cpu_bound_predict_cold_over_triton_http_c{high}",
        ),
        target(
            f"predict p50 within 1.5 ms of Triton gRPC p50 (c={low})",
            v := ratios[f"predict_cold_minus_triton_grpc_p50_ms_c{low}"],
            "<= 1.5 ms",
            None if v is None else v <= 1.5,
        ),
    ]
    # The issue names no concurrency for the cache targets: judged at both ends, high first.
    for c in sorted({low, high}, reverse=True):
        targets += [
            target(
                f"warm-cache p50 3x lower than cold (c={c})",
                v := ratios[f"predict_cold_over_warm_p50_c{c}"],
                ">= 3",
                at_least(v, 3.0),
                floor=f"predict_cold_over_asgi_floor_p50_c{c}",
            ),
            target(
                f"warm-cache throughput 3x higher than cold (c={c})",
                v := ratios[f"predict_warm_over_cold_throughput_c{c}"],
                ">= 3",
                at_least(v, 3.0),
                f"cpu_bound_predict_warm_over_cold_c{c}",
                f"asgi_floor_over_predict_cold_throughput_c{c}",
            ),
        ]
    if "overload_other_errors" in ratios:
        others = ratios["overload_other_errors"]
        p99 = ratios["overload_accepted_p99_ms"]
        targets += [
            target("overload: only 200s and 429s", sum(others.values()), "0 others", not others),
            target(
                "overload: accepted p99 within the deadline",
                p99,
                f"< {OVERLOAD_DEADLINE_MS} ms",
                p99 is not None and p99 < OVERLOAD_DEADLINE_MS,
            ),
        ]
    return targets
