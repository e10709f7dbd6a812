"""``POST /predict`` and ``POST /batch-predict``: every kind of model.

:func:`predict_answer` and :func:`batch_predict_answer` turn a raw request body into the
JSON answer: parse it (:mod:`~mlserve.control_plane.routes.predict_body`), ask the data
plane, render. They carry nearly all traffic, so the running app serves them through
:class:`~mlserve.control_plane.hot_routes.HotRoutes`, ahead of FastAPI's middleware and
router; the FastAPI routes below call the same functions and document the shapes in
OpenAPI. Repeated bodies are answered from what answering them took
(:class:`~mlserve.control_plane.repeats.RepeatedRequests`, the HTTP edge's memo).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlserve.control_plane.dependencies import stack_of
from mlserve.control_plane.errors import error_responses, json_response
from mlserve.control_plane.openapi_schema import inline_schema
from mlserve.control_plane.routes.predict_body import parse_predict_body
from mlserve.control_plane.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    PredictRequest,
    PredictResponse,
    RankingResponse,
)
from mlserve.control_plane.stack import ServingStack
from mlserve.dataplane.request import Prediction, PredictionBatch
from mlserve.kinds.tabular import label_value
from mlserve.rounding import round3, round6
from mlserve.settings import Settings

router = APIRouter(tags=["predict"])
Headers = Sequence[tuple[bytes, bytes]]
_JSON_BYTES_PER_CHAR = 6
"""The most a character can take in a JSON string (``\\uXXXX``)."""
_ENTITY_HEADER = b"x-entity-id"


def max_body_bytes(settings: Settings) -> int:
    """The largest predict body worth reading: ``max_batch_texts`` texts of
    ``max_text_length`` characters, each fully escaped, plus room for the other fields."""
    per_text = settings.max_text_length * _JSON_BYTES_PER_CHAR + 8
    return max(1, settings.max_batch_texts) * per_text + 4096


def _request_body(model: type[Any]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses ``model`` itself."""
    schema = {"schema": inline_schema(model)}
    return {"requestBody": {"required": True, "content": {"application/json": schema}}}


PREDICT_ERRORS = error_responses(404, 409, 413, 422, 429, 502, 503, 504)
"""What a predict route can answer besides 200 (each named in the error's message)."""


async def predict_answer(stack: ServingStack, body: bytes, headers: Headers = ()) -> dict[str, Any]:
    """The ``/predict`` answer to ``body``: one prediction, or a batch answer when the
    body carries several rows (seed S3). Raises MLServeError subclasses: 422 bad input,
    404 unknown model, 409, 429, 503, 504."""
    batch = await _answer(stack, "predict", body, headers, batch=False)
    if batch.ranking is not None:
        ranking = _served_by(batch)
        ranking["ranking"] = batch.ranking
        ranking["candidates"] = len(batch.predictions)
        ranking["latency_ms"] = round3(batch.latency_ms)
        return ranking
    if len(batch.predictions) != 1:
        return _batch_payload(batch)
    p = batch.predictions[0]
    if p.score is None and p.details is None:
        return _single_payload(p, batch)
    payload = _prediction(p)
    payload.update(_served_by(batch))
    payload["latency_ms"] = round3(batch.latency_ms)
    return payload


async def batch_predict_answer(
    stack: ServingStack, body: bytes, headers: Headers = ()
) -> dict[str, Any]:
    """The ``/batch-predict`` answer to ``body``; raises as :func:`predict_answer` does,
    and 422 outside 1..``max_batch_texts`` inputs."""
    return _batch_payload(await _answer(stack, "batch-predict", body, headers, batch=True))


