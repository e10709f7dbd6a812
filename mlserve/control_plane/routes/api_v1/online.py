"""Online (RL policy) models: configure, choose actions, learn from feedback, metrics.

The routes the 0.4.0 client's ``configure_online_model``, ``online_predict``,
``online_feedback`` and ``get_rl_metrics`` call; logic in :mod:`mlserve.platform.policies`.

``online_predict`` carries the traffic, so :func:`online_predict_answer` answers it ahead of
FastAPI as a hot route (:mod:`mlserve.control_plane.hot_routes`: no middleware stack, route
match or request/response models, ~0.5 ms of CPU less per call); the FastAPI route below
documents it in OpenAPI and answers the same way where no hot route is installed.

The request models document what the service accepts; the service checks every row against
the model's feature contract itself (rows, feature values, actions, policy ids, rewards), so
its errors name the row and field (``feedback[1].reward must be a number``) and a rejected
batch changes nothing. Their fields are therefore loose for pydantic (``Any`` where the
service decides) while the OpenAPI schema says what the service takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Form, Path, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from mlserve.control_plane.errors import error_responses
from mlserve.control_plane.json_limits import (
    MAX_JSON_BODY_BYTES,
    JsonLimitedRoute,
    check_json_depth,
)
from mlserve.control_plane.routes.api_v1.guards import Guards, bearer_value
from mlserve.errors import BadRequestError, InvalidInputError, NotFoundError, PayloadTooLargeError
from mlserve.platform.auth import User, UserService
from mlserve.platform.policies.contract import TASK_TYPES
from mlserve.platform.policies.rl_metrics import GRANULARITIES, MAX_WINDOW_HOURS
from mlserve.platform.policies.service import MAX_ROWS, OnlinePolicyService

FORM_LIMIT = 256 * 1024
"""Largest ``model_config`` form (the feature contract is a few KB)."""
BODY_LIMIT = 8 * 1024 * 1024
"""Largest ``online_predict``/``online_feedback`` body: ``MAX_ROWS`` rows of features."""

ModelName = Annotated[str, Path(description="The online model's name, e.g. promo-policy.")]
VersionLabel = Annotated[str, Path(description="``v<N>`` or ``<N>``.", examples=["v1"])]

_FEATURES = {
    "type": "object",
    "additionalProperties": {"type": "number"},
    "description": "One number per feature of the contract (all of them, no others).",
    "examples": [{"age": 30, "income": 52000.0, "loyalty_score": 0.4}],
}
Features = Annotated[dict[str, Any], WithJsonSchema(_FEATURES)]
"""A row of features; the service checks names and values against the contract."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


# -- requests ------------------------------------------------------------------------------


class OnlinePredictRequest(_Request):
    inputs: list[Features] = Field(
        json_schema_extra={"minItems": 1, "maxItems": MAX_ROWS},
        description=f"1-{MAX_ROWS} rows; one choice is answered per row.",
    )


class OnlineFeedbackRow(BaseModel):
    """One observed reward for a choice ``online_predict`` answered (extra keys such as
    ``metadata`` are accepted and not stored)."""

    model_config = ConfigDict(extra="allow")

    features: Features
    action: Annotated[
        Any,
        WithJsonSchema(
            {
                "anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}],
                "description": "The action taken: its name or its 0-based index.",
            }
        ),
    ]
    reward: Annotated[Any, WithJsonSchema({"type": "number", "description": "A finite number."})]
    policy_id: Annotated[
        Any,
        WithJsonSchema(
            {
                "type": "integer",
                "minimum": 0,
                "description": "The policy that chose the action (as online_predict answered).",
            }
        ),
    ]
    metadata: dict[str, Any] | None = None


class OnlineFeedbackRequest(_Request):
    feedback: list[OnlineFeedbackRow] = Field(
        json_schema_extra={"minItems": 1, "maxItems": MAX_ROWS},
        description=f"1-{MAX_ROWS} rows, accepted or refused as a whole.",
    )


# -- answers -------------------------------------------------------------------------------


