"""A/B weights, webhooks, feedback, metrics and data quality (thin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import MAX_JSON_BODY_BYTES, JsonLimitedRoute
from mlserve.control_plane.routes.api_v1.contracts import (
    ABTestAnswer,
    ABTestRow,
    DataQuality,
    DeliveryView,
    FeedbackAnswer,
    FeedbackRequest,
    OnlineMetrics,
    Usage,
    WebhookRequest,
    WebhookView,
    Weights,
)
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.platform.auth import User
from mlserve.platform.data_quality import MAX_HOURS as DQ_MAX_HOURS
from mlserve.platform.feedback import MAX_WINDOW_HOURS
from mlserve.platform.model_lookup import ModelLookup
from mlserve.platform.services import PlatformServices
from mlserve.platform.usage_metrics import MAX_HOURS, hourly_usage
from mlserve.platform.versions import parse_version

FEEDBACK_BODY_LIMIT = 16 * 1024 * 1024
"""Largest feedback body: room for ``MAX_FEEDBACK_ITEMS`` items with some metadata."""

ModelName = Annotated[str, Path(description="The model's name, e.g. churn.")]
VersionLabel = Annotated[str, Path(description="``v<N>`` or ``<N>``.", examples=["v1"])]


def operations_router(services: PlatformServices, guards: Guards) -> APIRouter:
    router = APIRouter(
        tags=["operations"], route_class=JsonLimitedRoute, max_body_size=MAX_JSON_BODY_BYTES
    )
    lookup = ModelLookup(services.models.catalog, services.online)
    signed_in = error_responses(401, 404, 422)
    on_version = error_responses(401, 404, 422)

    @router.post("/abtest/{name}", responses=error_responses(400, 401, 403, 404, 413, 422))
    async def set_abtest(
        name: ModelName,
        weights: Annotated[Weights, Body(description="Weight per version label.")],
        admin: User = Depends(guards.admin),
    ) -> ABTestAnswer:
        """Route ``name``'s traffic by these weights (shares are ``weight / sum``)."""
        config = await services.abtests.set_weights(name, weights, updated_by=admin.username)
        return ABTestAnswer(**config.model_dump(), shares=config.shares())

    @router.get("/abtest/{name}", responses=signed_in)
    async def get_abtest(name: ModelName, user: User = Depends(guards.user)) -> list[ABTestRow]:
        """One row per version of the config in force (empty list: no A/B test)."""
        config = await services.abtests.get(name)
        if config is None:
            return []
        shares = config.shares()
        return [
            ABTestRow(
                model=name,
                version=label,
                weight=weight,
                share=shares[label],
                fingerprint=config.fingerprint,
                updated_at=config.updated_at,
                updated_by=config.updated_by,
            )
            for label, weight in config.weights.items()
        ]

    @router.post(
        "/webhook",
        responses=error_responses(400, 401, 413, 422),
        response_model_exclude_unset=True,
    )
    async def set_webhook(body: WebhookRequest, user: User = Depends(guards.user)) -> WebhookView:
        """Register or replace the caller's webhook (public http(s) URLs only)."""
        config = await services.webhooks.set_webhook(user.id, body.url, body.secret, body.is_active)
        state = "active" if body.is_active else "inactive"
        return WebhookView(**config.public(), message=f"webhook {state}")

    @router.get("/webhook", responses=error_responses(401), response_model_exclude_unset=True)
    async def get_webhook(user: User = Depends(guards.user)) -> WebhookView:
        config = await services.webhooks.get_webhook(user.id)
        return WebhookView(**config.public()) if config else WebhookView(url=None, is_active=False)

    @router.get("/webhook/deliveries", responses=signed_in)
    async def deliveries(
        user: User = Depends(guards.user),
        limit: Annotated[int, Query(ge=1, le=1000, description="Newest first.")] = 100,
    ) -> list[DeliveryView]:
        rows = await services.webhooks.deliveries(user.id, limit)
        return [DeliveryView.model_validate(d.public()) for d in rows]

    @router.post(
        "/feedback",
        responses=error_responses(400, 401, 404, 413, 422),
        max_body_size=FEEDBACK_BODY_LIMIT,
    )
    async def feedback(body: FeedbackRequest, user: User = Depends(guards.user)) -> FeedbackAnswer:
        """Observed outcomes for served predictions (404 when no id is known)."""
        answer = await services.feedback.submit(body.model_dump())
        return FeedbackAnswer.model_validate(answer)

    @router.get("/metrics/{name}/online", responses=signed_in, response_model_exclude_unset=True)
    async def online_metrics(
        name: ModelName,
        user: User = Depends(guards.user),
        version: Annotated[str | None, Query(description="``v<N>``; all when omitted.")] = None,
        window_hours: Annotated[int, Query(ge=1, le=MAX_WINDOW_HOURS)] = 168,
    ) -> OnlineMetrics:
        """Accuracy or MAE/RMSE from feedback (``metrics`` absent without predictions)."""
        parsed = parse_version(version) if version else None
        await lookup.require(name, parsed)
        answer = await services.feedback.online_metrics(name, parsed, window_hours)
        return OnlineMetrics.model_validate(answer)

    @router.get("/metrics/{name}/{version}", responses=signed_in)
    async def usage(
        name: ModelName,
        version: VersionLabel,
        user: User = Depends(guards.user),
        hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24,
    ) -> Usage:
        """Requests, predictions and latency per hour."""
        await lookup.require(name, parse_version(version))
        answer = await hourly_usage(services.predictions, name, parse_version(version), hours)
        return Usage.model_validate(answer)

    @router.get(
        "/data-quality-agg/{name}/{version}",
        responses=on_version,
        response_model_exclude_unset=True,
    )
    async def data_quality(
        name: ModelName,
        version: VersionLabel,
        user: User = Depends(guards.user),
        hours: Annotated[int, Query(ge=1, le=DQ_MAX_HOURS)] = 24,
    ) -> DataQuality:
        """Missingness, drift (PSI) and outliers of logged inputs vs the deploy's reference."""
        await lookup.require(name, parse_version(version))
        answer = await services.data_quality.report(name, parse_version(version), hours)
        return DataQuality.model_validate(answer)

    return router
