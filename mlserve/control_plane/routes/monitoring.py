"""``GET /metrics`` (also ``/monitoring/metrics``, seed S2's path) and the monitoring
endpoints (drift, alerts, stats)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.routes.status_contracts import (
    AlertsAnswer,
    BasicMonitor,
    DriftAnswer,
    StatsAnswer,
)
from mlserve.errors import NotFoundError
from mlserve.monitoring.hub import MonitoringHub

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def monitoring_router(
    hub: MonitoringHub,
    registry: CollectorRegistry,
    *,
    known_versions: Callable[[str], list[int]],
) -> APIRouter:
    """Routes over ``hub``; ``known_versions(model)`` says which versions exist."""
    router = APIRouter(tags=["monitoring"])

    @router.get("/metrics", include_in_schema=False)
    @router.get("/monitoring/metrics", include_in_schema=False)  # seed S2's path
    async def metrics() -> Response:
        """Prometheus metrics of the control plane (``mlserve_*``)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/monitoring/drift/{model}", responses=error_responses(404, 422))
    async def drift(model: str) -> DriftAnswer:
        """Drift status of every version of ``model``, per signal."""
        versions = known_versions(model) if _MODEL_NAME.fullmatch(model) else []
        if not versions:
            raise NotFoundError(
                f"model {model!r} is not published; GET /models lists the published ones"
            )
        return DriftAnswer(
            model=model, versions=[hub.drift_report(model, v).to_dict() for v in versions]
        )

    @router.get("/monitoring/alerts")
    async def alerts() -> AlertsAnswer:
        """Alerts firing now: drift, success rate, latency, Triton queue time."""
        return AlertsAnswer.model_validate({"alerts": [a.to_dict() for a in hub.alerts()]})

    @router.get("/monitor/basic")
    async def basic() -> BasicMonitor:
        """Seed S3's basic monitor: per tabular or custom model version, the means, spreads
        and missing shares of the features of its last records, and its predictions' counts."""
        return BasicMonitor.model_validate(
            {"window_rows": hub.features.size, "versions": hub.features.summary()}
        )

    @router.get("/monitoring/stats")
    async def stats() -> StatsAnswer:
        """Per model/version serving figures (what ``mlserve stats`` shows): ``versions``
        rows plus the serving, Triton, performance, drift and alert detail."""
        return StatsAnswer.model_validate(hub.summary())

    return router
