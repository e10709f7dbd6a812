"""Churn analysis of an uploaded customer CSV (the 0.4.0 client's ``churn_analysis`` and
``churn_insights``); logic in :mod:`mlserve.platform.churn`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import (
    float_query,
    form_text,
    int_query,
    read_form,
)
from mlserve.errors import InvalidInputError
from mlserve.platform.auth import User
from mlserve.platform.churn import MAX_CSV_BYTES, MAX_CUSTOMERS
from mlserve.platform.churn_store import ChurnAnalyses
from mlserve.platform.store import StateStore


class ChurnAnalysis(BaseModel):
    message: str
    summary: dict[str, Any]
    customers: list[dict[str, Any]]


class ChurnInsights(BaseModel):
    has_results: bool
    summary: dict[str, Any] | None
    customers: list[dict[str, Any]]
    message: str | None = None


def churn_router(store: StateStore, guards: Guards) -> APIRouter:
    router = APIRouter(prefix="/churn", tags=["churn"])
    analyses = ChurnAnalyses(store)

    @router.post("/analysis", response_model=ChurnAnalysis)
    async def analysis(request: Request, user: User = Depends(guards.user)) -> dict[str, Any]:
        """Multipart: ``csv_file`` and ``max_discount_fraction`` (default 0.2)."""
        form = await read_form(
            request, limit=MAX_CSV_BYTES + 64 * 1024, max_files=1, max_part_size=MAX_CSV_BYTES
        )
        upload = form.get("csv_file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("csv_file is required: attach the customer CSV as a file")
        fraction = float_query(form_text(form, "max_discount_fraction"), "max_discount_fraction")
        content = await upload.read()
        return await analyses.analyze(user.id, content, 0.2 if fraction is None else fraction)

    @router.get("/insights", response_model=ChurnInsights)
    async def insights(request: Request, user: User = Depends(guards.user)) -> dict[str, Any]:
        limit = int_query(request.query_params.get("limit"), "limit", 1000, 1, MAX_CUSTOMERS)
        return await analyses.insights(user.id, limit)

    return router
