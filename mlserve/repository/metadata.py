"""The metadata stored beside each version as ``metadata.json``.

It is what makes a version self-describing: the control plane reads labels, input kind and
preprocessing from it, ``mlserve list`` reads metrics and dates, drift monitoring reads the
reference profile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

METADATA_FILE = "metadata.json"


class TensorInfo(BaseModel):
    """An input or output as Triton sees it (without the batch dimension)."""

    name: str
    datatype: str
    dims: list[int]


class ModelMetadata(BaseModel):
    """Everything known about one published version."""

    name: str
    version: int
    framework: str
    task: str = "classification"
    input_kind: str = "text"
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    labels: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    preprocessing: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    parity: dict[str, Any] = Field(default_factory=dict)
    reference_profile: dict[str, Any] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    published_at: datetime

    @property
    def display_version(self) -> str:
        """Versions are integers in Triton and ``v<N>`` for people."""
        return f"v{self.version}"

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")
