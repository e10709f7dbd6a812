"""Response bodies of the plain status routes: health, readiness, models, monitoring.

Nested reports whose fields belong to the monitoring package (drift signals, per-version
overview rows) are typed as JSON objects here; the top-level shape is the contract.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class HealthAnswer(BaseModel):
    """``GET /health``: the process runs; whether Triton and the cache are reachable."""

    status: Literal["ok", "degraded"]
    triton: Literal["ready", "unavailable"]
    cache: Literal["available", "unavailable"]


class ReadyAnswer(BaseModel):
    """``GET /ready`` when ready: the default model and its loaded versions."""

    status: Literal["ready"]
    model: str | None = Field(description="The default model; null when none is published.")
    versions: list[int]


class PublishedVersion(BaseModel):
    """One published version of a model and its serving state."""

    version: str = Field(examples=["v1"])
    framework: str
    task: str
    input_kind: str
    labels: list[str]
    metrics: dict[str, float]
    published_at: str
    enabled: bool
    state: str = Field(description="Triton's state: READY, UNAVAILABLE, ... or unknown.")
    parity: bool | None = Field(description="Whether the ONNX export matched the original.")
    stage: Literal["None", "Staging", "Production", "Archived"] = Field(
        default="None", description="The release stage (POST /models/{name}/promote)."
    )
    aliases: list[str] = Field(default_factory=list, description="e.g. champion.")
    gate: dict[str, Any] | None = Field(
        default=None,
        description="The release gate's report (both versions' metrics, recall per class, "
        "the decision), when the version was judged.",
    )


class PublishedModel(BaseModel):
    """``GET /models/{name}``: one model's versions."""

    name: str
    versions: list[PublishedVersion]


class PublishedModels(BaseModel):
    """``GET /models``."""

    models: list[PublishedModel]


class DriftAnswer(BaseModel):
    """``GET /monitoring/drift/{model}``: one drift report per version, per signal."""

    model: str
    versions: list[dict[str, Any]]


class AlertView(BaseModel):
    """One condition worth a look."""

    kind: str
    severity: Literal["warning", "critical"]
    model: str
    version: int | None
    message: str
    value: float | None = None
    threshold: float | None = None


class AlertsAnswer(BaseModel):
    """``GET /monitoring/alerts``: alerts firing now."""

    alerts: list[AlertView]


class FeatureSummary(BaseModel):
    mean: float | None
    std: float | None
    missing_share: float


class FeatureWindow(BaseModel):
    """One version's last records: per feature summaries and predicted label counts."""

    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    rows: int
    features: dict[str, FeatureSummary]
    predictions: dict[str, int]


class BasicMonitor(BaseModel):
    """Seed S3's ``/monitor/basic``."""

    window_rows: int = Field(description="Records kept per version.")
    versions: list[FeatureWindow]


class StatsAnswer(BaseModel):
    """``GET /monitoring/stats``: what ``mlserve stats`` shows."""

    model_config = ConfigDict(extra="allow")

    horizon_seconds: float
    versions: list[dict[str, Any]]
    serving: list[dict[str, Any]]
    triton: list[dict[str, Any]]
    performance: list[dict[str, Any]]
    drift: list[dict[str, Any]]
    alerts: list[AlertView]
    features: list[FeatureWindow] = Field(
        default_factory=list, description="Tabular and custom models' recent records."
    )
