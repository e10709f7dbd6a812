"""Triton's own numbers: parse ``/metrics`` text or statistics JSON, and difference snapshots.

Triton exports cumulative counters (``nv_inference_*`` on ``:8002/metrics``; the same
figures, in nanoseconds, from ``GET v2/models/<m>/stats``). What operators want is per
interval: average dynamic batch size, queue time and compute time per request, failures.
Those come from the difference of two snapshots:

- average batch size = delta inference_count / delta exec_count;
- queue time per request = delta queue_duration / delta request_success;
- compute per request = delta (compute_input + compute_infer + compute_output) / delta
  request_success (Triton adds a batch's compute time once per request in it, so this is
  the compute time a request experienced).

A counter that went down (Triton restarted, model reloaded) is read as having restarted
from zero, as Prometheus' ``rate()`` does. Everything here is pure: no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ModelKey = tuple[str, int | None]

TRITON_METRIC_NAMES: frozenset[str] = frozenset(
    {
        # per model, counters unless noted (Triton 2.51 / NGC 24.10)
        "nv_inference_request_success",
        "nv_inference_request_failure",
        "nv_inference_count",
        "nv_inference_exec_count",
        "nv_inference_request_duration_us",
        "nv_inference_queue_duration_us",
        "nv_inference_compute_input_duration_us",
        "nv_inference_compute_infer_duration_us",
        "nv_inference_compute_output_duration_us",
        "nv_inference_pending_request_count",  # gauge
        # summaries, with --metrics-config summary_latencies=true
        *(
            f"nv_inference_{stage}_summary_us{suffix}"
            for stage in ("request", "queue", "compute_input", "compute_infer", "compute_output")
            for suffix in ("", "_count", "_sum")
        ),
        # response cache, per model
        "nv_cache_num_hits_per_model",
        "nv_cache_num_misses_per_model",
        "nv_cache_hit_duration_per_model",
        "nv_cache_miss_duration_per_model",
        # GPU (per gpu_uuid) and CPU gauges
        "nv_gpu_utilization",
        "nv_gpu_memory_total_bytes",
        "nv_gpu_memory_used_bytes",
        "nv_gpu_power_usage",
        "nv_gpu_power_limit",
        "nv_energy_consumption",
        "nv_cpu_utilization",
        "nv_cpu_memory_total_bytes",
        "nv_cpu_memory_used_bytes",
        "nv_pinned_memory_pool_total_bytes",
        "nv_pinned_memory_pool_used_bytes",
    }
)
"""Metric names Triton really exports (documented in Triton's metrics guide, and the CPU
ones read from a running 2.51 server); dashboards may only use these and ``mlserve_*``."""

_COUNTERS = {
    "nv_inference_request_success": "request_success",
    "nv_inference_request_failure": "request_failure",
    "nv_inference_count": "inference_count",
    "nv_inference_exec_count": "exec_count",
    "nv_inference_request_duration_us": "request_us",
    "nv_inference_queue_duration_us": "queue_us",
    "nv_inference_compute_input_duration_us": "compute_input_us",
    "nv_inference_compute_infer_duration_us": "compute_infer_us",
    "nv_inference_compute_output_duration_us": "compute_output_us",
    "nv_cache_num_hits_per_model": "cache_hits",
    "nv_cache_num_misses_per_model": "cache_misses",
}


@dataclass(frozen=True)
class Sample:
    """One line of Prometheus text: metric name, labels, value."""

    name: str
    labels: dict[str, str]
    value: float


class MetricsParseError(ValueError):
    """A line of metrics text that is not Prometheus exposition format."""


def _parse_labels(text: str, start: int, line: str) -> tuple[dict[str, str], int]:
    labels: dict[str, str] = {}
    i = start
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        eq = text.find("=", i)
        if eq < 0 or eq + 1 >= len(text) or text[eq + 1] != '"':
            raise MetricsParseError(f"bad label in metrics line: {line!r}")
        name = text[i:eq].strip()
        i = eq + 2
        value: list[str] = []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
                value.append({"n": "\n"}.get(text[i], text[i]))
            else:
                value.append(text[i])
            i += 1
        if i >= len(text):
            raise MetricsParseError(f"unterminated label value in metrics line: {line!r}")
        labels[name] = "".join(value)
        i += 1


def parse_prometheus_text(text: str) -> list[Sample]:
    """Samples of a Prometheus text exposition (comments and blank lines skipped)."""
    samples: list[Sample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace >= 0 and (space < 0 or brace < space):
            name = line[:brace]
            labels, end = _parse_labels(line, brace + 1, raw)
            rest = line[end:].split()
        elif space > 0:
            name, labels, rest = line[:space], {}, line[space:].split()
        else:
            raise MetricsParseError(f"metrics line without a value: {raw!r}")
        if not name or not rest:
            raise MetricsParseError(f"metrics line without a value: {raw!r}")
        try:
            value = float(rest[0])
        except ValueError as exc:
            raise MetricsParseError(f"metrics line with a bad value: {raw!r}") from exc
        samples.append(Sample(name, labels, value))
    return samples


@dataclass(frozen=True)
class ModelCounters:
    """Triton's cumulative figures for one model version (durations in microseconds)."""

    model: str
    version: int | None
    request_success: float = 0.0
    request_failure: float = 0.0
    inference_count: float = 0.0
    exec_count: float = 0.0
    request_us: float = 0.0
    queue_us: float = 0.0
    compute_input_us: float = 0.0
    compute_infer_us: float = 0.0
    compute_output_us: float = 0.0
    cache_hits: float = 0.0
    cache_misses: float = 0.0
    pending_requests: float | None = None
    """A gauge (metrics text only; the statistics JSON does not carry it)."""