class PolicyInfo(_Answer):
    """A policy of the model and its parameters (those of its ``type``)."""

    policy_id: int
    type: Literal["epsilon_greedy", "linucb", "thompson"]
    epsilon: float | None = None
    decay: float | None = None
    min_epsilon: float | None = None
    alpha: float | None = None
    scale: float | None = None


class OnlineModelConfigured(_Answer):
    deployment_id: int
    model: str
    version: str
    task_type: str
    status: str = Field(description='"configured" or "already configured with this contract".')
    actions: list[str]
    features: list[str]
    policies: list[PolicyInfo]
    predict_url: str
    feedback_url: str
    metrics_url: str


class OnlineChoice(_Answer):
    action: str
    action_index: int
    policy_id: int
    policy: str
    mode: Literal["explore", "exploit"]
    epsilon: float


class OnlinePredictAnswer(_Answer):
    model: str
    version: str
    predictions: list[OnlineChoice]
    prediction_ids: list[str]
    learned_from: int = Field(description="Feedback rows the policies have learned from.")


class PolicyFeedbackSummary(_Answer):
    n: int
    avg_reward: float


class OnlineFeedbackAnswer(_Answer):
    model: str
    version: str
    accepted: int
    avg_reward: float
    per_policy: dict[str, PolicyFeedbackSummary] = Field(description="Keyed by policy id.")
    learned_from: int
    message: str


class PolicyMetrics(_Answer):
    policy_id: int
    policy: str
    pulls: int
    explorations: int
    exploration_share: float | None
    epsilon_mean: float | None
    n_feedback: int
    reward_mean: float | None
    reward_std: float | None
    cumulative_reward: float = Field(description="All time, not only the window.")
    windowed_reward_mean: float | None = Field(
        description="Mean of the policy's last ~100 feedback rows."
    )


class RLSummary(_Answer):
    reward_mean: float | None
    reward_std: float | None
    cumulative_reward: float
    epsilon_mean: float | None
    exploration_share: float | None
    policies: list[PolicyMetrics]


class EpsilonPoint(_Answer):
    t: str
    epsilon_mean: float


class RewardPoint(_Answer):
    t: str
    reward_mean: float
    n: int


class SelectionPoint(_Answer):
    t: str
    counts: dict[str, int] = Field(description="Pulls per policy id.")


class PolicyRewardSeries(_Answer):
    policy_id: int
    series: list[RewardPoint]


class RLSeries(_Answer):
    epsilon: list[EpsilonPoint]
    reward: list[RewardPoint]
    policy_selection: list[SelectionPoint]
    policy_rewards: list[PolicyRewardSeries]


class RLMetricsAnswer(_Answer):
    model: str
    version: str
    window_hours: int
    granularity: str
    n_predictions: int
    n_feedback: int
    metrics: RLSummary
    series: RLSeries


