"""A data plane over a repository and a Triton client, without the HTTP app (for tests of
the platform's seams and of the core itself)."""

from __future__ import annotations

from typing import Any

from mlserve.dataplane.core import DataPlane
from mlserve.dataplane.inference import SharedCalls
from mlserve.dataplane.observer import Observer
from mlserve.dataplane.request import PredictRequest
from mlserve.dataplane.routing import Router
from mlserve.kinds import RecordInputs
from mlserve.kinds.tabular import label_value
from mlserve.repository.store import ModelRepository
from mlserve.serving.cache.disabled import DisabledCache
from mlserve.serving.limiter import InflightLimiter
from mlserve.serving.registry import ModelRegistry
from mlserve.settings import LimitsSettings
from mlserve.triton.client import TritonClient


def dataplane_for(
    repository: ModelRepository,
    triton: TritonClient,
    *,
    default_record_model: str = "iris",
    **calls: Any,
) -> DataPlane:
    """No cache, no monitoring, default limits; ``calls`` overrides :class:`SharedCalls`."""
    limits = LimitsSettings()
    options: dict[str, Any] = {
        "max_batch_size": 16,
        "calls_in_flight": 1,
        "gather_turns": 0,
        "max_call_items": limits.max_inflight_per_model,
        **calls,
    }
    return DataPlane(
        Router(ModelRegistry(repository, triton, "sentiment")),
        SharedCalls(triton, **options),
        DisabledCache(default_ttl_seconds=1),
        InflightLimiter.from_settings(limits),
        limits,
        Observer(None),
        default_text_model="sentiment",
        default_record_model=default_record_model,
    )


async def predict_records(
    plane: DataPlane, name: str, version: int, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One ``{"prediction", "probabilities", "score"}`` per record, as ``/api/v1`` answers."""
    batch = await plane.predict(PredictRequest(RecordInputs(records), model=name, version=version))
    return [
        {
            "prediction": p.value if p.value is not None else label_value(p.label),
            "probabilities": p.probabilities,
            "score": p.score,
        }
        for p in batch.predictions
    ]