@dataclass(frozen=True)
class TritonSnapshot:
    """Everything read from Triton at one moment."""

    taken_at: float
    """Monotonic seconds; only differences matter."""
    models: dict[ModelKey, ModelCounters] = field(default_factory=dict)
    cpu_utilization: float | None = None
    gpu_utilization: dict[str, float] = field(default_factory=dict)
    """By ``gpu_uuid``; empty on machines without GPU metrics."""


def _version(label: str | None) -> int | None:
    return int(label) if label is not None and label.isdigit() else None


def snapshot_from_metrics_text(text: str, taken_at: float | None = None) -> TritonSnapshot:
    """Parse ``:8002/metrics``; failures are summed over their ``reason`` label."""
    totals: dict[ModelKey, dict[str, float]] = {}
    cpu: float | None = None
    gpus: dict[str, float] = {}
    for sample in parse_prometheus_text(text):
        if sample.name == "nv_cpu_utilization":
            cpu = sample.value
        elif sample.name == "nv_gpu_utilization":
            gpus[sample.labels.get("gpu_uuid", str(len(gpus)))] = sample.value
        elif "model" in sample.labels:
            attribute = _COUNTERS.get(sample.name)
            if sample.name == "nv_inference_pending_request_count":
                attribute = "pending_requests"
            if attribute is None:
                continue
            key = (sample.labels["model"], _version(sample.labels.get("version")))
            entry = totals.setdefault(key, {})
            entry[attribute] = entry.get(attribute, 0.0) + sample.value
    models = {key: ModelCounters(key[0], key[1], **values) for key, values in totals.items()}
    return TritonSnapshot(
        taken_at=time.monotonic() if taken_at is None else taken_at,
        models=models,
        cpu_utilization=cpu,
        gpu_utilization=gpus,
    )


def _stat(stats: Mapping[str, Any], name: str) -> tuple[float, float]:
    entry = stats.get(name) or {}
    return float(entry.get("count", 0)), float(entry.get("ns", 0)) / 1000.0


def snapshot_from_statistics(
    document: Mapping[str, Any], taken_at: float | None = None
) -> TritonSnapshot:
    """Parse Triton's statistics JSON (``{"model_stats": [...]}``, ns turned into us)."""
    models: dict[ModelKey, ModelCounters] = {}
    for entry in document.get("model_stats", []):
        stats = entry.get("inference_stats", {})
        success, success_us = _stat(stats, "success")
        failure, failure_us = _stat(stats, "fail")
        key = (str(entry["name"]), _version(str(entry.get("version", ""))))
        models[key] = ModelCounters(
            model=key[0],
            version=key[1],
            request_success=success,
            request_failure=failure,
            inference_count=float(entry.get("inference_count", 0)),
            exec_count=float(entry.get("execution_count", 0)),
            request_us=success_us + failure_us,
            queue_us=_stat(stats, "queue")[1],
            compute_input_us=_stat(stats, "compute_input")[1],
            compute_infer_us=_stat(stats, "compute_infer")[1],
            compute_output_us=_stat(stats, "compute_output")[1],
            cache_hits=_stat(stats, "cache_hit")[0],
            cache_misses=_stat(stats, "cache_miss")[0],
        )
    return TritonSnapshot(time.monotonic() if taken_at is None else taken_at, models)


@dataclass(frozen=True)
class ModelDelta:
    """One model version between two snapshots."""

    model: str
    version: int | None
    interval_seconds: float
    requests: float
    """Successful requests in the interval."""
    failures: float
    inferences: float
    executions: float
    avg_batch_size: float | None
    queue_us_per_request: float | None
    compute_us_per_request: float | None
    request_us_per_request: float | None
    inferences_per_second: float | None
    pending_requests: float | None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _difference(previous: ModelCounters | None, current: ModelCounters) -> ModelCounters:
    if previous is None:
        return current
    names = [f.name for f in fields(ModelCounters) if f.name not in ("model", "version")]
    names.remove("pending_requests")
    deltas = {name: getattr(current, name) - getattr(previous, name) for name in names}
    if any(value < 0 for value in deltas.values()):
        return current
    return replace(current, **deltas)


def compute_deltas(previous: TritonSnapshot, current: TritonSnapshot) -> list[ModelDelta]:
    """Per-version figures for the interval between two snapshots, sorted by model/version.

    A version that appeared since ``previous`` is counted from zero; one that disappeared
    is left out.
    """
    interval = current.taken_at - previous.taken_at
    result = []
    for key in sorted(current.models, key=lambda k: (k[0], k[1] or 0)):
        d = _difference(previous.models.get(key), current.models[key])
        compute_us = d.compute_input_us + d.compute_infer_us + d.compute_output_us
        result.append(
            ModelDelta(
                model=d.model,
                version=d.version,
                interval_seconds=interval,
                requests=d.request_success,
                failures=d.request_failure,
                inferences=d.inference_count,
                executions=d.exec_count,
                avg_batch_size=_ratio(d.inference_count, d.exec_count),
                queue_us_per_request=_ratio(d.queue_us, d.request_success),
                compute_us_per_request=_ratio(compute_us, d.request_success),
                request_us_per_request=_ratio(d.request_us, d.request_success),
                inferences_per_second=_ratio(d.inference_count, interval)
                if math.isfinite(interval)
                else None,
                pending_requests=d.pending_requests,
            )
        )
    return result
