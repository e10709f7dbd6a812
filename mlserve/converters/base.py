"""What every converter produces: an ONNX graph plus everything needed to serve it.

Converters know nothing of HTTP or Triton's wire protocol. They export, run the parity
check, and hand an :class:`ExportedModel` to ``repository.publish_version``, which refuses
any model whose parity check failed.

**Ties.** A row whose native top two scores are within the tolerance is a *tie*: float64
(native) and float32 (ONNX) may break it differently, so a different argmax there is not
a mismatch; tie rows are counted separately (their probabilities are still compared). On
an exact tie the server answers the first label in the model's label order (the
``labels`` of the version, i.e. scikit-learn's ``classes_`` order), which is what
scikit-learn's ``predict`` answers (``classes_[argmax]``); within a near tie either of the
tied labels may be served.

**Representative parity sets.** A check on rows that do not exercise the model proves
nothing: when most rows do not (text without one in-vocabulary token) or every row ties
or gives the same output, the check fails and asks for representative inputs
(``--samples`` for texts, ``--background`` for feature rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx

from mlserve.triton.model_config import TensorSpec

InputKind = Literal["text", "tokens", "tabular", "custom", "causal", "recommender"]
Task = Literal["classification", "regression", "anomaly-detection"]

PROBA_TOLERANCE = 1e-4
"""Largest difference allowed between native and ONNX probabilities."""
WORST_INPUTS = 10
"""Most differing rows a report keeps (worst first)."""
MIN_EXERCISED_FRACTION = 0.5
"""Below this share of rows that exercise the model, a parity set is unrepresentative."""
REPRESENTATIVE_HINT = (
    "pass representative inputs: --samples FILE (one text per line) for text models, "
    "--background FILE (CSV, Parquet or JSON records) for tabular models"
)


@dataclass
class ParityReport:
    """Native model vs ONNX export on the same sample inputs.

    ``mismatches`` holds the worst differing rows (label differences beyond ties first,
    then by largest difference), at most :data:`WORST_INPUTS`; the counts cover all rows.
    """

    n_samples: int
    max_abs_diff: float
    tolerance: float
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    label_mismatches: int = 0
    """Rows whose label differs although the native scores do not tie."""
    over_tolerance: int = 0
    """Rows with a score difference above ``tolerance``."""
    ties: int = 0
    """Rows whose native top two scores are within ``tolerance``."""
    unrepresentative: str | None = None
    """Why the rows do not exercise the model (then the check fails), else None."""
    likely_cause: str | None = None
    """The converter's best guess at why rows differ (tokenization, float32 thresholds)."""

    @property
    def passed(self) -> bool:
        return (
            not self.mismatches
            and self.label_mismatches == 0
            and self.over_tolerance == 0
            and self.max_abs_diff <= self.tolerance
            and self.unrepresentative is None
        )

    def summary(self) -> str:
        """One line for logs and CLI errors: the counts, the cause, the worst inputs."""
        verdict = "passed" if self.passed else "FAILED"
        text = (
            f"parity {verdict}: {self.n_samples} samples, max |diff| {self.max_abs_diff:.2e} "
            f"(tolerance {self.tolerance:.0e}), {self.label_mismatches} label mismatches "
            f"beyond ties, {self.over_tolerance} rows over tolerance, {self.ties} ties"
        )
        if self.unrepresentative:
            text += f"; the parity set is unrepresentative: {self.unrepresentative}; "
            text += REPRESENTATIVE_HINT
        if not self.passed and self.likely_cause:
            text += f"; likely cause: {self.likely_cause}"
        if not self.passed and self.mismatches:
            worst = "; ".join(_describe(m) for m in self.mismatches[:3])
            text += f"; worst inputs: {worst}"
        return text

    def worst_lines(self) -> list[str]:
        """One line per worst input (up to :data:`WORST_INPUTS`): native vs served."""
        lines = []
        for mismatch in self.mismatches[:WORST_INPUTS]:
            labels = ""
            if "native_label" in mismatch:
                labels = f" native {mismatch['native_label']} vs served {mismatch['served_label']};"
            lines.append(
                f"row {mismatch.get('index')}:{labels} native {mismatch.get('native')} "
                f"served {mismatch.get('onnx')} (|diff| {mismatch.get('max_abs_diff', 0.0):.2e}) "
                f"input {mismatch.get('input', '')!r}"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "n_samples": self.n_samples,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "label_mismatches": self.label_mismatches,
            "over_tolerance": self.over_tolerance,
            "ties": self.ties,
            "unrepresentative": self.unrepresentative,
            "likely_cause": self.likely_cause,
            "mismatches": self.mismatches[:WORST_INPUTS],
        }


