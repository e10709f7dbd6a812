"""Hourly usage of one model version, from the prediction log.

``GET /api/v1/metrics/{name}/{version}?hours=N`` answers ``{"model", "version", "hours",
"timeseries": [...]}`` with one row per hour of the window (empty hours included, oldest
first): ``timestamp`` (start of the hour, UTC ISO-8601), ``requests`` (predict calls),
``predictions`` (records), request latency percentiles ``latency_ms_p50/p95/p99`` and mean
(null in an hour without requests), and ``throughput_per_s`` (predictions per second over
the hour). Figures cover what the bounded prediction log still holds.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from mlserve.errors import InvalidInputError
from mlserve.platform.prediction_log import PredictionLog
from mlserve.platform.versions import version_label

MAX_HOURS = 24 * 30
_HOUR = 3600


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``q`` in [0, 100])."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def hourly_usage(
    log: PredictionLog, model: str, version: int, hours: int, now: float | None = None
) -> dict[str, Any]:
    if not 1 <= hours <= MAX_HOURS:
        raise InvalidInputError(f"hours must be 1-{MAX_HOURS} (got {hours})")
    now = time.time() if now is None else now
    first_hour = (int(now) // _HOUR - hours + 1) * _HOUR
    records = await log.window(model, version, first_hour, now)
    buckets: dict[int, dict[str, Any]] = {
        first_hour + i * _HOUR: {"predictions": 0, "latency": {}} for i in range(hours)
    }
    for r in records:
        bucket = buckets.get(int(r.ts) // _HOUR * _HOUR)
        if bucket is not None:
            bucket["predictions"] += 1
            bucket["latency"][r.request_id] = r.latency_ms
    rows = []
    for start, bucket in sorted(buckets.items()):
        latencies = sorted(bucket["latency"].values())
        row: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(start, UTC).isoformat(),
            "requests": len(latencies),
            "predictions": bucket["predictions"],
            "latency_ms_p50": None,
            "latency_ms_p95": None,
            "latency_ms_p99": None,
            "latency_ms_mean": None,
            "throughput_per_s": bucket["predictions"] / _HOUR,
        }
        if latencies:
            row.update(
                latency_ms_p50=percentile(latencies, 50),
                latency_ms_p95=percentile(latencies, 95),
                latency_ms_p99=percentile(latencies, 99),
                latency_ms_mean=sum(latencies) / len(latencies),
            )
        rows.append(row)
    return {
        "model": model,
        "version": version_label(version),
        "hours": hours,
        "total_requests": sum(r["requests"] for r in rows),
        "total_predictions": sum(r["predictions"] for r in rows),
        "timeseries": rows,
    }
