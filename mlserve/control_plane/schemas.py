"""Request and response bodies of the plain predict API (``/predict``, ``/batch-predict``).

The request models document what the routes accept (they parse bodies themselves, see
:mod:`mlserve.control_plane.routes.predict_body`: a flat record's feature keys cannot be
declared in advance); the response models are what the routes answer, checked in tests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Features = dict[str, Any] | list[list[Any]] | list[dict[str, Any]]
Action = str | int | float


class CausalDecision(BaseModel):
    """A causal model's answer for one row (:mod:`mlserve.kinds.causal`)."""

    next_best_action: Action = Field(
        description="The action with the best predicted outcome (highest, or lowest when the "
        "model's objective is min)."
    )
    baseline_action: Action = Field(description="The action effects are measured against.")
    outcomes: dict[str, float] = Field(
        description="Predicted outcome under each action, keyed by the action as text."
    )
    effects: dict[str, float] = Field(
        description="Each action's outcome minus the baseline action's, keyed likewise."
    )


class _Routing(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model_version: str | None = Field(
        default=None,
        description="`<name>` (its default version), `<name>-v<N>`, or `v<N>` (version N of "
        "the default model); the default model when omitted.",
        examples=["sentiment-v2"],
    )
    model: str | None = Field(default=None, description="Alias of `model_version`.")
    version: int | None = Field(
        default=None, ge=1, description="Version number; routing decides when omitted."
    )
    timeout_ms: float | None = Field(
        default=None, description="Deadline for this request in ms (default and cap: config)."
    )
    entity_id: str | None = Field(
        default=None,
        description="Sticky A/B routing: the same entity always gets the same version "
        "(also the `X-Entity-ID` header).",
    )


class RankedCandidate(BaseModel):
    """One candidate of a recommender's answer, best first."""

    id: str | int = Field(description="The candidate's id, as sent.")
    score: float = Field(description="The estimator's score (probability of engagement).")
    rank: int = Field(ge=1, description="1 for the best candidate.")
    cached: bool = False


class PredictRequest(_Routing):
    """One input: a text for text models, a record for tabular, causal and custom models
    (by name in `features`, positionally in `features`, or as flat keys beside `model`),
    or one user's `candidates` for a recommender."""

    text: str | None = Field(default=None, description="The text to classify.")
    features: Features | None = Field(
        default=None,
        description="A record `{name: value}`, or rows in the model's feature order.",
        examples=[
            {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
        ],
    )
    user: dict[str, Any] | None = Field(
        default=None, description="Recommenders: the user's features.", examples=[{"age": 31}]
    )
    candidates: list[dict[str, Any]] | None = Field(
        default=None,
        description="Recommenders: the items to rank, each with its id and item features.",
        examples=[[{"id": "a", "price": 9.5}, {"id": "b", "price": 120.0}]],
    )
    top_k: int | None = Field(
        default=None, ge=1, description="Recommenders: how many candidates to answer."
    )


class BatchPredictRequest(_Routing):
    """Several inputs for one model version, sent to Triton together."""

    texts: list[str] | None = Field(default=None, description="Texts to classify, in order.")
    features: Features | None = Field(default=None, description="Records or rows, in order.")
    records: list[dict[str, Any]] | None = Field(default=None, description="Records, in order.")


class Prediction(BaseModel):
    """One input's answer."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(description="The predicted class (anomaly: inlier/outlier).")
    confidence: float | None = Field(description="The predicted class's probability.")
    probabilities: dict[str, float] | None = Field(description="Every class's probability.")
    prediction: Any = Field(
        default=None,
        description="The answer as a value: the class (numbers as numbers), the regression "
        "value(s), or 1/-1 for anomaly detectors.",
    )
    score: float | None = Field(
        default=None,
        description="Anomaly detectors only: the detector's decision_function (negative = "
        "outlier, lower = more anomalous; label 'outlier' exactly when below 0); absent "
        "otherwise.",
    )
    truncated: bool = False
    cached: bool = False
    next_best_action: Action | None = Field(
        default=None, description="Causal models: the best action (also `prediction`)."
    )
    baseline_action: Action | None = Field(
        default=None, description="Causal models: the action effects are measured against."
    )
    outcomes: dict[str, float] | None = Field(
        default=None, description="Causal models: predicted outcome under each action."
    )
    effects: dict[str, float] | None = Field(
        default=None, description="Causal models: each action's outcome minus the baseline's."
    )


class _Served(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str = Field(description="The version that answered, as `<name>-v<N>`.")
    model: str
    version: str
    routed_by: Literal["explicit", "alias", "experiment", "ab", "sticky", "default"] = Field(
        description="Why this version answered."
    )
    preprocess_ms: float = Field(description="Validation, cleaning and tensor building.")
    queue_ms: float = Field(description="Waiting for a shared Triton call.")
    triton_ms: float | None = Field(description="Triton round trip; null when all cached.")


class PredictResponse(Prediction, _Served):
    """``/predict``'s answer: the prediction, who made it, and how long it took."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    latency_ms: float


class RankingResponse(_Served):
    """``/predict``'s answer for a recommender: the candidates by score, best first."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    ranking: list[RankedCandidate] = Field(description="The first `top_k` candidates.")
    candidates: int = Field(description="How many candidates were scored.")
    latency_ms: float


class BatchPredictResponse(_Served):
    """``/batch-predict``'s answer (and ``/predict``'s for several rows), in input order."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    predictions: list[Prediction]
    total_latency_ms: float
