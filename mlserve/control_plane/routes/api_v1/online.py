"""Online (RL policy) models: configure, choose actions, learn from feedback, metrics.

The routes the 0.4.0 client's ``configure_online_model``, ``online_predict``,
``online_feedback`` and ``get_rl_metrics`` call; logic in :mod:`mlserve.platform.policies`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.requests import Request

from mlserve.control_plane.routes.api_v1.guards import Guards
from mlserve.control_plane.routes.api_v1.http_input import (
    form_text,
    int_query,
    read_form,
    read_json,
)
from mlserve.platform.auth import User
from mlserve.platform.policies.rl_metrics import MAX_WINDOW_HOURS
from mlserve.platform.policies.service import OnlinePolicyService

_FORM_LIMIT = 256 * 1024
_BODY_LIMIT = 8 * 1024 * 1024


class PolicyInfo(BaseModel):
    policy_id: int
    type: str
    model_config = {"extra": "allow"}


class OnlineModelConfigured(BaseModel):
    deployment_id: int
    model: str
    version: str
    task_type: str
    status: str
    actions: list[str]
    features: list[str]
    policies: list[PolicyInfo]
    predict_url: str
    feedback_url: str
    metrics_url: str


class OnlineChoice(BaseModel):
    action: str
    action_index: int
    policy_id: int
    policy: str
    mode: Literal["explore", "exploit"]
    epsilon: float


class OnlinePredictResponse(BaseModel):
    model: str
    version: str
    predictions: list[OnlineChoice]
    prediction_ids: list[str]
    learned_from: int


class PolicyFeedbackSummary(BaseModel):
    n: int
    avg_reward: float


class OnlineFeedbackResponse(BaseModel):
    model: str
    version: str
    accepted: int
    avg_reward: float
    per_policy: dict[str, PolicyFeedbackSummary]
    learned_from: int
    message: str


class RLMetricsResponse(BaseModel):
    model: str
    version: str
    window_hours: int
    granularity: str
    n_predictions: int
    n_feedback: int
    metrics: dict[str, Any]
    series: dict[str, list[dict[str, Any]]]


def online_router(online: OnlinePolicyService, guards: Guards) -> APIRouter:
    router = APIRouter(tags=["online policies"])

    @router.post("/model_config", response_model=OnlineModelConfigured)
    async def configure(request: Request, admin: User = Depends(guards.admin)) -> dict[str, Any]:
        """Form fields ``name``, ``version``, ``task_type`` (``policy_next``) and
        ``feature_contract`` (JSON: features, actions, optional policies)."""
        form = await read_form(request, limit=_FORM_LIMIT, max_files=0)
        return await online.configure(
            str(form_text(form, "name", required=True)),
            str(form_text(form, "version", required=True)),
            form_text(form, "task_type"),
            form_text(form, "feature_contract", required=True),
            admin.username,
        )

    @router.post("/online_predict/{name}/{version}", response_model=OnlinePredictResponse)
    async def predict(
        name: str, version: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        body = await read_json(request, '{"inputs": [{"age": 30}]}', limit=_BODY_LIMIT)
        return await online.predict(name, version, body)

    @router.post("/online_feedback/{name}/{version}", response_model=OnlineFeedbackResponse)
    async def feedback(
        name: str, version: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        example = '{"feedback": [{"features": {}, "action": "a", "reward": 1, "policy_id": 0}]}'
        body = await read_json(request, example, limit=_BODY_LIMIT)
        return await online.feedback(name, version, body)

    @router.get("/metrics/rl/{name}/{version}", response_model=RLMetricsResponse)
    async def rl_metrics(
        name: str, version: str, request: Request, user: User = Depends(guards.user)
    ) -> dict[str, Any]:
        query = request.query_params
        hours = int_query(query.get("window_hours"), "window_hours", 168, 1, MAX_WINDOW_HOURS)
        return await online.metrics(name, version, hours, query.get("granularity") or "hour")

    return router
