"""Request and response bodies of the plain predict API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    """One text to classify."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    text: str = Field(description="The text to classify.")
    model_version: str | None = Field(
        default=None,
        description="`<name>` (its newest ready version) or `<name>-v<N>`; the default "
        "model when omitted.",
    )
    model: str | None = Field(default=None, description="Alias of `model_version`.")
    version: int | None = Field(
        default=None, ge=1, description="Version number; newest ready version when omitted."
    )
    timeout_ms: float | None = Field(
        default=None, description="Deadline for this request in ms (default and cap: config)."
    )


class BatchPredictRequest(BaseModel):
    """Several texts for one model, sent to Triton as one request."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    texts: list[str] = Field(description="Texts to classify, in order.")
    model_version: str | None = Field(
        default=None, description="`<name>` or `<name>-v<N>`; the default model when omitted."
    )
    model: str | None = Field(default=None, description="Alias of `model_version`.")
    version: int | None = Field(default=None, ge=1)
    timeout_ms: float | None = None


class Prediction(BaseModel):
    """One text's answer."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    truncated: bool = False
    cached: bool = False


class PredictResponse(Prediction):
    """``/predict``'s answer: the prediction, who made it, and how long it took."""

    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    """The version that answered, as ``<name>-v<N>``."""
    model: str
    version: str
    latency_ms: float
    triton_ms: float | None = None


class BatchPredictResponse(BaseModel):
    """``/batch-predict``'s answer, predictions in input order."""

    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    model: str
    version: str
    predictions: list[Prediction]
    total_latency_ms: float
    triton_ms: float | None = None
