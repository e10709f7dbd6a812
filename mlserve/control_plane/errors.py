"""The one place errors become HTTP responses: ``{"error": "..."}`` with the right status.

Domain code raises :class:`~mlserve.errors.MLServeError` subclasses; request validation
errors become 422s naming the field and the constraint; anything unexpected is logged with
its traceback and answered with a 500 that carries no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlserve.errors import InvalidInputError, MLServeError, OverloadedError
from mlserve.monitoring.request_context import current_request

log = logging.getLogger(__name__)

UNEXPECTED_ERROR = {"error": "internal error; the server log has the details"}
"""The body of every 500: the traceback goes to the log, never to the client."""


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(MLServeError, _mlserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


def error_parts(exc: MLServeError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, JSON body and headers that answer ``exc`` (``Retry-After`` on a 429)."""
    current_request().record_error(exc)
    headers = {}
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return exc.status_code, exc.to_dict(), headers


def invalid_body(errors: Sequence[Any]) -> InvalidInputError:
    """The 422 for pydantic's ``errors()`` on a request body: each field, what is wrong."""
    return InvalidInputError(
        "; ".join(_describe(error) for error in errors),
        detail=[_jsonable(error) for error in errors],
    )


async def _mlserve_error(request: Request, exc: MLServeError) -> Response:
    status, body, headers = error_parts(exc)
    return json_response(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return await _mlserve_error(request, invalid_body(exc.errors()))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}; see /docs for the API"
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs"
    current_request().record_error(exc)
    return json_response(
        {"error": message}, status_code=exc.status_code, headers=dict(exc.headers or {})
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    current_request().record_error(exc)
    return json_response(UNEXPECTED_ERROR, status_code=500)


def json_response(
    data: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response serialized with orjson."""
    return Response(
        orjson.dumps(data), status_code=status_code, headers=headers, media_type="application/json"
    )


def _describe(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or "body"
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid":
        return 'request body is not valid JSON; send a JSON object such as {"text": "..."}'
    if error.get("type") == "missing":
        return f"{field} is required"
    if field == "body" and error.get("type") in (
        "model_attributes_type",
        "model_type",
        "dict_type",
    ):
        return (
            'request body must be a JSON object such as {"text": "..."}, sent with '
            "content-type: application/json"
        )
    return f"{field}: {message}"


def _jsonable(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [str(p) for p in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }
