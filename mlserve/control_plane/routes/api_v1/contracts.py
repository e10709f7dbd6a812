"""Request and response bodies of the ``/api/v1`` routes (``mlserve-sdk`` 0.4.0's shapes).

Field names are the SDK's: it reads ``access_token``, ``tier``, ``role``, ``versions``,
``metrics``, ``timeseries``, ``missingness``/``drift``/``outliers``, ``status`` and the rest
by name, so a field is only ever added here, never renamed. Optional fields a route leaves
out stay out of its answer (the routes use ``response_model_exclude_unset``): the SDK tests
``"metrics" in answer``. Domain rules (password length, known versions, URL safety) stay in
:mod:`mlserve.platform`; the limits repeated here are the same constants, for OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlserve.control_plane.schemas import CausalDecision, RankedCandidate
from mlserve.platform.abtest import MAX_VERSIONS_IN_TEST
from mlserve.platform.auth import MAX_NAME_LENGTH, MAX_PASSWORD_LENGTH, Role
from mlserve.platform.deployments import DeploymentStatus
from mlserve.platform.feedback import MAX_FEEDBACK_ITEMS
from mlserve.platform.webhooks import MAX_SECRET_LENGTH, DeliveryStatus

MAX_EMAIL_LENGTH = 254
MAX_URL_LENGTH = 2048
MAX_PREDICTION_ID_LENGTH = 256


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


# -- accounts ------------------------------------------------------------------------------


class TokenAnswer(_Answer):
    """``POST /api/v1/token``: a bearer token for ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")
    username: str
    role: Role


class MessageAnswer(_Answer):
    message: str


class RegisterRequest(_Request):
    """Self-service sign-up; the account stays inactive until an admin activates it."""

    full_name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, examples=["Ada"])
    email: str = Field(min_length=3, max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RegisterAnswer(_Answer):
    message: str
    user_id: int
    username: str
    active: bool
    email_sent: bool = Field(
        default=False, description="A verification link was mailed (SMTP configured)."
    )


class InviteRequest(_Request):
    email: str = Field(min_length=3, max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])


class InviteAnswer(_Answer):
    detail: str
    message: str
    user_id: int
    invited_by: int
    email_sent: bool = Field(
        default=False, description="An invitation link was mailed (SMTP configured)."
    )


class UserView(_Answer):
    """An account as the API shows it (never the password hash)."""

    id: int
    user_id: int = Field(description="Same as ``id`` (the SDK reads this name).")
    username: str
    email: str | None = None
    full_name: str | None = None
    role: Role
    active: bool
    deleted: bool
    invited: bool
    created_at: str


class RoleRequest(_Request):
    role: Role


class UserChangeAnswer(_Answer):
    message: str
    user: UserView


class RoleAnswer(_Answer):
    role: Role
    username: str
    user_id: int


class TierAnswer(_Answer):
    tier: str
    username: str


# -- models --------------------------------------------------------------------------------


class DeployForm(BaseModel):
    """``POST /api/v1/deploy``'s multipart form (documentation: the route reads the form
    itself, to bound the upload while it streams in)."""

    model_config = ConfigDict(protected_namespaces=())

    model_file: bytes = Field(
        json_schema_extra={"format": "binary"},
        description="The model: a joblib/pickle file (screened before anything runs).",
    )
    name: str = Field(examples=["churn"])
    version: str = Field(examples=["v1"], description="``v<N>``; GET .../latest says the next.")
    features: str | None = Field(default=None, description='JSON list, e.g. ["age", "income"]')
    background_data: str | None = Field(default=None, description="JSON records (drift base).")
    metrics: str | None = Field(default=None, description='JSON object, e.g. {"auc": 0.91}')
    task_type: str | None = Field(
        default=None,
        description="classification, regression, causal or recommender (with task_options), "
        'or a decision task\'s options as JSON: {"task": "causal", "action": "offer", '
        '"actions": [0, 1], "baseline": 0, "objective": "max"} / {"task": "recommender", '
        '"user_features": [...], "item_features": [...], "item_id": "id"}',
        examples=["classification"],
    )
    task_options: str | None = Field(
        default=None,
        description="JSON options of task_type causal or recommender (see task_type).",
    )
    requirements_file: bytes | None = Field(
        default=None,
        json_schema_extra={"format": "binary"},
        description="Accepted and ignored: models run as ONNX.",
    )


class DeployAnswer(_Answer):
    deployment_id: int
    id: int
    model: str
    version: str
    status: DeploymentStatus
    message: str
    notes: list[str]
    model_uri: str | None = None
    """The MLflow URI imported (a ``model_uri`` deploy only; null for a file upload)."""


class DeploymentView(_Answer):
    id: int
    deployment_id: int
    model_name: str
    version: str
    status: DeploymentStatus
    error: str | None = None
    created_by: str | None = None
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None
    logs: list[str]


class ModelSummary(_Answer):
    name: str
    versions: list[str]
    active_versions: list[str]
    latest_version: str
    task_type: str
    deployed_at: str


class LatestVersion(_Answer):
    """Unknown models answer ``latest_version: null, next_version: "v1"``."""

    model: str
    latest_version: str | None
    version: str | None
    next_version: str
    deployed_at: str | None
    active: bool | None
    deploying: list[str]


class VersionView(_Answer):
    version: str
    weight: float = Field(description="Share of weighted traffic as routing applies it now.")
    internal_url: str
    url: str
    active: bool
    deployed_at: str
    features: list[str]
    model_metadata: dict[str, Any]
    metrics: dict[str, float]
    task_type: str


class EvolutionRow(_Answer):
    version: str
    deployed_at: str
    metrics: dict[str, float]
    deltas: dict[str, float]


class Evolution(_Answer):
    model: str
    versions: list[EvolutionRow]


class LifecycleAnswer(_Answer):
    model: str
    version: str
    status: Literal["stopped", "removed", "started"]
    message: str | None = None


# -- operations ----------------------------------------------------------------------------

Weights = Annotated[
    dict[str, Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]],
    Field(min_length=1, max_length=MAX_VERSIONS_IN_TEST, examples=[{"v1": 0.7, "v2": 0.3}]),
]
"""A/B weights per version label; shares are ``weight / sum``."""


class ABTestAnswer(_Answer):
    model: str
    weights: dict[str, float]
    fingerprint: str
    updated_at: str
    updated_by: str | None = None
    shares: dict[str, float]


class ABTestRow(_Answer):
    model: str
    version: str
    weight: float
    share: float
    fingerprint: str
    updated_at: str
    updated_by: str | None = None


class WebhookRequest(_Request):
    """The caller's one webhook; omit ``secret`` for unsigned deliveries."""

    url: str = Field(max_length=MAX_URL_LENGTH, examples=["https://example.com/hook"])
    secret: str | None = Field(default=None, max_length=MAX_SECRET_LENGTH)
    is_active: bool = True


class WebhookView(_Answer):
    """The caller's webhook (``url: null`` when none); never the secret."""

    url: str | None
    is_active: bool
    user_id: int | None = None
    has_secret: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None
    message: str | None = None


class DeliveryView(_Answer):
    id: str
    user_id: int
    url: str
    event: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: float | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: str
    updated_at: str
    delivered_at: str | None = None
    payload: Any = Field(description="The JSON document delivered (and signed).")


class FeedbackItem(_Request):
    prediction_id: str = Field(min_length=1, max_length=MAX_PREDICTION_ID_LENGTH)
    true_value: Any = Field(description="The observed outcome (label or number).")
    reward: Annotated[float, Field(strict=True, allow_inf_nan=False)] | None = None
    metadata: dict[str, Any] | None = None


class FeedbackRequest(_Request):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=MAX_FEEDBACK_ITEMS)


class FeedbackAnswer(_Answer):
    received: int
    accepted: int
    unknown_prediction_ids: list[str]
    message: str


class OnlineMetrics(_Answer):
    """``metrics`` is absent when no prediction is in the window."""

    model: str
    version: str
    window_hours: float
    n: int
    n_supervised: int
    task_type: str | None = None
    metrics: dict[str, float] | None = None
    computed_at: str | None = None
    message: str | None = None


