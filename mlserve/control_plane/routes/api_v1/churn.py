"""Churn analysis of an uploaded customer CSV (the 0.4.0 client's ``churn_analysis`` and
``churn_insights``); logic in :mod:`mlserve.platform.churn`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import MAX_JSON_BODY_BYTES, JsonLimitedRoute
from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import float_query, form_text, read_form
from mlserve.errors import InvalidInputError
from mlserve.platform.auth import User
from mlserve.platform.churn import MAX_CSV_BYTES, MAX_CUSTOMERS
from mlserve.platform.churn_store import ChurnAnalyses
from mlserve.platform.store import StateStore

FIELDS_ALLOWANCE = 64 * 1024
"""Room for the multipart framing and the ``max_discount_fraction`` field."""
ANALYSIS_BODY_LIMIT = MAX_CSV_BYTES + FIELDS_ALLOWANCE


class ChurnForm(BaseModel):
    """``POST /api/v1/churn/analysis``'s multipart form (documentation: the route reads the
    form itself, to bound the upload while it streams in)."""

    csv_file: bytes = Field(
        json_schema_extra={"format": "binary"},
        description="UTF-8 CSV with a header row: transactions (customer_id, date, amount) "
        "or customers (customer_id, recency_days, frequency, monetary, churned[, "
        f"tenure_days]); at most {MAX_CSV_BYTES // 2**20} MiB.",
    )
    max_discount_fraction: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Largest discount as a share of a customer's spend.",
    )


class _Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class ChurnModelInfo(_Answer):
    type: str
    training_customers: int
    training_churn_rate: float
    training_auc: float


class ChurnSummary(_Answer):
    input_shape: Literal["transactions", "customers"]
    n_customers: int
    horizon_days: int | None = Field(description="Churn horizon (transactions uploads).")
    average_churn_risk: float
    high_risk_customers: int
    total_spend: float
    expected_revenue_at_risk: float
    total_suggested_discount: float
    max_discount_fraction: float
    features: list[str]
    model: ChurnModelInfo
    analyzed_at: str


class ChurnCustomer(_Answer):
    """One customer; also one number per feature the model used (``summary.features``)."""

    model_config = ConfigDict(extra="allow")

    customer_id: str
    spend: float
    churn_risk: float
    risk_band: Literal["high", "medium", "low"]
    expected_loss: float
    suggested_discount: float
    suggested_discount_fraction: float


class ChurnAnalysis(_Answer):
    message: str
    summary: ChurnSummary
    customers: list[ChurnCustomer] = Field(description="Largest expected loss first.")


class ChurnInsights(_Answer):
    has_results: bool
    summary: ChurnSummary | None
    customers: list[ChurnCustomer]
    message: str | None = None


_ANALYSIS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": ChurnForm.model_json_schema()}},
    }
}


def churn_router(store: StateStore, guards: Guards) -> APIRouter:
    router = APIRouter(
        prefix="/churn",
        tags=["churn"],
        route_class=JsonLimitedRoute,
        max_body_size=MAX_JSON_BODY_BYTES,
    )
    analyses = ChurnAnalyses(store)

    @router.post(
        "/analysis",
        openapi_extra=_ANALYSIS_BODY,
        responses=error_responses(400, 401, 413, 422),
        max_body_size=ANALYSIS_BODY_LIMIT,
    )
    async def analysis(request: Request, user: User = Depends(guards.user)) -> ChurnAnalysis:
        """Multipart: ``csv_file`` and ``max_discount_fraction`` (default 0.2). The latest
        analysis is kept per account for ``GET /api/v1/churn/insights``."""
        form = await read_form(
            request, limit=ANALYSIS_BODY_LIMIT, max_files=1, max_part_size=MAX_CSV_BYTES
        )
        upload = form.get("csv_file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("csv_file is required: attach the customer CSV as a file")
        fraction = float_query(form_text(form, "max_discount_fraction"), "max_discount_fraction")
        content = await upload.read()
        answer = await analyses.analyze(user.id, content, 0.2 if fraction is None else fraction)
        return ChurnAnalysis.model_validate(answer)

    @router.get("/insights", responses=error_responses(401, 422))
    async def insights(
        user: User = Depends(guards.user),
        limit: Annotated[
            int, Query(ge=1, le=MAX_CUSTOMERS, description="Customers, largest loss first.")
        ] = 1000,
    ) -> ChurnInsights:
        """The caller's latest analysis (``has_results: false`` before the first)."""
        return ChurnInsights.model_validate(await analyses.insights(user.id, limit))

    return router