async def _answer(
    stack: ServingStack, endpoint: str, body: bytes, headers: Headers, *, batch: bool
) -> PredictionBatch:
    entity_header = _header(headers, _ENTITY_HEADER)
    # The memo keys on the body alone: a request routed by a header is never replayed.
    repeats = stack.repeats if entity_header is None else None
    if repeats is not None:
        seen = repeats.get(endpoint, body)
        if seen is not None:
            replayed = await stack.dataplane.replay(seen)
            if replayed is not None:
                return replayed
            repeats.forget(endpoint, body)
    settings = stack.settings
    request = parse_predict_body(
        body,
        batch=batch,
        max_items=settings.max_batch_texts,
        max_text_length=settings.max_text_length,
        entity_header=entity_header,
    )
    answered, result = await stack.dataplane.predict_and_keep(request)
    if repeats is not None and answered is not None:
        repeats.put(endpoint, body, answered)
    return result


def _header(headers: Headers, name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


@router.post(
    "/predict",
    response_model=PredictResponse | BatchPredictResponse | RankingResponse,
    responses=PREDICT_ERRORS,
    openapi_extra=_request_body(PredictRequest),
)
async def predict(request: Request) -> Response:
    """Predict with the default or named model: a text, or a record (several rows answer
    in the batch shape), or one user's candidates for a recommender (ranked)."""
    answer = await predict_answer(stack_of(request), await request.body(), request.headers.raw)
    return json_response(answer)


@router.post(
    "/batch-predict",
    response_model=BatchPredictResponse,
    responses=PREDICT_ERRORS,
    openapi_extra=_request_body(BatchPredictRequest),
)
async def batch_predict(request: Request) -> Response:
    """Predict several texts or records in one request."""
    body = await request.body()
    return json_response(await batch_predict_answer(stack_of(request), body, request.headers.raw))


def _batch_payload(batch: PredictionBatch) -> dict[str, Any]:
    payload = _served_by(batch)
    payload["predictions"] = [_prediction(p) for p in batch.predictions]
    payload["total_latency_ms"] = round3(batch.latency_ms)
    return payload


def _prediction(p: Prediction) -> dict[str, Any]:
    """One answer as in :class:`~mlserve.control_plane.schemas.Prediction`."""
    payload = {
        "label": p.label,
        "confidence": round6(p.confidence) if p.confidence is not None else None,
        "probabilities": p.probabilities,
        "prediction": p.value if p.value is not None else label_value(p.label),
        "truncated": p.truncated,
        "cached": p.cached,
    }
    if p.score is not None:
        payload["score"] = round6(p.score)
    if p.details is not None:  # a causal model's outcomes, effects, next best action
        payload.update(p.details)
    return payload


def _single_payload(p: Prediction, batch: PredictionBatch) -> dict[str, Any]:
    """What :func:`_prediction`, :func:`_served_by` and the latency make of one answer
    without a score or details (nearly every ``/predict``), built as one dictionary: the
    same keys in the same order, the same values."""
    timings = batch.timings
    triton = timings.triton_s
    confidence = p.confidence
    version = batch.version
    return {
        "label": p.label,
        "confidence": round6(confidence) if confidence is not None else None,
        "probabilities": p.probabilities,
        "prediction": p.value if p.value is not None else label_value(p.label),
        "truncated": p.truncated,
        "cached": p.cached,
        "model_version": f"{batch.model}-v{version}",
        "model": batch.model,
        "version": f"v{version}",
        "routed_by": batch.routed_by,
        "preprocess_ms": round3(timings.preprocess_s * 1000),
        "queue_ms": round3(timings.queue_s * 1000),
        "triton_ms": round3(triton * 1000) if triton is not None else None,
        "latency_ms": round3(timings.total_s * 1000),
    }


def _served_by(batch: PredictionBatch) -> dict[str, Any]:
    timings = batch.timings
    triton = timings.triton_s
    return {
        "model_version": f"{batch.model}-v{batch.version}",
        "model": batch.model,
        "version": f"v{batch.version}",
        "routed_by": batch.routed_by,
        "preprocess_ms": round3(timings.preprocess_s * 1000),
        "queue_ms": round3(timings.queue_s * 1000),
        "triton_ms": round3(triton * 1000) if triton is not None else None,
    }
