"""The one place errors become HTTP responses: ``{"error": "..."}`` with the right status.

Domain code raises :class:`~mlserve.errors.MLServeError` subclasses; request validation
errors become 422s naming the field and the constraint; a body over its route's limit
becomes a 413 naming the limit; a 401 carries ``WWW-Authenticate: Bearer``; a 405 (and an
``OPTIONS`` request, answered 204) carries the ``Allow`` header of every route on the path;
anything unexpected is logged with its traceback and answered with a 500 that carries no
internals. :class:`ErrorBody` and :func:`error_responses` document these answers in OpenAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlserve.errors import InvalidInputError, MLServeError, OverloadedError, UnauthorizedError
from mlserve.monitoring.request_context import current_request

log = logging.getLogger(__name__)

_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

UNEXPECTED_ERROR = {"error": "internal error; the server log has the details"}
"""The body of every 500: the traceback goes to the log, never to the client."""


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, the limit and the fix, in one sentence."""

    error: str = Field(description="What went wrong and how to fix it.")
    detail: Any = Field(
        default=None,
        description="Machine-readable detail where there is some (e.g. pydantic's "
        "``loc``/``msg``/``type`` list on a 422).",
    )


_ERROR_MEANINGS = {
    400: "Malformed request: the error names what could not be read.",
    401: "Missing, expired or revoked bearer token (get one from POST /api/v1/token).",
    403: "The token is valid but its role may not do this (admin only).",
    404: "Unknown model, version or resource; the error lists what exists.",
    409: "Conflicts with the current state (exists already, or in the wrong state).",
    413: "Request body over this route's limit; the error names the limit.",
    422: "Invalid input: the error names the field, the limit and the fix.",
    429: "Too many requests; retry after the Retry-After header's seconds.",
    502: "Triton or the model failed on this request; the error says how.",
    503: "A dependency (Triton, the state store) is not ready; retry shortly.",
    504: "The request's deadline passed; the error names the stage (queue or inference).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each answered with :class:`ErrorBody`."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _ERROR_MEANINGS[status]}
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        if status == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[status] = entry
    return responses


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app`` (and :class:`TooLargeAsJson` in its middleware)."""
    app.add_exception_handler(MLServeError, _mlserve_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(TooLargeAsJson)


def error_parts(exc: MLServeError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, JSON body and headers that answer ``exc`` (``Retry-After`` on a 429)."""
    current_request().record_error(exc)
    headers = {}
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, UnauthorizedError):
        headers["WWW-Authenticate"] = "Bearer"
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
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}; see /docs for the API"
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
        message = (
            f"{request.method} is not allowed on {request.url.path}; allowed: "
            f"{', '.join(allowed)} (see /docs)"
        )
    if exc.status_code == 413:
        message = _too_large(request)
    if exc.status_code == 400 and message == "There was an error parsing the body":
        message = (
            "request body could not be read: send UTF-8 JSON (or the form the route takes), "
            "as /docs shows for this route"
        )
    current_request().record_error(exc)
    return json_response({"error": message}, status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on ``request``'s path, plus ``OPTIONS``.

    Starlette's own ``Allow`` names only the first route whose path matched, so a path with a
    GET and a POST route (``/api/v1/abtest/{name}``) claimed to allow one of them. Each method
    is tried against the app's routes as the router itself would match it."""
    methods = {"OPTIONS"}
    for method in _HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return sorted(methods)


def _too_large(request: Request) -> str:
    return too_large_message(request.scope)


def too_large_message(scope: Scope) -> str:
    """The 413 message for the request of ``scope``: the route's limit and the fix."""
    limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    where = f"{scope.get('method')} {scope.get('path')}"
    if not isinstance(limit, int):
        return f"request body is too large for {where}; send a smaller body"
    return (
        f"request body is over {_size(limit)}, the limit for {where}: send a smaller body "
        "(fewer records or items per request, split larger batches)"
    )


class TooLargeAsJson:
    """ASGI middleware: Starlette's body limit answers a declared ``Content-Length`` over the
    limit with its own plain-text ``413 Content Too Large`` (replacing whatever the app
    sends); this puts the house ``{"error": ...}`` body naming the limit in its place."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_json_413(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the plain-text body of the response we replaced
            if message["type"] == "http.response.start" and _is_plain_413(message):
                replaced = True
                body = orjson.dumps({"error": too_large_message(scope)})
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                    (b"connection", b"close"),
                ]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_json_413)


def _is_plain_413(message: Message) -> bool:
    if message.get("status") != 413:
        return False
    headers = dict(message.get("headers", []))
    return bytes(headers.get(b"content-type", b"")).startswith(b"text/plain")


def _size(limit: int) -> str:
    if limit >= 2**20 and limit % 2**20 == 0:
        return f"{limit // 2**20} MiB"
    if limit >= 2**10 and limit % 2**10 == 0:
        return f"{limit // 2**10} KiB"
    return f"{limit} bytes"


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
        reason = (error.get("ctx") or {}).get("error") or message
        return (
            f"request body is not valid JSON ({reason}); send a JSON object as /docs shows "
            'for this route, e.g. {"text": "..."} for /predict'
        )
    if error.get("type") == "missing":
        return f"{field} is required"
    if field == "body" and error.get("type") in (
        "model_attributes_type",
        "model_type",
        "dict_type",
    ):
        return (
            "request body must be a JSON object (as /docs shows for this route, e.g. "
            '{"text": "..."} for /predict), sent with content-type: application/json'
        )
    return f"{field}: {message}"


def _jsonable(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [str(p) for p in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }
