"""What every converter produces: an ONNX graph plus everything needed to serve it.

Converters know nothing of HTTP or Triton's wire protocol. They export, run the parity
check, and hand an :class:`ExportedModel` to ``repository.publish_version``, which refuses
any model whose parity check failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx

from mlserve.triton.model_config import TensorSpec

InputKind = Literal["text", "tokens", "tabular", "custom"]
Task = Literal["classification", "regression", "anomaly-detection"]

PROBA_TOLERANCE = 1e-4
"""Largest difference allowed between native and ONNX probabilities."""


@dataclass
class ParityReport:
    """Native model vs ONNX export on the same sample inputs."""

    n_samples: int
    max_abs_diff: float
    tolerance: float
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        """One line for logs and CLI errors."""
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"parity {verdict}: {self.n_samples} samples, max |diff| {self.max_abs_diff:.2e} "
            f"(tolerance {self.tolerance:.0e}), {len(self.mismatches)} mismatches"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "n_samples": self.n_samples,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "mismatches": self.mismatches[:20],
        }


def compare_outputs(
    samples: list[Any],
    native_scores: npt.ArrayLike,
    onnx_scores: npt.ArrayLike,
    *,
    compare_argmax: bool = True,
    tolerance: float = PROBA_TOLERANCE,
) -> ParityReport:
    """Compare score matrices (or vectors) row by row; argmax must agree for classifiers."""
    native = np.asarray(native_scores, dtype=np.float64)
    exported = np.asarray(onnx_scores, dtype=np.float64)
    if native.shape != exported.shape:
        return ParityReport(
            n_samples=len(samples),
            max_abs_diff=float("inf"),
            tolerance=tolerance,
            mismatches=[{"reason": f"shape {native.shape} vs ONNX {exported.shape}"}],
        )
    diff = np.abs(native - exported)
    row_diff = diff.reshape(len(samples), -1).max(axis=1) if diff.size else np.zeros(0)
    mismatches: list[dict[str, Any]] = []
    for i, sample in enumerate(samples):
        label_differs = (
            compare_argmax
            and native.ndim == 2
            and int(native[i].argmax()) != int(exported[i].argmax())
        )
        if label_differs or row_diff[i] > tolerance:
            mismatches.append(
                {
                    "index": i,
                    "input": str(sample)[:200],
                    "native": native[i].round(6).tolist(),
                    "onnx": exported[i].round(6).tolist(),
                    "max_abs_diff": float(row_diff[i]),
                }
            )
    return ParityReport(
        n_samples=len(samples),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        tolerance=tolerance,
        mismatches=mismatches,
    )


@dataclass
class ExportedModel:
    """An ONNX export ready to publish as a new version of a model."""

    onnx_model: onnx.ModelProto | None
    """The graph Triton runs; None for custom Python models (their code is an extra file)."""
    framework: str
    """Where it came from: ``sklearn``, ``pytorch``, ``transformers``, ``xgboost``, ..."""
    input_kind: InputKind
    """How the control plane builds the request: raw text, token ids, or feature records."""
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    """Outputs Triton exposes; for classifiers the first is ``probabilities``."""
    parity: ParityReport
    task: Task = "classification"
    labels: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    """Provenance: ``trained_at``, sizes of the splits, parameters."""
    extra_files: dict[str, Path] = field(default_factory=dict)
    """Files or folders copied into the version folder (e.g. ``tokenizer`` -> a folder)."""
    reference_data: list[Any] | None = None
    """Validation inputs a reference profile for drift can be computed from."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form metadata kept with the version (e.g. the SDK's ``task_type``)."""
    vocabulary: list[str] | None = None
    """Words the model knows, for the out-of-vocabulary drift signal; only a bounded
    summary of it is stored with the version."""
