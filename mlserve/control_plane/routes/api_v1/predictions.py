"""Predict (fixed version or A/B-weighted) and fetch materialized predictions (thin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request

from mlserve.control_plane.openapi_schema import inline_schema
from mlserve.control_plane.routes.api_v1.contracts import (
    PredictRecordsAnswer,
    PredictRecordsRequest,
)
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import float_query, read_json
from mlserve.errors import InvalidInputError
from mlserve.platform.auth import User
from mlserve.platform.services import PlatformServices
from mlserve.platform.versions import parse_version

_EXAMPLE = '{"inputs": [{"age": 31, "income": 4.2}]}'
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": inline_schema(PredictRecordsRequest)}},
    }
}


def predictions_router(services: PlatformServices, guards: Guards) -> APIRouter:
    router = APIRouter(tags=["predict"])
    predict_service = services.prediction_service

    @router.post(
        "/predict/{name}/{version}",
        openapi_extra=_BODY,
        response_model=PredictRecordsAnswer,
        response_model_exclude_unset=True,
    )
    async def predict_version(
        name: str, version: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        """Predict with one version of ``name`` (every kind: records or texts)."""
        body = await read_json(request, _EXAMPLE)
        return await predict_service.predict(name, parse_version(version), body)

    @router.post(
        "/predict/{name}",
        openapi_extra=_BODY,
        response_model=PredictRecordsAnswer,
        response_model_exclude_unset=True,
    )
    async def predict_weighted(
        name: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        """Predict with ``name``, each input routed by its A/B weights (sticky per entity)."""
        body = await read_json(request, _EXAMPLE)
        return await predict_service.predict(name, None, body)

    @router.get("/fetch-materialized/{name}")
    async def fetch_materialized(
        name: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        entity_id = request.query_params.get("entity_id")
        if not entity_id:
            raise InvalidInputError("query parameter entity_id is required: ?entity_id=<id>")
        max_age = float_query(request.query_params.get("max_age_seconds"), "max_age_seconds")
        return await services.materializer.fetch(name, entity_id, max_age)

    return router
