"""The one error hierarchy of mlserve.

Domain code raises these; only the HTTP edge (``mlserve.control_plane.errors``) and the CLI
turn them into responses or exit codes. Each class carries the HTTP status it maps to, so
the domain never imports FastAPI. Messages are written for the user: they name the field,
the limit and the fix.
"""

from __future__ import annotations

from typing import Any


class MLServeError(Exception):
    """Root of every error mlserve raises on purpose."""

    status_code: int = 500

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """The JSON body sent to HTTP clients: always ``{"error": message}`` plus detail."""
        body: dict[str, Any] = {"error": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class BadRequestError(MLServeError):
    """The request is malformed in a way validation could not express (400)."""

    status_code = 400


class UnauthorizedError(MLServeError):
    """Missing, expired or revoked credentials (401)."""

    status_code = 401


class ForbiddenError(MLServeError):
    """Authenticated, but the role does not allow this (403)."""

    status_code = 403


class NotFoundError(MLServeError):
    """An unknown model, version or resource; the message lists what exists (404)."""

    status_code = 404


class ConflictError(MLServeError):
    """The resource exists already or is in the wrong state (409)."""

    status_code = 409


class PayloadTooLargeError(MLServeError):
    """An upload above a configured size limit (413)."""

    status_code = 413


class InvalidInputError(MLServeError):
    """Input that parses but breaks a documented limit or rule (422)."""

    status_code = 422


class OverloadedError(MLServeError):
    """Too many requests in flight for a model; retry after ``retry_after`` seconds (429)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: float = 1.0, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class ServiceUnavailableError(MLServeError):
    """Triton, Redis or another dependency is down or not ready (503)."""

    status_code = 503


class DeadlineExceededError(MLServeError):
    """The request ran out of time; ``stage`` says where (queue or inference) (504)."""

    status_code = 504

    def __init__(self, message: str, *, stage: str, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.stage = stage


class ConversionError(MLServeError):
    """A model could not be exported to ONNX or is not a supported kind (400)."""

    status_code = 400


class ParityError(ConversionError):
    """The ONNX export disagrees with the native model; ``detail`` holds the report."""


class SettingsError(MLServeError):
    """A setting from the environment or the config file is invalid: nothing can start."""


class TritonError(MLServeError):
    """Triton answered with an error we did not expect (502)."""

    status_code = 502
