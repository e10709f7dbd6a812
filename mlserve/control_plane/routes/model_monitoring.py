"""Seed S2's per-model dashboard and custom alerts (thin: see :mod:`mlserve.lifecycle`).

Reading (dashboard, rules) is monitoring, open like ``/monitoring/*``; adding and deleting
rules needs an admin bearer token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, Field

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import MAX_JSON_BODY_BYTES, JsonLimitedRoute
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.errors import NotFoundError
from mlserve.lifecycle.dashboard import model_dashboard
from mlserve.lifecycle.model_watch import ModelWatch, OnlineMetrics
from mlserve.monitoring.custom_alerts import AlertRule, FiringAlert
from mlserve.monitoring.hub import MonitoringHub
from mlserve.platform.auth import User

ModelName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
CurrentVersion = Callable[[str], Awaitable[int | None]]
VersionStates = Callable[[str], Awaitable[dict[int, bool]]]


class Statistics(BaseModel):
    total_predictions: int
    errors: int
    success_rate: float | None
    avg_latency_ms: float | None
    recent_accuracy: float | None
    window_hours: int


class HourRow(BaseModel):
    hour: str
    requests: int
    errors: int
    success_rate: float | None
    avg_latency_ms: float | None


class PerformanceTrend(BaseModel):
    trend: str = Field(description="stable, degrading, improving or insufficient_data")
    hourly_data: list[HourRow]


class Dashboard(BaseModel):
    """S2's dashboard shape."""

    model_name: str
    current_version: str | None
    health_status: str = Field(description="healthy, degraded or critical")
    statistics: Statistics
    performance_trend: PerformanceTrend
    active_alerts: list[dict[str, Any]]
    drift_detected: bool


class RulesAnswer(BaseModel):
    rules: list[AlertRule]
    firing: list[FiringAlert]


def model_monitoring_router(
    watch: ModelWatch,
    hub: MonitoringHub,
    online_metrics: OnlineMetrics,
    version_states: VersionStates,
    current_version: CurrentVersion,
    guards: Guards,
) -> APIRouter:
    router = APIRouter(
        prefix="/monitoring",
        tags=["monitoring"],
        route_class=JsonLimitedRoute,
        max_body_size=MAX_JSON_BODY_BYTES,
    )

    @router.get("/dashboard/{model}", responses=error_responses(404, 422))
    async def dashboard(model: ModelName) -> Dashboard:
        """Health, 24-hour statistics, hourly trend, active alerts and drift of one model."""
        if not await version_states(model):
            raise NotFoundError(f"no model named {model!r}; GET /models lists them")
        body = await model_dashboard(
            model, await current_version(model), watch, hub, online_metrics
        )
        return Dashboard.model_validate(body)

    @router.post(
        "/alerts/rules", status_code=201, responses=error_responses(400, 401, 403, 413, 422)
    )
    async def add_rule(
        rule: Annotated[AlertRule, Body()], admin: User = Depends(guards.admin)
    ) -> AlertRule:
        """Add (or replace, by name) a custom alert; it fires to the signed webhooks."""
        return await watch.rules.add(rule)

    @router.get("/alerts/rules")
    async def list_rules() -> RulesAnswer:
        """The custom alerts and those firing now."""
        return RulesAnswer(rules=await watch.rules.list(), firing=list(watch.rules.firing.values()))

    @router.delete("/alerts/rules/{name}", responses=error_responses(401, 403, 404, 422))
    async def delete_rule(
        name: Annotated[str, Path(max_length=64)], admin: User = Depends(guards.admin)
    ) -> dict[str, str]:
        """Delete a custom alert."""
        await watch.rules.delete(name)
        return {"deleted": name}

    return router
