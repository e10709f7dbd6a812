"""The figures of one sweep step, as the renderers and the CLI see them."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlserve.benchmarking.measurement import Window, merge, percentile
from mlserve.benchmarking.server_stats import ServerBreakdown


@dataclass(frozen=True)
class StepResult:
    """One load level: client-side throughput and latency, errors, cache and Triton figures.

    Throughput and latencies come from the measured windows (the last three, or fewer when
    the step ended early); ``errors`` counts failures over the whole step.
    """

    concurrency: int | None
    """Requests kept in flight (concurrency mode); None in request-rate mode."""
    request_rate: float | None
    """Requests per second sent (request-rate mode); None in concurrency mode."""
    throughput: float
    """Successful requests per second."""
    inferences_per_s: float
    """Texts per second (``throughput`` x ``batch_size``)."""
    requests: int
    """Successful requests in the measured windows."""
    avg_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    cache_hit_ratio: float | None = None
    """Texts the control plane answered from its cache, over texts whose response said;
    None when responses carry no ``cached`` field (Triton targets)."""
    stable: bool = False
    """Whether the last three windows agreed within the stability percentage."""
    windows: int = 0
    measured_s: float = 0.0
    """Length of the measured windows together."""
    server: ServerBreakdown | None = None
    """Triton's per-request breakdown over the step; None without a statistics URL."""

    @property
    def errors(self) -> int:
        return sum(self.errors_by_kind.values())

    @property
    def load_label(self) -> str:
        if self.concurrency is not None:
            return f"concurrency {self.concurrency}"
        return f"{self.request_rate:g} req/s"

    @classmethod
    def from_windows(
        cls,
        windows: list[Window],
        *,
        measured: int,
        stable: bool,
        batch_size: int,
        concurrency: int | None,
        request_rate: float | None,
    ) -> StepResult:
        """Merge the last ``measured`` windows into figures; errors come from all windows."""
        figures = merge(windows[-measured:]) if windows else Window()
        everything = merge(windows)
        latencies_ms = [s * 1000 for s in figures.latencies_s]

        def pct(p: float) -> float | None:
            return percentile(latencies_ms, p) if latencies_ms else None

        return cls(
            concurrency=concurrency,
            request_rate=request_rate,
            throughput=figures.throughput,
            inferences_per_s=figures.throughput * batch_size,
            requests=figures.successes,
            avg_ms=sum(latencies_ms) / len(latencies_ms) if latencies_ms else None,
            p50_ms=pct(50),
            p90_ms=pct(90),
            p95_ms=pct(95),
            p99_ms=pct(99),
            errors_by_kind=dict(sorted(everything.errors.items())),
            cache_hit_ratio=(
                everything.cached / everything.cache_reported if everything.cache_reported else None
            ),
            stable=stable,
            windows=len(windows),
            measured_s=figures.duration_s,
        )
