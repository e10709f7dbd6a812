"""``POST /predict`` and ``POST /batch-predict``: text classification.

:func:`predict_answer` and :func:`batch_predict_answer` turn a raw request body into the
JSON answer. They carry nearly all traffic, so the running app serves them through
:class:`~mlserve.control_plane.hot_routes.HotRoutes`, ahead of FastAPI's middleware and
router; the FastAPI routes below call the same functions and document both shapes in OpenAPI
(``openapi_extra`` and ``response_model``). The body is validated straight from bytes by its
pydantic model and read as JSON whatever content type the client claimed (``curl -d`` says
form-encoded).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from mlserve.control_plane.dependencies import stack_of
from mlserve.control_plane.errors import invalid_body, json_response
from mlserve.control_plane.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    PredictRequest,
    PredictResponse,
)
from mlserve.control_plane.stack import ServingStack
from mlserve.errors import InvalidInputError
from mlserve.serving.predictor import PredictionBatch, TextPrediction
from mlserve.settings import Settings

router = APIRouter(tags=["predict"])
Body = TypeVar("Body", bound=BaseModel)
_JSON_BYTES_PER_CHAR = 6
"""The most a character can take in a JSON string (``\\uXXXX``)."""


def max_body_bytes(settings: Settings) -> int:
    """The largest predict body worth reading: ``max_batch_texts`` texts of
    ``max_text_length`` characters, each fully escaped, plus room for the other fields."""
    per_text = settings.max_text_length * _JSON_BYTES_PER_CHAR + 8
    return max(1, settings.max_batch_texts) * per_text + 4096


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses ``model`` itself."""
    schema = {"schema": model.model_json_schema()}
    invalid = "Invalid input: the error names the field, the limit and the fix."
    return {
        "requestBody": {"required": True, "content": {"application/json": schema}},
        "responses": {"422": {"description": invalid}},
    }


def _parse(body: bytes, model: type[Body]) -> Body:
    """``model`` from a JSON body; InvalidInputError (422) naming each bad field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_body(exc.errors(include_url=False)) from None


async def predict_answer(stack: ServingStack, body: bytes) -> dict[str, Any]:
    """The ``/predict`` answer to ``body`` (a :class:`PredictRequest`), as JSON-ready data.

    Raises MLServeError subclasses: 422 bad input, 404 unknown model, 429, 503, 504."""
    batch = await stack.predictor.replay(body)
    if batch is None:
        request = _parse(body, PredictRequest)
        _check_length(request.text, "text", stack.settings.max_text_length)
        batch = await stack.predictor.predict_texts(
            request.model_version or request.model,
            [request.text],
            version=request.version,
            timeout_ms=request.timeout_ms,
            remember_as=body,
        )
    (answer,) = batch.predictions
    payload = _prediction(answer)
    payload.update(_served_by(batch))
    payload["latency_ms"] = _rounded(batch.latency_ms, 3)
    payload["triton_ms"] = _triton_ms(batch)
    return payload


async def batch_predict_answer(stack: ServingStack, body: bytes) -> dict[str, Any]:
    """The ``/batch-predict`` answer to ``body`` (a :class:`BatchPredictRequest`); raises
    as :func:`predict_answer` does, and 422 outside 1..``max_batch_texts`` texts."""
    batch = await stack.predictor.replay(body, endpoint="batch-predict")
    if batch is None:
        batch = await _batch_predict(stack, body)
    payload = _served_by(batch)
    payload["predictions"] = [_prediction(p) for p in batch.predictions]
    payload["total_latency_ms"] = _rounded(batch.latency_ms, 3)
    payload["triton_ms"] = _triton_ms(batch)
    return payload


async def _batch_predict(stack: ServingStack, body: bytes) -> PredictionBatch:
    request = _parse(body, BatchPredictRequest)
    limit = stack.settings.max_batch_texts
    if not 1 <= len(request.texts) <= limit:
        raise InvalidInputError(
            f"texts has {len(request.texts)} items; send between 1 and {limit} "
            "(max_batch_texts), splitting larger batches"
        )
    for index, text in enumerate(request.texts):
        _check_length(text, f"texts[{index}]", stack.settings.max_text_length)
    return await stack.predictor.predict_texts(
        request.model_version or request.model,
        request.texts,
        version=request.version,
        timeout_ms=request.timeout_ms,
        endpoint="batch-predict",
        remember_as=body,
    )


@router.post("/predict", response_model=PredictResponse, openapi_extra=_body(PredictRequest))
async def predict(request: Request) -> Response:
    """Classify one text with the default or named model."""
    return json_response(await predict_answer(stack_of(request), await request.body()))


@router.post(
    "/batch-predict", response_model=BatchPredictResponse, openapi_extra=_body(BatchPredictRequest)
)
async def batch_predict(request: Request) -> Response:
    """Classify several texts in one Triton request."""
    return json_response(await batch_predict_answer(stack_of(request), await request.body()))


def _check_length(text: str, field: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidInputError(
            f"{field} has {len(text)} characters; the limit is {limit} (max_text_length): "
            "shorten the text or split it"
        )


def _prediction(p: TextPrediction) -> dict[str, Any]:
    """One answer as in :class:`~mlserve.control_plane.schemas.Prediction`."""
    return {
        "label": p.label,
        "confidence": _rounded(p.confidence, 6),
        "probabilities": p.probabilities,
        "truncated": p.truncated,
        "cached": p.cached,
    }


def _served_by(batch: PredictionBatch) -> dict[str, Any]:
    return {
        "model_version": f"{batch.model}-v{batch.version}",
        "model": batch.model,
        "version": f"v{batch.version}",
    }


def _triton_ms(batch: PredictionBatch) -> float | None:
    return _rounded(batch.triton_ms, 3) if batch.triton_ms is not None else None


def _rounded(value: float, places: int) -> float:
    """``value`` to ``places`` decimals, as numpy rounds the probabilities: a scaled integer
    round. Python's correctly rounded ``round(x, n)`` formats the float (~1 µs each here);
    the two differ only within a rounding error of a half in the last place. NaN and
    infinities (a broken model's output) pass through, as ``round(x, n)`` let them."""
    if not math.isfinite(value):
        return value
    scale = 10.0**places
    return round(value * scale) / scale
