"""``GET /metrics`` and the monitoring endpoints (drift, alerts, stats)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

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
    async def metrics() -> Response:
        """Prometheus metrics of the control plane (``mlserve_*``)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/monitoring/drift/{model}")
    async def drift(model: str) -> dict[str, Any]:
        """Drift status of every version of ``model``, per signal."""
        versions = known_versions(model) if _MODEL_NAME.fullmatch(model) else []
        if not versions:
            raise NotFoundError(
                f"model {model!r} is not published; GET /models lists the published ones"
            )
        return {
            "model": model,
            "versions": [hub.drift_report(model, v).to_dict() for v in versions],
        }

    @router.get("/monitoring/alerts")
    async def alerts() -> dict[str, Any]:
        """Alerts firing now: drift, success rate, latency, Triton queue time."""
        return {"alerts": [a.to_dict() for a in hub.alerts()]}

    @router.get("/monitoring/stats")
    async def stats() -> dict[str, Any]:
        """Per model/version serving figures (what ``mlserve stats`` shows): ``versions``
        rows plus the serving, Triton, performance, drift and alert detail."""
        return hub.summary()

    return router
