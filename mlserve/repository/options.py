"""How published models are configured for Triton, derived from :class:`Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlserve.settings import Settings


@dataclass(frozen=True)
class ServingOptions:
    """The Triton-facing choices made when a version is published."""

    backend: str = "mlserve_onnx"
    max_batch_size: int = 64
    max_queue_delay_us: int = 0
    max_queue_size: int = 0
    queue_timeout_us: int = 0
    instance_kind: str = "KIND_CPU"
    instance_count: int = 1
    serve_versions: int = 3
    default_stage: Literal["None", "Staging"] = "None"
    """The stage a newly published version starts in (``publish.default_stage``)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ServingOptions:
        triton = settings.triton
        return cls(
            backend=triton.backend,
            max_batch_size=settings.max_batch_size,
            max_queue_delay_us=settings.queue_delay_us,
            max_queue_size=triton.max_queue_size,
            queue_timeout_us=triton.queue_timeout_ms * 1000,
            instance_kind=triton.instance_kind,
            instance_count=triton.instance_count,
            serve_versions=triton.serve_versions,
            default_stage=settings.publish.default_stage,
        )
