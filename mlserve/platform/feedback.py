"""Feedback on served predictions and the online metrics computed from it.

Contract:

- ``POST /api/v1/feedback`` sends ``{"feedback": [{prediction_id, true_value, reward?,
  metadata?}, ...]}``. Items are validated first (the message names ``feedback[i].field``);
  feedback for a prediction the log still holds is stored (the latest feedback per
  prediction wins); unknown ids (never served, or dropped from the bounded log) are listed in
  the answer. If no id is known the request fails with 404.
- Online metrics per model version over a window: ``n`` predictions, ``n_supervised`` with
  feedback, and ``accuracy`` (classification) or ``mae``/``rmse`` (regression), plus
  ``mean_reward`` when rewards were sent.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from mlserve.errors import InvalidInputError, NotFoundError
from mlserve.platform.prediction_log import PredictionLog, PredictionRecord
from mlserve.platform.store import StateStore
from mlserve.platform.versions import version_label

_FEEDBACK = "feedback"
MAX_FEEDBACK_ITEMS = 10_000
MAX_WINDOW_HOURS = 24 * 90

TaskOf = Callable[[str, int], Awaitable[str]]
"""``(model, version) -> "classification" | "regression"``."""


def _validate_items(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("feedback"), list):
        raise InvalidInputError(
            'body must be {"feedback": [{"prediction_id": "...", "true_value": ...}, ...]}'
        )
    items = raw["feedback"]
    if not 1 <= len(items) <= MAX_FEEDBACK_ITEMS:
        raise InvalidInputError(
            f"feedback must hold 1-{MAX_FEEDBACK_ITEMS} items (got {len(items)}); split it"
        )
    clean: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"feedback[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInputError(f"{where} must be an object with prediction_id and true_value")
        pid = item.get("prediction_id")
        if not isinstance(pid, str) or not pid:
            raise InvalidInputError(
                f"{where}.prediction_id is required: the id returned by predict"
            )
        if "true_value" not in item:
            raise InvalidInputError(f"{where}.true_value is required (the observed outcome)")
        reward = item.get("reward")
        if reward is not None and (
            isinstance(reward, bool)
            or not isinstance(reward, int | float)
            or not math.isfinite(reward)
        ):
            raise InvalidInputError(f"{where}.reward must be a finite number (got {reward!r})")
        metadata = item.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidInputError(f"{where}.metadata must be an object (got {metadata!r})")
        clean.append(
            {
                "prediction_id": pid,
                "true_value": item["true_value"],
                "reward": None if reward is None else float(reward),
                "metadata": dict(metadata) if metadata else None,
            }
        )
    return clean


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def same_label(predicted: Any, true_value: Any) -> bool:
    """Labels match as numbers when both are numeric (``1`` == ``"1.0"``), else as text."""
    a, b = _as_number(predicted), _as_number(true_value)
    if a is not None and b is not None:
        return a == b
    return str(predicted) == str(true_value)


class Outcomes(NamedTuple):
    """Feedback on one version's predictions (see :meth:`FeedbackService.outcomes`)."""

    labeled: int
    correct: int | None
    rewards: list[float]


