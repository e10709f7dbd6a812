"""Reading HTTP input for ``/api/v1`` with errors in the house style.

For routes that read their body themselves (multipart deploys, the predict routes): every
bad input becomes an :class:`~mlserve.errors.MLServeError` whose message names the field,
the limit and the fix, and the one error handler renders it as ``{"error": ...}``. Routes
with typed bodies leave this to FastAPI and pydantic.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from mlserve.control_plane.json_limits import check_json_depth
from mlserve.errors import BadRequestError, InvalidInputError, PayloadTooLargeError

MAX_JSON_BYTES = 16 * 1024 * 1024
"""Largest JSON body :func:`read_json` reads unless told (the route's own ``max_body_size``
usually refuses a large body first)."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(_too_large(int(declared), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, example: str, limit: int = MAX_JSON_BYTES) -> Any:
    """The JSON body; BadRequestError when it is missing or not JSON, InvalidInputError when
    it nests deeper than ``MAX_JSON_DEPTH``."""
    raw = await read_body(request, limit)
    if not raw.strip():
        raise BadRequestError(f"request body is empty: send JSON like {example}")
    check_json_depth(raw)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequestError(
            f"request body is not valid JSON ({exc}); send e.g. {example}"
        ) from None


async def read_form(
    request: Request, *, limit: int, max_files: int = 4, max_part_size: int = 1024 * 1024
) -> FormData:
    """Parse a multipart or urlencoded form, refusing bodies over ``limit`` bytes while they
    stream in (Content-Length is checked first; chunked bodies are counted)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(_too_large(int(declared), limit))
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLargeError(_too_large(received, limit))
        return message

    limited = Request(request.scope, receive)
    try:
        return await limited.form(max_files=max_files, max_fields=64, max_part_size=max_part_size)
    except HTTPException as exc:
        raise BadRequestError(f"the form could not be parsed: {exc.detail}") from None


def form_text(form: FormData, field: str, *, required: bool = False) -> str | None:
    value = form.get(field)
    if value is None or value == "":
        if required:
            raise InvalidInputError(f"form field {field!r} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"form field {field!r} must be text, not a file")
    return value


def int_query(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputError(f"{field} must be an integer (got {value!r})") from None
    if not low <= number <= high:
        raise InvalidInputError(f"{field} must be {low}-{high} (got {number})")
    return number


def float_query(value: str | None, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInputError(f"{field} must be a number (got {value!r})") from None


def bool_query(value: str | None, field: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidInputError(f"{field} must be true or false (got {value!r})")


def _too_large(size: int, limit: int) -> str:
    return (
        f"request body is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB — send "
        "a smaller model or fewer records per request"
    )
