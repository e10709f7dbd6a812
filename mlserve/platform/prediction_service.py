"""Predictions through ``/api/v1/predict``: the data plane's answers, logged, materialized.

The data plane (:mod:`mlserve.dataplane.core`) resolves, routes (A/B weights per record,
sticky per entity id), validates, caches, infers and monitors, as for every other route;
this service adds what the platform protocol wants on top: prediction ids for feedback,
the prediction log, materialization and its webhook events.

Request body (what the SDK sends): ``{"inputs": [{feature: value}, ...],
"entity_ids"?: [...], "materialize"?: bool, "explain"?: bool, "fs_url"?: str,
"fs_entity_name"?: str}``. ``explain`` and ``fs_url`` (feature-store lookups) are not
supported by this server and are refused with 422 rather than ignored; ``fs_entity_name``
only matters with ``fs_url`` and is ignored. Text models take ``inputs`` as texts (``["great",
...]``) or records of one ``text`` field.

Answer without materialize: ``model``, ``version`` (the version when a single one served
every record, else null), ``versions`` (per record), ``predictions``, ``probabilities``,
``prediction_ids`` (for feedback), ``latency_ms``. With ``materialize=true`` (needs one
entity id per record) predictions are stored per entity instead, a
``prediction.materialized`` webhook event is queued per entity, and the answer is the
materialization ack plus ``prediction_ids``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlserve.dataplane.request import Prediction
from mlserve.dataplane.request import PredictRequest as CoreRequest
from mlserve.errors import InvalidInputError, ServiceUnavailableError
from mlserve.kinds import Inputs, RecordInputs, TextInputs
from mlserve.kinds.recommender import parse_ranking
from mlserve.kinds.tabular import label_value
from mlserve.platform.materialize import MaterializedRow, Materializer
from mlserve.platform.prediction_log import PredictionLog, PredictionRecord
from mlserve.platform.protocols import PredictCore
from mlserve.platform.versions import version_label
from mlserve.platform.webhooks import WebhookService

logger = logging.getLogger(__name__)
MAX_RECORDS = 10_000
MAX_ENTITY_ID_LENGTH = 256
EVENT_MATERIALIZED = "prediction.materialized"


@dataclass(frozen=True)
class PredictRequest:
    inputs: list[Any]
    entity_ids: list[str] | None
    materialize: bool


def parse_predict_body(body: Any) -> PredictRequest:
    """Validate the JSON body; InvalidInputError names the field and the fix."""
    if not isinstance(body, Mapping):
        raise InvalidInputError('body must be a JSON object: {"inputs": [{...}, ...]}')
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError(
            'inputs is required: a non-empty list of records like [{"age": 31, "income": 4.2}]'
        )
    if len(inputs) > MAX_RECORDS:
        raise InvalidInputError(
            f"inputs has {len(inputs)} records; at most {MAX_RECORDS} per request, split it"
        )
    for i, record in enumerate(inputs):
        if not isinstance(record, dict | str):
            raise InvalidInputError(
                f"inputs[{i}] must be an object of feature: value (or a text, for text models)"
            )
    if body.get("explain"):
        raise InvalidInputError("explain=true is not supported by this server; call without it")
    if body.get("fs_url"):
        raise InvalidInputError(
            "fs_url (feature-store lookups) is not supported by this server; send the features "
            "in inputs"
        )
    raw_ids = body.get("entity_ids")
    entity_ids: list[str] | None = None
    if raw_ids is not None:
        if not isinstance(raw_ids, list) or not all(
            isinstance(e, str | int) and not isinstance(e, bool) for e in raw_ids
        ):
            raise InvalidInputError("entity_ids must be a list of strings (one per input record)")
        if len(raw_ids) != len(inputs):
            raise InvalidInputError(
                f"entity_ids has {len(raw_ids)} ids but inputs has {len(inputs)} records; send "
                "exactly one entity id per record"
            )
        entity_ids = [str(e) for e in raw_ids]
        too_long = [e for e in entity_ids if not 1 <= len(e) <= MAX_ENTITY_ID_LENGTH]
        if too_long:
            raise InvalidInputError(
                f"entity id {too_long[0][:40]!r} must be 1-{MAX_ENTITY_ID_LENGTH} characters"
            )
    materialize = body.get("materialize", False)
    if not isinstance(materialize, bool):
        raise InvalidInputError(f"materialize must be true or false (got {materialize!r})")
    if materialize and entity_ids is None:
        raise InvalidInputError(
            "materialize=true needs entity_ids (one per input record) to key the stored predictions"
        )
    return PredictRequest(inputs=inputs, entity_ids=entity_ids, materialize=materialize)


class PredictionService:
    """Serves ``/predict/{name}/{version}`` and ``/predict/{name}``."""

    def __init__(
        self,
        core: PredictCore,
        log: PredictionLog,
        materializer: Materializer,
        webhooks: WebhookService,
    ) -> None:
        self._core = core
        self._log = log
        self._materializer = materializer
        self._webhooks = webhooks

    async def predict(self, name: str, version: int | None, body: Any) -> dict[str, Any]:
        """``version=None`` routes each record (A/B weights, sticky per entity id); a body
        of ``user`` and ``candidates`` asks a recommender for a ranking (:meth:`rank`)."""
        if isinstance(body, Mapping) and ("candidates" in body or "user" in body):
            return await self.rank(name, version, body)
        request = parse_predict_body(body)
        started = time.perf_counter()
        batch = await self._core.predict(
            CoreRequest(
                _inputs(request.inputs),
                model=name,
                version=version,
                entity_ids=request.entity_ids,
                endpoint="api_v1",
                route_each_item=True,
            )
        )
        versions = list(batch.versions or [batch.version] * len(request.inputs))
        latency_ms = (time.perf_counter() - started) * 1000
        now, request_id = time.time(), uuid.uuid4().hex
        records = [
            PredictionRecord(
                prediction_id=uuid.uuid4().hex,
                request_id=request_id,
                model=name,
                version=v,
                ts=now,
                latency_ms=latency_ms,
                output=_output(prediction),
                probabilities=prediction.probabilities,
                entity_id=request.entity_ids[i] if request.entity_ids else None,
                inputs=_logged(request.inputs[i]),
                score=prediction.score,
            )
            for i, (v, prediction) in enumerate(zip(versions, batch.predictions, strict=True))
        ]
        if request.materialize:
            return await self._materialize(name, records)
        warnings = await self._log_records(records)
        served = sorted(set(versions))
        answer: dict[str, Any] = {
            "model": name,
            "version": version_label(served[0]) if len(served) == 1 else None,
            "versions": [version_label(v) for v in versions],
            "predictions": [r.output for r in records],
            "probabilities": [r.probabilities for r in records],
            "prediction_ids": [r.prediction_id for r in records],
            "latency_ms": round(latency_ms, 3),
            "routed_by": batch.routed_by,
        }
        scores = [p.score for p in batch.predictions]
        if any(score is not None for score in scores):
            answer["scores"] = scores
        decisions = [p.details for p in batch.predictions]
        if any(decision is not None for decision in decisions):
            answer["decisions"] = decisions
        if request.entity_ids is not None:
            answer["entity_ids"] = request.entity_ids
        if warnings:
            answer["warnings"] = warnings
        return answer

    async def rank(self, name: str, version: int | None, body: Mapping[str, Any]) -> dict[str, Any]:
        """A recommender's ranking of ``body``'s candidates for its user, one version (A/B
        weights pick it for the whole request when ``version`` is None). Answer: ``ranking``
        (``id``, ``score``, ``rank``, ``cached``, best first, ``top_k`` of them), and as for
        records ``predictions`` (the ranked ids), ``scores`` and ``prediction_ids`` (one per
        ranked candidate, for feedback)."""
        for unsupported in ("materialize", "explain", "fs_url", "inputs"):
            if body.get(unsupported):
                raise InvalidInputError(
                    f"{unsupported} does not go with user/candidates: a ranking request is "
                    '{"user": {...}, "candidates": [{...}, ...], "top_k": k}'
                )
        inputs = parse_ranking(body, max_candidates=MAX_RECORDS)
        started = time.perf_counter()
        batch = await self._core.predict(
            CoreRequest(inputs, model=name, version=version, endpoint="api_v1")
        )
        if batch.ranking is None:  # kinds that rank nothing refuse RankingInputs first
            raise InvalidInputError(f"{name} is a {batch.kind} model: it ranks no candidates")
        latency_ms = (time.perf_counter() - started) * 1000
        now, request_id = time.time(), uuid.uuid4().hex
        # the candidates in ranked order, as the kind sorted them (data quality reads them)
        scores = [float(p.score or 0.0) for p in batch.predictions]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        records = [
            PredictionRecord(
                prediction_id=uuid.uuid4().hex,
                request_id=request_id,
                model=name,
                version=batch.version,
                ts=now,
                latency_ms=latency_ms,
                output=entry["id"],
                probabilities=None,
                entity_id=None,
                inputs={**inputs.user, **inputs.candidates[i]},
            )
            for entry, i in zip(batch.ranking, order, strict=False)
        ]
        warnings = await self._log_records(records)
        answer: dict[str, Any] = {
            "model": name,
            "version": version_label(batch.version),
            "versions": [version_label(batch.version)],
            "predictions": [entry["id"] for entry in batch.ranking],
            "scores": [entry["score"] for entry in batch.ranking],
            "ranking": batch.ranking,
            "prediction_ids": [r.prediction_id for r in records],
            "latency_ms": round(latency_ms, 3),
            "routed_by": batch.routed_by,
        }
        if warnings:
            answer["warnings"] = warnings
        return answer

    async def _log_records(self, records: list[PredictionRecord]) -> list[str]:
        try:
            await self._log.record(records)
        except ServiceUnavailableError as exc:
            logger.warning("prediction log unavailable: %s", exc.message)
            return [f"predictions were not logged (feedback on them is impossible): {exc.message}"]
        return []

    async def _materialize(self, name: str, records: list[PredictionRecord]) -> dict[str, Any]:
        rows = [
            MaterializedRow(
                entity_id=str(r.entity_id),
                prediction_id=r.prediction_id,
                version=r.version,
                prediction=r.output,
                probabilities=r.probabilities,
            )
            for r in records
        ]
        ack = await self._materializer.materialize(name, rows)
        ack["prediction_ids"] = [r.prediction_id for r in records]
        warnings = await self._log_records(records)
        events: list[Mapping[str, Any]] = [
            {
                "event": EVENT_MATERIALIZED,
                "model": name,
                "entity_id": r.entity_id,
                "version": version_label(r.version),
                "prediction_id": r.prediction_id,
                "ts": ack["stored_at"],
            }
            for r in records
        ]
        try:
            ack["webhook_deliveries"] = len(await self._webhooks.enqueue(events))
        except ServiceUnavailableError as exc:
            warnings.append(f"webhook events were not queued: {exc.message}")
        if warnings:
            ack["warnings"] = warnings
        return ack


def _inputs(inputs: list[Any]) -> Inputs:
    """Texts (or records of one ``text`` field) for text models, records otherwise."""
    if all(isinstance(i, str) for i in inputs):
        return TextInputs(inputs)
    if all(isinstance(i, dict) and set(i) == {"text"} for i in inputs):
        texts = [i["text"] for i in inputs]
        if all(isinstance(t, str) for t in texts):
            return TextInputs(texts)
    if any(isinstance(i, str) for i in inputs):
        raise InvalidInputError(
            "inputs mixes texts and records: send texts for a text model, records of "
            "feature: value for a tabular one"
        )
    return RecordInputs(inputs)


def _output(prediction: Prediction) -> Any:
    """What ``predictions`` carries per record: the class (numbers as numbers), the
    regression value(s), or 1/-1 for anomaly detectors."""
    return prediction.value if prediction.value is not None else label_value(prediction.label)


def _logged(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"text": item}
