"""The champion/challenger gate (seed S3): a candidate version replaces the champion only
if it beats it on a validation set and no class's recall drops by much.

Both versions are judged *as served*: every validation input goes through the data plane
(Triton) with an explicit version, exactly as a client's request would.

Usage::

    gate = ReleaseGate(dataplane.predict, metric="f1_macro", max_recall_drop=5.0)
    report = await gate.judge("sentiment", candidate=3, champion=2, data=validation_set)
    report.passed, report.reason
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from mlserve.dataplane.request import PredictionBatch, PredictRequest
from mlserve.errors import InvalidInputError
from mlserve.lifecycle.validation import ValidationSet, load_validation_set
from mlserve.repository.store import ModelRepository
from mlserve.serving.catalog import GATE_FILE

GateMetric = Literal["f1_macro", "accuracy", "auc", "rmse"]
GATE_METRICS: tuple[str, ...] = ("f1_macro", "accuracy", "auc", "rmse")
_CHUNK = 64
Predict = Callable[[PredictRequest], Awaitable[PredictionBatch]]


class VersionScores(BaseModel):
    version: int
    metric: float
    metrics: dict[str, float]
    recall: dict[str, float] = Field(default_factory=dict, description="Per class, 0-1.")


class GateReport(BaseModel):
    """What the gate saw and decided; stored as ``<version>/gate.json``."""

    model: str
    candidate: VersionScores
    champion: VersionScores | None = Field(description="None: there was no champion.")
    metric: GateMetric
    max_recall_drop: float = Field(description="Points (0-100) any class may lose.")
    recall_drops: dict[str, float] = Field(default_factory=dict, description="Points lost.")
    passed: bool
    reason: str
    items: int
    at: datetime


def store_report(version_dir: Path, report: GateReport) -> None:
    """Keep ``report`` with the version it judged (atomically)."""
    tmp = version_dir / f".{GATE_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(report.model_dump_json(indent=2))
    os.replace(tmp, version_dir / GATE_FILE)


def stored_report(version_dir: Path) -> GateReport | None:
    path = version_dir / GATE_FILE
    if not path.is_file():
        return None
    return GateReport.model_validate_json(path.read_text())


class ReleaseGate:
    """Judges a candidate against the champion on a validation set, through ``predict``."""

    def __init__(
        self, predict: Predict, *, metric: str = "f1_macro", max_recall_drop: float = 5.0
    ) -> None:
        if metric not in GATE_METRICS:
            raise InvalidInputError(
                f"gate metric {metric!r} is not supported; allowed: {', '.join(GATE_METRICS)}",
                detail={"field": "metric", "allowed": list(GATE_METRICS)},
            )
        self.predict = predict
        self.metric: GateMetric = metric  # type: ignore[assignment]
        self.max_recall_drop = max_recall_drop

    async def judge(
        self, name: str, candidate: int, champion: int | None, data: ValidationSet
    ) -> GateReport:
        new = await self._scores(name, candidate, data)
        old = await self._scores(name, champion, data) if champion is not None else None
        drops: dict[str, float] = {}
        if old is not None:
            for label, recall in old.recall.items():
                drops[label] = round(100 * (recall - new.recall.get(label, 0.0)), 3)
        lower_is_better = self.metric == "rmse"
        if old is None:
            passed, reason = True, "no champion to beat"
        else:
            better = new.metric < old.metric if lower_is_better else new.metric > old.metric
            worst = max(drops.items(), key=lambda kv: kv[1], default=("", 0.0))
            if not better:
                passed = False
                reason = (
                    f"{self.metric} {new.metric:.4f} does not beat the champion's "
                    f"{old.metric:.4f} (v{champion})"
                )
            elif worst[1] > self.max_recall_drop:
                passed = False
                reason = (
                    f"recall of class {worst[0]!r} drops {worst[1]:.1f} points "
                    f"(limit {self.max_recall_drop:g})"
                )
            else:
                passed = True
                reason = f"{self.metric} {new.metric:.4f} beats {old.metric:.4f} (v{champion})"
        return GateReport(
            model=name,
            candidate=new,
            champion=old,
            metric=self.metric,
            max_recall_drop=self.max_recall_drop,
            recall_drops=drops,
            passed=passed,
            reason=reason,
            items=len(data.labels),
            at=datetime.now(UTC),
        )

    async def _scores(self, name: str, version: int, data: ValidationSet) -> VersionScores:
        predicted: list[Any] = []
        probabilities: list[dict[str, float] | None] = []
        for start in range(0, len(data.labels), _CHUNK):
            request = PredictRequest(
                inputs=data.inputs(start, start + _CHUNK),
                model=name,
                version=version,
                endpoint="gate",
                timeout_ms=60_000,
            )
            batch = await self.predict(request)
            for p in batch.predictions:
                predicted.append(p.value if p.label is None else p.label)
                probabilities.append(p.probabilities)
        if self.metric == "rmse":
            return _regression_scores(version, data.labels, predicted)
        return _classification_scores(self.metric, version, data.labels, predicted, probabilities)


def _regression_scores(version: int, labels: list[Any], predicted: list[Any]) -> VersionScores:
    truth = np.asarray(labels, dtype=float)
    values = np.asarray([_scalar(v) for v in predicted], dtype=float)
    rmse = float(math.sqrt(float(np.mean((truth - values) ** 2))))
    mae = float(np.mean(np.abs(truth - values)))
    return VersionScores(version=version, metric=rmse, metrics={"rmse": rmse, "mae": mae})


def _classification_scores(
    metric: str,
    version: int,
    labels: list[Any],
    predicted: list[Any],
    probabilities: list[dict[str, float] | None],
) -> VersionScores:
    from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

    truth = [str(v) for v in labels]
    guess = [str(v) for v in predicted]
    classes = sorted(set(truth))
    recalls = recall_score(truth, guess, labels=classes, average=None, zero_division=0)
    metrics = {
        "accuracy": float(accuracy_score(truth, guess)),
        "f1_macro": float(f1_score(truth, guess, average="macro", zero_division=0)),
    }
    if metric == "auc":
        if any(p is None for p in probabilities) or len(classes) < 2:
            raise InvalidInputError(
                "gate metric 'auc' needs class probabilities and at least two classes in "
                "the validation labels; use f1_macro or accuracy",
                detail={"field": "metric"},
            )
        order = sorted({k for p in probabilities if p for k in p})
        scores = np.asarray([[p[k] for k in order] for p in probabilities if p])
        if len(order) == 2:
            auc = roc_auc_score([t == order[1] for t in truth], scores[:, 1])
        else:
            auc = roc_auc_score(truth, scores, multi_class="ovr", labels=order)
        metrics["auc"] = float(auc)
    return VersionScores(
        version=version,
        metric=metrics[metric],
        metrics=metrics,
        recall={c: float(r) for c, r in zip(classes, recalls, strict=True)},
    )


def _scalar(value: Any) -> float:
    while isinstance(value, list | tuple) and value:
        value = value[0]
    return float(value)


def gate_check(
    predict: Predict, repository: ModelRepository, metric: str, max_recall_drop: float
) -> Callable[[str, int, int | None], Awaitable[GateReport]]:
    """A :data:`~mlserve.lifecycle.release.GateCheck` over each model's stored validation
    set (404 when the model has none); a bad ``metric`` is a 422 at once."""
    judge = ReleaseGate(predict, metric=metric, max_recall_drop=max_recall_drop)

    async def check(name: str, candidate: int, champion: int | None) -> GateReport:
        data = load_validation_set(repository, name)
        return await judge.judge(name, candidate, champion, data)

    return check
