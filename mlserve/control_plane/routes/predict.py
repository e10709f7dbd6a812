"""``POST /predict`` and ``POST /batch-predict``: text classification.

These are the hot routes, so they skip FastAPI's per-request body and dependency machinery:
the body is validated straight from bytes by its pydantic model (and read as JSON whatever
content type the client claimed: ``curl -d`` says form-encoded), and the answer is
serialized by orjson from the domain's dataclasses. OpenAPI still documents both shapes
(``openapi_extra`` and ``response_model``); the tests hold the contract.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from mlserve.control_plane.dependencies import stack_of
from mlserve.control_plane.errors import json_response
from mlserve.control_plane.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    PredictRequest,
    PredictResponse,
)
from mlserve.errors import InvalidInputError
from mlserve.serving.predictor import PredictionBatch, TextPrediction

router = APIRouter(tags=["predict"])
Body = TypeVar("Body", bound=BaseModel)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses ``model`` itself."""
    schema = {"schema": model.model_json_schema()}
    invalid = "Invalid input: the error names the field, the limit and the fix."
    return {
        "requestBody": {"required": True, "content": {"application/json": schema}},
        "responses": {"422": {"description": invalid}},
    }


async def _parse(request: Request, model: type[Body]) -> Body:
    """``model`` from the JSON body, whatever content type the client claimed (``curl -d``
    says form-encoded); validation errors become the usual 422."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post("/predict", response_model=PredictResponse, openapi_extra=_body(PredictRequest))
async def predict(request: Request) -> Response:
    """Classify one text with the default or named model."""
    body = await _parse(request, PredictRequest)
    stack = stack_of(request)
    _check_length(body.text, "text", stack.settings.max_text_length)
    batch = await stack.predictor.predict_texts(
        body.model_version or body.model,
        [body.text],
        version=body.version,
        timeout_ms=body.timeout_ms,
    )
    (answer,) = batch.predictions
    payload = _prediction(answer)
    payload.update(_served_by(batch))
    payload["latency_ms"] = round(batch.latency_ms, 3)
    payload["triton_ms"] = _triton_ms(batch)
    return json_response(payload)


@router.post(
    "/batch-predict", response_model=BatchPredictResponse, openapi_extra=_body(BatchPredictRequest)
)
async def batch_predict(request: Request) -> Response:
    """Classify several texts in one Triton request."""
    body = await _parse(request, BatchPredictRequest)
    stack = stack_of(request)
    limit = stack.settings.max_batch_texts
    if not 1 <= len(body.texts) <= limit:
        raise InvalidInputError(
            f"texts has {len(body.texts)} items; send between 1 and {limit} "
            "(max_batch_texts), splitting larger batches"
        )
    for index, text in enumerate(body.texts):
        _check_length(text, f"texts[{index}]", stack.settings.max_text_length)
    batch = await stack.predictor.predict_texts(
        body.model_version or body.model,
        body.texts,
        version=body.version,
        timeout_ms=body.timeout_ms,
        endpoint="batch-predict",
    )
    payload = _served_by(batch)
    payload["predictions"] = [_prediction(p) for p in batch.predictions]
    payload["total_latency_ms"] = round(batch.latency_ms, 3)
    payload["triton_ms"] = _triton_ms(batch)
    return json_response(payload)


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
        "confidence": round(p.confidence, 6),
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
    return round(batch.triton_ms, 3) if batch.triton_ms is not None else None
