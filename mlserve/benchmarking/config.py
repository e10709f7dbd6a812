"""What a benchmark run measures and how (perf_analyzer's knobs, our names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlserve.benchmarking.sweep import parse_concurrency_range, parse_rate_range
from mlserve.errors import InvalidInputError

TargetKind = Literal["control-plane", "triton-grpc", "triton-http"]
TARGETS: tuple[TargetKind, ...] = ("control-plane", "triton-grpc", "triton-http")


@dataclass(frozen=True)
class BenchmarkConfig:
    """One benchmark run. Invalid values raise ``InvalidInputError`` naming the field."""

    target: TargetKind = "control-plane"
    """``control-plane``: POST {url}/predict (or /batch-predict when ``batch_size`` > 1);
    ``triton-grpc``: Triton's gRPC infer at ``url`` (host:port); ``triton-http``: Triton's
    HTTP v2 infer at ``url``."""
    url: str = "http://127.0.0.1:8080"
    """Control-plane base URL, Triton gRPC address, or Triton HTTP URL, per ``target``."""
    model: str | None = None
    """Model name; required for Triton targets. For the control plane None means its
    default model."""
    version: int | None = None
    """A fixed version; None lets the control plane route (or Triton pick its newest)."""
    concurrency: str | None = "1"
    """Concurrency levels, e.g. ``1:32:x2`` (1, 2, 4, ... 32) or ``4:16:4``."""
    request_rate: str | None = None
    """Requests per second levels instead of concurrency (same syntax); overrides it."""
    window_s: float = 5.0
    """Length of one measurement window."""
    stability_pct: float = 10.0
    """The last 3 windows must agree within this percentage (throughput and latency)."""
    max_windows: int = 10
    """Windows per step at most; the step then reports unstable figures."""
    max_requests: int | None = None
    """Requests per step at most (``n``); the step ends when they are done."""
    batch_size: int = 1
    """Texts per request: ``/batch-predict`` on the control plane, shape [n, 1] on Triton."""
    request_timeout_s: float = 30.0
    """Client timeout of one request; a request running longer counts as a ``timeout``."""
    connect_timeout_s: float = 3.0
    """Timeout of the checks before the run (server up, model present)."""
    triton_http_url: str | None = None
    """Triton's HTTP URL for the server-side breakdown (statistics API); the ``url`` itself
    for ``triton-http``; no breakdown when None."""
    texts: tuple[str, ...] | None = None
    """Texts to send; default the sample sentiment texts."""
    unique_ratio: float = 1.0
    """Fraction of texts made unique (never cached); the rest repeat from a small pool."""
    pool_size: int = 32
    """Distinct texts in the repeat pool."""
    seed: int = 0
    """Seed of the text choice, so runs send the same sequence."""
    auth_token: str | None = None
    """Bearer token for the control plane, when it requires one."""
    max_outstanding: int = 1024
    """Request-rate mode: requests in flight at most; beyond it a send is counted as a
    ``client_backlog`` error (the server is not keeping up with the rate)."""
    input_name: str = "text"
    """Triton input tensor (BYTES, shape [n, 1])."""
    output_name: str = "probabilities"
    """Triton output tensor (FP32)."""

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise InvalidInputError(
                f"target must be one of {', '.join(TARGETS)}; got {self.target!r}"
            )
        if self.target != "control-plane" and not self.model:
            raise InvalidInputError(
                f"model is required for target {self.target}: name the Triton model to load"
            )
        _positive("window_s", self.window_s)
        _positive("request_timeout_s", self.request_timeout_s)
        _positive("connect_timeout_s", self.connect_timeout_s)
        _positive("stability_pct", self.stability_pct)
        _at_least("max_windows", self.max_windows, 1)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("pool_size", self.pool_size, 1)
        _at_least("max_outstanding", self.max_outstanding, 1)
        if self.max_requests is not None:
            _at_least("max_requests", self.max_requests, 1)
        if self.version is not None:
            _at_least("version", self.version, 1)
        if not 0.0 <= self.unique_ratio <= 1.0:
            raise InvalidInputError(
                f"unique_ratio must be between 0 and 1 (fraction of unique texts); "
                f"got {self.unique_ratio}"
            )
        if self.texts is not None and not any(t.strip() for t in self.texts):
            raise InvalidInputError("texts must contain at least one non-empty text")
        if self.request_rate is None and self.concurrency is None:
            raise InvalidInputError("set concurrency (e.g. 1:32:x2) or request_rate")
        self.levels()

    @property
    def mode(self) -> Literal["concurrency", "request_rate"]:
        return "request_rate" if self.request_rate is not None else "concurrency"

    def levels(self) -> list[float]:
        """The load levels of the sweep, in order (concurrencies or rates)."""
        if self.request_rate is not None:
            return parse_rate_range(self.request_rate)
        assert self.concurrency is not None
        return [float(level) for level in parse_concurrency_range(self.concurrency)]

    @property
    def stats_url(self) -> str | None:
        """Triton's HTTP URL for statistics, if any."""
        if self.triton_http_url:
            return self.triton_http_url
        return self.url if self.target == "triton-http" else None


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InvalidInputError(f"{name} must be above 0; got {value}")


def _at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}; got {value}")
