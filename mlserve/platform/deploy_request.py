"""Validating what ``POST /api/v1/deploy`` sends, before any work starts.

The SDK sends multipart form fields as strings: ``features`` (JSON list of names),
``background_data`` (JSON records, ``DataFrame.to_json(orient="records")``), ``metrics``
(JSON object) and ``task_type`` (``causal`` / ``recommender`` with ``task_options``, or
their options as a JSON ``task_type``). Each is checked here so a bad one is a 422 naming the
field — not a deployment that fails minutes later.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from mlserve.converters.tabular.decisions import DecisionOptions, parse_task
from mlserve.errors import InvalidInputError
from mlserve.platform.versions import parse_version

TASK_TYPES = ("classification", "regression")
MAX_BACKGROUND_ROWS = 100_000
MAX_FEATURES = 10_000


@dataclass(frozen=True)
class DeployRequest:
    """A validated deploy: what the :class:`~mlserve.platform.protocols.Deployer` gets."""

    model_bytes: bytes
    name: str
    version: int
    features: list[str] | None
    background: list[dict[str, Any]] | None
    metrics: dict[str, float] | None
    task_type: str | None
    """A task name, or a decision task's validated options as JSON
    (:mod:`mlserve.converters.tabular.decisions`)."""

    @property
    def decision(self) -> DecisionOptions | None:
        """The causal or recommender options this deploy declares, if any."""
        return parse_task(self.task_type)[1]


def _json_field(field: str, text: str | None, example: str) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{field} is not valid JSON ({exc.msg}); send e.g. {example}"
        ) from None


def parse_deploy_form(
    *,
    model_bytes: bytes,
    name: str,
    version: str,
    features: str | None,
    background_data: str | None,
    metrics: str | None,
    task_type: str | None,
    task_options: str | None = None,
) -> DeployRequest:
    from mlserve.converters.tabular.decisions import DECISION_TASKS, check_features
    from mlserve.repository.store import validate_model_name

    if not model_bytes:
        raise InvalidInputError("model_file is empty: upload the pickled/joblib model file")
    feature_list = _json_field("features", features, '["age", "income"]')
    if feature_list is not None:
        if (
            not isinstance(feature_list, list)
            or not all(isinstance(f, str) and f for f in feature_list)
            or not 1 <= len(feature_list) <= MAX_FEATURES
        ):
            raise InvalidInputError(
                f"features must be a JSON list of 1-{MAX_FEATURES} non-empty names, "
                'e.g. ["age", "income"]'
            )
        duplicates = sorted({f for f in feature_list if feature_list.count(f) > 1})
        if duplicates:
            raise InvalidInputError(f"features lists {', '.join(duplicates)} more than once")
    background = _json_field("background_data", background_data, '[{"age": 31, "income": 4.2}]')
    if background is not None:
        if not isinstance(background, list) or not all(isinstance(r, dict) for r in background):
            raise InvalidInputError(
                'background_data must be JSON records: [{"feature": value, ...}, ...]'
            )
        if not 1 <= len(background) <= MAX_BACKGROUND_ROWS:
            raise InvalidInputError(
                f"background_data must hold 1-{MAX_BACKGROUND_ROWS} rows (got {len(background)}); "
                "send a sample"
            )
        if feature_list:
            for i, row in enumerate(background):
                missing = [f for f in feature_list if f not in row]
                extra = sorted(set(row) - set(feature_list))
                if missing or extra:
                    raise InvalidInputError(
                        f"background_data row {i} does not match features: missing "
                        f"{missing or 'none'}, unexpected {extra or 'none'}"
                    )
    metric_map = _json_field("metrics", metrics, '{"accuracy": 0.91}')
    if metric_map is not None:
        if not isinstance(metric_map, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in metric_map.values()
        ):
            raise InvalidInputError(
                'metrics must be a JSON object of finite numbers, e.g. {"accuracy": 0.91}'
            )
        metric_map = {str(k): float(v) for k, v in metric_map.items()}
    task, decision = parse_task(task_type, task_options)
    if decision is not None:
        if feature_list is not None:
            check_features(decision, feature_list)
        task = json.dumps(decision.model_dump(mode="json"))  # travels as task_type
    elif task is not None and task not in TASK_TYPES:
        raise InvalidInputError(
            f"task_type {task_type!r} is not supported: use {', '.join(TASK_TYPES)} or "
            f"{' or '.join(DECISION_TASKS)} (with task_options)"
        )
    return DeployRequest(
        model_bytes=model_bytes,
        name=validate_model_name(name),
        version=parse_version(version),
        features=feature_list,
        background=background,
        metrics=metric_map,
        task_type=task,
    )