class UsageHour(_Answer):
    timestamp: str
    requests: int
    predictions: int
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    latency_ms_p99: float | None
    latency_ms_mean: float | None
    throughput_per_s: float


class Usage(_Answer):
    model: str
    version: str
    hours: int
    total_requests: int
    total_predictions: int
    timeseries: list[UsageHour]


class AnomalyScoreSummary(_Answer):
    mean: float
    p05: float
    p50: float
    p95: float
    min: float
    max: float


class AnomalyQuality(_Answer):
    """Anomaly detectors only: the window's scores. The score is the detector's
    ``decision_function``: negative = outlier, lower = more anomalous."""

    n: int = Field(description="Predictions with a score in the window.")
    direction: str
    outlier_share: float | None = Field(
        default=None, description="Share of the window's rows with a negative score."
    )
    score: AnomalyScoreSummary | None = None
    has_reference: bool | None = None
    reference_outlier_share: float | None = Field(
        default=None, description="Outlier share on the deploy's background data."
    )
    score_psi: float | None = Field(
        default=None, description="PSI of live scores over deciles of the reference scores."
    )
    status: Literal["stable", "moderate", "drifted"] | None = None


class DataQuality(_Answer):
    """``message`` alone (no ``n``) when nothing was logged in the window."""

    model: str
    version: str
    hours: int
    n: int | None = None
    has_reference: bool | None = None
    missingness: list[dict[str, Any]] | None = None
    drift: list[dict[str, Any]] | None = None
    outliers: list[dict[str, Any]] | None = None
    anomaly: AnomalyQuality | None = None
    message: str | None = None


# -- predictions ---------------------------------------------------------------------------


class PredictRecordsRequest(BaseModel):
    """``/api/v1/predict``'s body (the route parses it itself, naming each bad field)."""

    inputs: list[dict[str, Any] | str] | None = Field(
        default=None,
        description="Records of feature: value (tabular, causal and custom models), or texts "
        "(text models). Required, except in a recommender's ranking request.",
        examples=[[{"age": 31, "income": 4.2}]],
    )
    user: dict[str, Any] | None = Field(
        default=None, description="Recommenders (instead of inputs): the user's features."
    )
    candidates: list[dict[str, Any]] | None = Field(
        default=None,
        description="Recommenders: the items to rank, each with its id and item features.",
    )
    top_k: int | None = Field(
        default=None, ge=1, description="Recommenders: how many candidates to answer."
    )
    entity_ids: list[str | int] | None = Field(
        default=None, description="One per input: sticky A/B routing and materialization keys."
    )
    materialize: bool = Field(
        default=False, description="Store per entity instead of answering the predictions."
    )
    explain: bool = Field(default=False, description="Not supported (422 when true).")
    fs_url: str | None = Field(default=None, description="Not supported (422 when set).")
    fs_entity_name: str | None = Field(default=None, description="Only with fs_url; ignored.")


class PredictRecordsAnswer(_Answer):
    """The predictions, with the version per input and ids for feedback (or, with
    ``materialize``, the acknowledgement of what was stored)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: str | None = None
    version: str | None = None
    versions: list[str] | None = None
    predictions: list[Any] | None = None
    probabilities: list[dict[str, float] | None] | None = None
    scores: list[float | None] | None = Field(
        default=None,
        description="Anomaly detectors only, one per input: the detector's decision_function "
        "(negative = outlier, lower = more anomalous; the prediction is -1 exactly when the "
        "score is below 0).",
    )
    prediction_ids: list[str] | None = None
    routed_by: str | None = None
    latency_ms: float | None = None
    decisions: list[CausalDecision] | None = Field(
        default=None,
        description="Causal models, per input: outcomes and effects per action and the next "
        "best action (which is also the input's prediction).",
    )
    ranking: list[RankedCandidate] | None = Field(
        default=None,
        description="Recommenders: the candidates by score, best first (predictions holds "
        "their ids, scores their scores).",
    )