def online_router(online: OnlinePolicyService, guards: Guards) -> APIRouter:
    router = APIRouter(
        tags=["online policies"], route_class=JsonLimitedRoute, max_body_size=MAX_JSON_BODY_BYTES
    )
    on_model = error_responses(400, 401, 404, 413, 422)

    @router.post(
        "/model_config",
        responses=error_responses(400, 401, 403, 409, 413, 422),
        response_model_exclude_unset=True,
        max_body_size=FORM_LIMIT,
    )
    async def configure(
        name: Annotated[str, Form(description="The model's name.", examples=["promo-policy"])],
        version: Annotated[str, Form(description="``v<N>``.", examples=["v1"])],
        task_type: Annotated[
            str,
            Form(
                description="The kind of online model.",
                json_schema_extra={"enum": list(TASK_TYPES)},
            ),
        ],
        feature_contract: Annotated[
            str,
            Form(
                description="JSON: ``features`` (continuous), ``actions`` and optionally "
                "``policies`` (default: epsilon_greedy, linucb and thompson side by side).",
                examples=[
                    '{"features": [{"name": "age", "type": "continuous"}], '
                    '"actions": ["show_discount", "no_action"]}'
                ],
            ),
        ],
        admin: User = Depends(guards.admin),
    ) -> OnlineModelConfigured:
        """Configure an online policy model (form-encoded). The same contract again is a
        no-op; another contract for an existing version is a 409."""
        check_json_depth(feature_contract.encode())
        answer = await online.configure(name, version, task_type, feature_contract, admin.username)
        return OnlineModelConfigured.model_validate(answer)

    @router.post("/online_predict/{name}/{version}", responses=on_model, max_body_size=BODY_LIMIT)
    async def predict(
        name: ModelName,
        version: VersionLabel,
        body: Annotated[OnlinePredictRequest, Body()],
        user: User = Depends(guards.user),
    ) -> OnlinePredictAnswer:
        """Choose an action per row (each row served by one of the model's policies)."""
        answer = await online.predict(name, version, body.model_dump())
        return OnlinePredictAnswer.model_validate(answer)

    @router.post("/online_feedback/{name}/{version}", responses=on_model, max_body_size=BODY_LIMIT)
    async def feedback(
        name: ModelName,
        version: VersionLabel,
        body: Annotated[OnlineFeedbackRequest, Body()],
        user: User = Depends(guards.user),
    ) -> OnlineFeedbackAnswer:
        """Learn from rewards; a batch with any bad row is refused whole (422 naming it)."""
        answer = await online.feedback(name, version, body.model_dump())
        return OnlineFeedbackAnswer.model_validate(answer)

    @router.get("/metrics/rl/{name}/{version}", responses=error_responses(401, 404, 422))
    async def rl_metrics(
        name: ModelName,
        version: VersionLabel,
        user: User = Depends(guards.user),
        window_hours: Annotated[int, Query(ge=1, le=MAX_WINDOW_HOURS)] = 168,
        granularity: Annotated[
            str,
            Query(
                description="Time bucket of the series.",
                json_schema_extra={"enum": list(GRANULARITIES)},
            ),
        ] = "hour",
    ) -> RLMetricsAnswer:
        """Rewards, exploration and policy selection over the window, per policy."""
        answer = await online.metrics(name, version, window_hours, granularity)
        return RLMetricsAnswer.model_validate(answer)

    return router


PREDICT_PREFIX = "/api/v1/online_predict/"
_PREDICT_EXAMPLE = '{"inputs": [{"age": 30, "income": 52000.0, "loyalty_score": 0.4}]}'


async def online_predict_answer(
    online: OnlinePolicyService,
    users: UserService,
    path: str,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]],
) -> dict[str, Any]:
    """``POST /api/v1/online_predict/{name}/{version}`` as a hot route: the same token
    check (401), body rules (400 not JSON, 413 over ``BODY_LIMIT``, 422 unknown fields or
    bad rows) and answer as the FastAPI route."""
    token = None
    for key, value in headers:
        if key == b"authorization":
            token = bearer_value(value.decode("latin-1"))
            break
    await users.user_for_token(token)
    name, _, version = path.removeprefix(PREDICT_PREFIX).partition("/")
    if not name or not version or "/" in version:
        raise NotFoundError(
            f"no route {path}: online predictions are POST "
            "/api/v1/online_predict/{name}/{version}, e.g. /api/v1/online_predict/promo/v1"
        )
    if len(body) > BODY_LIMIT:
        raise PayloadTooLargeError(
            f"request body is {len(body)} bytes, over the {BODY_LIMIT} limit: send at most "
            f"{MAX_ROWS} rows per call"
        )
    if not body.strip():
        raise BadRequestError(f"request body is empty: send JSON like {_PREDICT_EXAMPLE}")
    check_json_depth(body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(
            f"request body is not valid JSON ({exc}); send e.g. {_PREDICT_EXAMPLE}"
        ) from None
    if isinstance(document, dict) and set(document) - {"inputs"}:
        unknown = ", ".join(sorted(set(document) - {"inputs"}))
        raise InvalidInputError(
            f"unknown field(s) {unknown}: the body holds only 'inputs', e.g. {_PREDICT_EXAMPLE}"
        )
    return await online.predict(name, version, document)
