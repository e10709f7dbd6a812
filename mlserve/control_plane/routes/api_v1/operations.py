"""A/B weights, webhooks, feedback, metrics and data quality (thin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import int_query, read_json
from mlserve.errors import InvalidInputError
from mlserve.platform.auth import User
from mlserve.platform.data_quality import MAX_HOURS as DQ_MAX_HOURS
from mlserve.platform.feedback import MAX_WINDOW_HOURS
from mlserve.platform.model_lookup import ModelLookup
from mlserve.platform.services import PlatformServices
from mlserve.platform.usage_metrics import MAX_HOURS, hourly_usage
from mlserve.platform.versions import parse_version

_SMALL_BODY = 1024 * 1024


def operations_router(services: PlatformServices, guards: Guards) -> APIRouter:
    router = APIRouter(tags=["operations"])
    lookup = ModelLookup(services.models.catalog, services.online)

    @router.post("/abtest/{name}")
    async def set_abtest(
        name: str, request: Request, admin: User = Depends(guards.admin)
    ) -> dict[str, Any]:
        weights = await read_json(request, '{"v1": 0.7, "v2": 0.3}', limit=_SMALL_BODY)
        config = await services.abtests.set_weights(name, weights, updated_by=admin.username)
        return {**config.model_dump(), "shares": config.shares()}

    @router.get("/abtest/{name}")
    async def get_abtest(name: str, user: User = Depends(guards.user)) -> list[dict[str, Any]]:
        """One row per version of the config in force (empty list: no A/B test)."""
        config = await services.abtests.get(name)
        if config is None:
            return []
        shares = config.shares()
        return [
            {
                "model": name,
                "version": label,
                "weight": weight,
                "share": shares[label],
                "fingerprint": config.fingerprint,
                "updated_at": config.updated_at,
                "updated_by": config.updated_by,
            }
            for label, weight in config.weights.items()
        ]

    @router.post("/webhook")
    async def set_webhook(request: Request, user: User = Depends(guards.user)) -> dict[str, Any]:
        example = '{"url": "https://example.com/hook", "secret": "...", "is_active": true}'
        body = await read_json(request, example, limit=_SMALL_BODY)
        if not isinstance(body, dict):
            raise InvalidInputError(f"body must be a JSON object like {example}")
        url, secret, active = body.get("url"), body.get("secret"), body.get("is_active", True)
        if not isinstance(url, str):
            raise InvalidInputError(f"url is required (a string); send e.g. {example}")
        if secret is not None and not isinstance(secret, str):
            raise InvalidInputError("secret must be a string (or omitted for unsigned deliveries)")
        if not isinstance(active, bool):
            raise InvalidInputError(f"is_active must be true or false (got {active!r})")
        config = await services.webhooks.set_webhook(user.id, url, secret, active)
        return {**config.public(), "message": f"webhook {'active' if active else 'inactive'}"}

    @router.get("/webhook")
    async def get_webhook(user: User = Depends(guards.user)) -> dict[str, Any]:
        config = await services.webhooks.get_webhook(user.id)
        return config.public() if config else {"url": None, "is_active": False}

    @router.get("/webhook/deliveries")
    async def deliveries(
        request: Request, user: User = Depends(guards.user)
    ) -> list[dict[str, Any]]:
        limit = int_query(request.query_params.get("limit"), "limit", 100, 1, 1000)
        return [d.public() for d in await services.webhooks.deliveries(user.id, limit)]

    @router.post("/feedback")
    async def feedback(request: Request, user: User = Depends(guards.user)) -> dict[str, Any]:
        body = await read_json(request, '{"feedback": [{"prediction_id": "...", "true_value": 1}]}')
        return await services.feedback.submit(body)

    @router.get("/metrics/{name}/online")
    async def online_metrics(
        name: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        label = request.query_params.get("version")
        hours = int_query(
            request.query_params.get("window_hours"), "window_hours", 168, 1, MAX_WINDOW_HOURS
        )
        version = parse_version(label) if label else None
        await lookup.require(name, version)
        return await services.feedback.online_metrics(name, version, hours)

    @router.get("/metrics/{name}/{version}")
    async def usage(
        name: str, version: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        hours = int_query(request.query_params.get("hours"), "hours", 24, 1, MAX_HOURS)
        await lookup.require(name, parse_version(version))
        return await hourly_usage(services.predictions, name, parse_version(version), hours)

    @router.get("/data-quality-agg/{name}/{version}")
    async def data_quality(
        name: str, version: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        hours = int_query(request.query_params.get("hours"), "hours", 24, 1, DQ_MAX_HOURS)
        await lookup.require(name, parse_version(version))
        return await services.data_quality.report(name, parse_version(version), hours)

    return router
