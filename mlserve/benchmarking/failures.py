"""Turning client-side failures into one-line ``MLServeError``s and error kinds.

Before a run, a server that is down or a model that does not exist must end the benchmark
with one clear line. During a run, failures are only counted, by a short kind such as
``http_429``, ``timeout``, ``connection`` or ``grpc_unavailable``.
"""

from __future__ import annotations

import httpx

from mlserve.errors import (
    BadRequestError,
    ForbiddenError,
    InvalidInputError,
    MLServeError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    TritonError,
    UnauthorizedError,
)

_BY_STATUS: dict[int, type[MLServeError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    429: OverloadedError,
    503: ServiceUnavailableError,
}


def error_for_status(status: int, message: str) -> MLServeError:
    """The ``MLServeError`` subclass matching an HTTP status (502 ``TritonError`` otherwise)."""
    return _BY_STATUS.get(status, TritonError)(message)


def response_error_text(response: httpx.Response) -> str:
    """The server's own message: the ``error`` field of a JSON body, else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or f"HTTP {response.status_code}"
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return str(body)[:200]


def describe_http_error(exc: httpx.HTTPError) -> str:
    """A few words on why an HTTP call failed."""
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def http_error_kind(exc: httpx.HTTPError) -> str:
    """The error kind of a failed HTTP call."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TransportError):
        return "connection"
    return type(exc).__name__
