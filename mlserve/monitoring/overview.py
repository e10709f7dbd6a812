"""One row per model version: what ``mlserve stats`` and ``GET /monitoring/stats`` show.

Joins the monitoring hub's sources by (model, version): request outcomes and latency
quantiles over the stats horizon, Triton's last poll interval (batch size, queue and
compute time), label counts and cache hit ratio since start, and drift status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mlserve.monitoring.drift import DriftReport
from mlserve.monitoring.serving_stats import ServingStats
from mlserve.triton.metrics import ModelDelta

VersionKey = tuple[str, int | None]


@dataclass(frozen=True)
class VersionOverview:
    """Serving figures of one model version (None: nothing measured yet)."""

    model: str
    version: int | None
    requests: int = 0
    error_rate: float | None = None
    avg_latency_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    throughput_rps: float | None = None
    cache_hit_ratio: float | None = None
    """Per model (the cache is keyed by version, the counters are not)."""
    triton_avg_batch_size: float | None = None
    triton_queue_ms: float | None = None
    triton_compute_ms: float | None = None
    triton_inferences_per_second: float | None = None
    labels: dict[str, int] = field(default_factory=dict)
    """Predicted label counts since the control plane started."""
    drift_status: str = "no data"
    drift_detected: bool = False
    drifted_signals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["drifted_signals"] = list(self.drifted_signals)
        return data


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1000.0


def build_overview(
    *,
    serving: Iterable[ServingStats],
    triton: Iterable[ModelDelta],
    drift: Iterable[DriftReport],
    labels: Mapping[VersionKey, Mapping[str, float]],
    cache: Mapping[str, tuple[float, float]],
) -> list[VersionOverview]:
    """One row for every version any source knows, sorted by model and version.

    Requests that never resolved a version (``version`` None) get their own row.
    """
    rows: dict[VersionKey, dict[str, Any]] = {}

    def row(model: str, version: int | None) -> dict[str, Any]:
        return rows.setdefault((model, version), {"model": model, "version": version})

    for s in serving:
        quantiles = s.latency_quantiles_ms or (None, None, None)
        row(s.model, s.version).update(
            requests=s.requests,
            error_rate=s.error_rate,
            avg_latency_ms=s.avg_latency_ms,
            p50_ms=quantiles[0],
            p95_ms=quantiles[1],
            p99_ms=quantiles[2],
            throughput_rps=s.throughput_rps,
        )
    for d in triton:
        row(d.model, d.version).update(
            triton_avg_batch_size=d.avg_batch_size,
            triton_queue_ms=_ms(d.queue_us_per_request),
            triton_compute_ms=_ms(d.compute_us_per_request),
            triton_inferences_per_second=d.inferences_per_second,
        )
    for report in drift:
        row(report.model, report.version).update(
            drift_status=report.status,
            drift_detected=report.detected,
            drifted_signals=tuple(s.signal for s in report.signals if s.drifted),
        )
    for (model, version), counts in labels.items():
        row(model, version)["labels"] = {k: int(v) for k, v in sorted(counts.items())}
    for entry in rows.values():
        hits, misses = cache.get(entry["model"], (0.0, 0.0))
        if hits + misses > 0:
            entry["cache_hit_ratio"] = hits / (hits + misses)
    ordered = sorted(rows.items(), key=lambda item: (item[0][0], item[0][1] or 0))
    return [VersionOverview(**entry) for _, entry in ordered]
