"""Triton's server-side view of a step, from its statistics API read before and after.

``GET {triton_http}/v2/models/{model}[/versions/{v}]/stats`` (or ``/v2/models/stats`` for
all models) returns cumulative counters; the difference over a step gives what Triton did
for it: per-request queue and compute times (compute counters add a batch's time once per
request in it, so dividing by the request count gives per-request figures, as
perf_analyzer does) and the average batch size (inferences over executions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import httpx

from mlserve.benchmarking.failures import describe_http_error, response_error_text
from mlserve.errors import NotFoundError, ServiceUnavailableError, TritonError


@dataclass(frozen=True)
class StatsSnapshot:
    """Cumulative counters summed over the selected model versions."""

    inference_count: int = 0
    execution_count: int = 0
    success_count: int = 0
    fail_count: int = 0
    queue_ns: int = 0
    compute_input_ns: int = 0
    compute_infer_ns: int = 0
    compute_output_ns: int = 0
    cache_hit_count: int = 0
    cache_miss_count: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatsSnapshot:
        """Sum the ``model_stats`` entries of a statistics response."""
        totals = dict.fromkeys((f.name for f in fields(cls)), 0)
        for entry in data.get("model_stats", []):
            stats = entry.get("inference_stats", {})
            totals["inference_count"] += int(entry.get("inference_count", 0))
            totals["execution_count"] += int(entry.get("execution_count", 0))
            totals["success_count"] += _count(stats, "success")
            totals["fail_count"] += _count(stats, "fail")
            totals["cache_hit_count"] += _count(stats, "cache_hit")
            totals["cache_miss_count"] += _count(stats, "cache_miss")
            for name in ("queue", "compute_input", "compute_infer", "compute_output"):
                totals[f"{name}_ns"] += int(stats.get(name, {}).get("ns", 0))
        return cls(**totals)


@dataclass(frozen=True)
class ServerBreakdown:
    """Per-request averages Triton measured during one step (microseconds)."""

    requests: int
    """Successful inference requests Triton counted (cache hits in the control plane
    never reach Triton, so this can be below the client's count)."""
    failures: int
    queue_us: float
    compute_input_us: float
    compute_infer_us: float
    compute_output_us: float
    avg_batch_size: float | None
    """Inferences per model execution; None when nothing executed."""

    @property
    def total_us(self) -> float:
        """Queue plus compute: the time a request spent inside Triton's scheduler and model."""
        return (
            self.queue_us + self.compute_input_us + self.compute_infer_us + self.compute_output_us
        )


def breakdown(before: StatsSnapshot, after: StatsSnapshot) -> ServerBreakdown:
    """What happened between two snapshots of the same models."""
    requests = after.success_count - before.success_count
    executions = after.execution_count - before.execution_count
    inferences = after.inference_count - before.inference_count

    def per_request(name: str) -> float:
        delta_ns = getattr(after, name) - getattr(before, name)
        return delta_ns / requests / 1000 if requests > 0 else 0.0

    return ServerBreakdown(
        requests=requests,
        failures=after.fail_count - before.fail_count,
        queue_us=per_request("queue_ns"),
        compute_input_us=per_request("compute_input_ns"),
        compute_infer_us=per_request("compute_infer_ns"),
        compute_output_us=per_request("compute_output_ns"),
        avg_batch_size=inferences / executions if executions > 0 else None,
    )


class StatsReader:
    """Reads Triton's statistics for one model (all versions or one), or all models."""

    def __init__(
        self,
        triton_http_url: str,
        *,
        model: str | None,
        version: int | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        base = triton_http_url.rstrip("/")
        if "://" not in base:
            base = f"http://{base}"
        if model is None:
            path = "/v2/models/stats"
        elif version is None:
            path = f"/v2/models/{model}/stats"
        else:
            path = f"/v2/models/{model}/versions/{version}/stats"
        self.url = base + path
        self.model = model
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def snapshot(self) -> StatsSnapshot:
        """The current counters; raises a one-line ``MLServeError`` when they cannot be read."""
        try:
            response = await self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"Cannot read Triton statistics at {self.url} ({describe_http_error(exc)}); check "
                f"triton_http_url points at Triton's HTTP port, or leave it out to skip the "
                f"server-side breakdown"
            ) from None
        if response.status_code in (400, 404):
            raise NotFoundError(
                f"Triton has no statistics for model {self.model!r} at {self.url}: "
                f"{response_error_text(response)}; check the model name and that it is loaded"
            )
        if response.status_code != 200:
            raise TritonError(
                f"Triton statistics at {self.url} answered {response.status_code}: "
                f"{response_error_text(response)}"
            )
        try:
            return StatsSnapshot.from_json(response.json())
        except (ValueError, TypeError, AttributeError) as exc:
            raise TritonError(f"Triton statistics at {self.url} are not readable: {exc}") from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _count(stats: Mapping[str, Any], name: str) -> int:
    return int(stats.get(name, {}).get("count", 0))