class FeedbackService:
    """Stores feedback and computes online metrics."""

    def __init__(self, store: StateStore, log: PredictionLog, task_of: TaskOf) -> None:
        self._log = log
        self._store = store
        self._task_of = task_of
        log.on_evict(self._forget)

    async def _forget(self, prediction_ids: list[str]) -> None:
        await self._store.hdel(_FEEDBACK, *prediction_ids)

    async def submit(self, body: Any) -> dict[str, Any]:
        items = _validate_items(body)
        ids = [item["prediction_id"] for item in items]
        records = await self._log.get_many(ids)
        known = {r.prediction_id: r for r in records if r is not None}
        unknown = sorted({pid for pid in ids if pid not in known})
        if not known:
            raise NotFoundError(
                f"no prediction found for prediction_id(s) {', '.join(unknown[:10])}: use ids "
                f"returned by predict; only the newest {self._log.max_size} predictions are kept"
            )
        now = time.time()
        stored = {
            item["prediction_id"]: json.dumps({**item, "ts": now})
            for item in items
            if item["prediction_id"] in known
        }
        await self._store.hset(_FEEDBACK, stored)
        return {
            "received": len(items),
            "accepted": len(stored),
            "unknown_prediction_ids": unknown,
            "message": f"stored feedback for {len(stored)} prediction(s)"
            + (f"; {len(unknown)} unknown prediction id(s) ignored" if unknown else ""),
        }

    async def online_metrics(
        self, model: str, version: int | None, window_hours: float
    ) -> dict[str, Any]:
        """The shape ``MLServeClient.get_online_metrics`` reads: ``version``,
        ``window_hours``, ``n``, ``n_supervised`` and ``metrics`` (absent when no
        prediction is in the window)."""
        if not 0 < window_hours <= MAX_WINDOW_HOURS:
            raise InvalidInputError(
                f"window_hours must be in (0, {MAX_WINDOW_HOURS}] (got {window_hours})"
            )
        now = time.time()
        records = await self._log.window(model, version, now - window_hours * 3600, now)
        label = version_label(version) if version is not None else "all"
        base: dict[str, Any] = {
            "model": model,
            "version": label,
            "window_hours": window_hours,
            "n": len(records),
        }
        if not records:
            return {
                **base,
                "n_supervised": 0,
                "message": f"no predictions of {model} {label} in the last {window_hours:g} h",
            }
        task = await self._task_of(model, version if version is not None else records[-1].version)
        raws = await self._store.hmget(_FEEDBACK, [r.prediction_id for r in records])
        pairs = [
            (r, json.loads(raw)) for r, raw in zip(records, raws, strict=True) if raw is not None
        ]
        metrics = _metrics(task, pairs)
        return {
            **base,
            "n_supervised": len(pairs),
            "task_type": task,
            "metrics": metrics,
            "computed_at": datetime.fromtimestamp(now, UTC).isoformat(),
        }

    async def outcomes(self, model: str, version: int, since: float) -> Outcomes:
        """Feedback on ``model`` ``version``'s logged predictions since ``since``: how many
        carry a true value and how many of those were right (classifiers; None for
        regressors), and the rewards given (experiments compare variants on these)."""
        records = await self._log.window(model, version, since, time.time())
        if not records:
            return Outcomes(0, None, [])
        raws = await self._store.hmget(_FEEDBACK, [r.prediction_id for r in records])
        pairs = [
            (r, json.loads(raw)) for r, raw in zip(records, raws, strict=True) if raw is not None
        ]
        labeled = [(r, fb) for r, fb in pairs if fb.get("true_value") is not None]
        task = await self._task_of(model, version)
        correct = (
            None
            if task == "regression"
            else sum(same_label(r.output, fb["true_value"]) for r, fb in labeled)
        )
        rewards = [float(fb["reward"]) for _, fb in pairs if fb.get("reward") is not None]
        return Outcomes(len(labeled), correct, rewards)


def _metrics(task: str, pairs: list[tuple[PredictionRecord, dict[str, Any]]]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if pairs and task == "regression":
        errors = [
            p - t
            for p, t in ((_as_number(r.output), _as_number(fb["true_value"])) for r, fb in pairs)
            if p is not None and t is not None
        ]
        if errors:
            metrics["mae"] = sum(abs(e) for e in errors) / len(errors)
            metrics["rmse"] = math.sqrt(sum(e * e for e in errors) / len(errors))
    elif pairs:
        hits = sum(same_label(r.output, fb["true_value"]) for r, fb in pairs)
        metrics["accuracy"] = hits / len(pairs)
    rewards = [fb["reward"] for _, fb in pairs if fb.get("reward") is not None]
    if rewards:
        metrics["mean_reward"] = sum(rewards) / len(rewards)
        metrics["n_reward"] = float(len(rewards))
    return metrics