def _describe(mismatch: dict[str, Any]) -> str:
    text = str(mismatch.get("input", ""))[:60]
    if "native_label" in mismatch:
        return (
            f"{text!r} native {mismatch['native_label']} vs served {mismatch['served_label']} "
            f"(|diff| {mismatch.get('max_abs_diff', 0.0):.2e})"
        )
    return f"{text!r} |diff| {mismatch.get('max_abs_diff', 0.0):.2e}"


def tie_rows(native: npt.NDArray[np.float64], tolerance: float) -> npt.NDArray[np.bool_]:
    """Rows whose top two scores are within ``tolerance`` (every row of a 1-column matrix
    is not a tie: there is nothing to choose between)."""
    if native.ndim != 2 or native.shape[1] < 2 or not len(native):
        return np.zeros(len(native), dtype=bool)
    top_two = np.sort(native, axis=1)[:, -2:]
    tied: npt.NDArray[np.bool_] = (top_two[:, 1] - top_two[:, 0]) <= tolerance
    return tied


def compare_outputs(
    samples: list[Any],
    native_scores: npt.ArrayLike,
    onnx_scores: npt.ArrayLike,
    *,
    compare_argmax: bool = True,
    tolerance: float = PROBA_TOLERANCE,
    labels: list[str] | None = None,
    exercised: npt.ArrayLike | None = None,
    exercised_reason: str = "have no input the model knows",
    check_variety: bool = False,
) -> ParityReport:
    """Compare score matrices (or vectors) row by row; argmax must agree for classifiers
    except on ties (see the module docstring).

    ``exercised`` marks the rows that reach the model (for text: at least one
    in-vocabulary token); when fewer than half do, or (with ``check_variety``, for
    converters whose parity rows come from the user or the model's own vocabulary and
    thresholds) every row ties or gives the same output, the report is unrepresentative and
    fails.
    """
    native = np.asarray(native_scores, dtype=np.float64)
    exported = np.asarray(onnx_scores, dtype=np.float64)
    n_rows = len(samples)
    if native.shape != exported.shape:
        return ParityReport(
            n_samples=n_rows,
            max_abs_diff=float("inf"),
            tolerance=tolerance,
            mismatches=[{"reason": f"shape {native.shape} vs ONNX {exported.shape}"}],
        )
    diff = np.abs(native - exported)
    row_diff = diff.reshape(n_rows, -1).max(axis=1) if diff.size else np.zeros(n_rows)
    classify = compare_argmax and native.ndim == 2 and native.shape[1] > 1
    ties = tie_rows(native, tolerance) if classify else np.zeros(n_rows, dtype=bool)
    if classify:
        native_best = native.argmax(axis=1)
        served_best = exported.argmax(axis=1)
        label_differs = (native_best != served_best) & ~ties
    else:
        label_differs = np.zeros(n_rows, dtype=bool)
    over = row_diff > tolerance
    bad = np.flatnonzero(label_differs | over)
    order = sorted(bad.tolist(), key=lambda i: (not label_differs[i], -row_diff[i]))
    mismatches: list[dict[str, Any]] = []
    for i in order[:WORST_INPUTS]:
        entry: dict[str, Any] = {
            "index": i,
            "input": str(samples[i])[:200],
            "native": np.atleast_1d(native[i]).round(6).tolist(),
            "onnx": np.atleast_1d(exported[i]).round(6).tolist(),
            "max_abs_diff": float(row_diff[i]),
        }
        if classify:
            entry["native_label"] = _label(labels, int(native_best[i]))
            entry["served_label"] = _label(labels, int(served_best[i]))
            entry["reason"] = "label differs" if label_differs[i] else "scores differ"
        mismatches.append(entry)
    return ParityReport(
        n_samples=n_rows,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        tolerance=tolerance,
        mismatches=mismatches,
        label_mismatches=int(label_differs.sum()),
        over_tolerance=int(over.sum()),
        ties=int(ties.sum()),
        unrepresentative=_unrepresentative(
            native, ties, tolerance, exercised, exercised_reason, check_variety
        ),
    )


def _label(labels: list[str] | None, index: int) -> str:
    return labels[index] if labels and index < len(labels) else str(index)


def _unrepresentative(
    native: npt.NDArray[np.float64],
    ties: npt.NDArray[np.bool_],
    tolerance: float,
    exercised: npt.ArrayLike | None,
    exercised_reason: str,
    check_variety: bool,
) -> str | None:
    n_rows = len(native)
    if n_rows == 0:
        return "there are no rows"
    if exercised is not None:
        reached = np.asarray(exercised, dtype=bool)
        idle = int((~reached).sum())
        if reached.sum() < MIN_EXERCISED_FRACTION * n_rows:
            return f"{idle} of {n_rows} rows {exercised_reason}"
    if n_rows < 2 or not check_variety:
        return None
    if ties.all():
        return f"all {n_rows} rows tie between their top two scores"
    flat = native.reshape(n_rows, -1)
    if np.all(np.abs(flat - flat[0]) <= tolerance):
        return f"all {n_rows} rows give the same output"
    return None


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
