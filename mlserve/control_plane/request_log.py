"""One log line per request, written when the answer has been sent.

:class:`RequestLog` is plain ASGI and wraps the whole control plane, the hot predict routes
included. Per request it takes the ``X-Request-ID`` header (or makes one), echoes it in the
answer, opens the :mod:`~mlserve.monitoring.request_context` record domain code fills in,
and at the end writes::

    {"ts": "2026-12-05T08:01:02.345Z", "request_id": "…", "method": "POST",
     "route": "/predict", "status": 200, "latency_ms": 3.1, "model": "sentiment",
     "version": 3, "cached": false, "routed_by": null, "timings": {"triton_ms": 2.2},
     "error": {"type": "InvalidInputError", "message": "…"}}   (errors only)

as JSON (``logging.format: json``) or as one readable text line. Request bodies are added
(truncated) only with ``logging.payloads: true``. The line goes to ``sys.stdout`` as it is
at write time, one ``write`` per line.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlserve.monitoring.request_context import RequestRecord, close_request, open_request
from mlserve.settings import LoggingSettings

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_HEADER = b"x-request-id"


def resolve_format(settings: LoggingSettings) -> Literal["json", "text"]:
    if settings.format != "auto":
        return settings.format
    return "text" if sys.stdout.isatty() else "json"


class RequestLog:
    """ASGI wrapper that writes the request log line of every HTTP request."""

    def __init__(self, app: ASGIApp, settings: LoggingSettings) -> None:
        self.app = app
        self.json = resolve_format(settings) == "json"
        self.payloads = settings.payloads
        self.payload_max_bytes = settings.payload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        header = (_HEADER, request_id.encode())
        record, token = open_request(request_id)
        status = 500
        body: list[bytes] | None = [] if self.payloads else None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        async def receive_copy() -> Message:
            message = await receive()
            if body is not None and message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        try:
            await self.app(scope, receive_copy if body is not None else receive, send_with_id)
        except BaseException as exc:
            record.record_error(exc)
            raise
        finally:
            close_request(token)
            latency_ms = (time.perf_counter() - started) * 1000
            payload = b"".join(body)[: self.payload_max_bytes] if body is not None else None
            line = self._line(scope, status, latency_ms, record, payload)
            sys.stdout.write(line)
            sys.stdout.flush()

    def _line(
        self,
        scope: Scope,
        status: int,
        latency_ms: float,
        record: RequestRecord,
        payload: bytes | None,
    ) -> str:
        if self.json:
            fields: dict[str, Any] = {
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "request_id": record.request_id,
                "method": scope["method"],
                "route": scope["path"],
                "status": status,
                "latency_ms": round(latency_ms, 3),
                "model": record.model,
                "version": record.version,
                "cached": record.cached,
                "routed_by": record.routed_by,
            }
            if record.timings:
                fields["timings"] = {k: round(v, 3) for k, v in record.timings.items()}
            if record.error_type:
                fields["error"] = {"type": record.error_type, "message": record.error_message}
            if payload is not None:
                fields["payload"] = payload.decode("utf-8", "replace")
            return orjson.dumps(fields).decode() + "\n"
        parts = [
            datetime.now().strftime("%H:%M:%S.%f")[:-3],
            scope["method"],
            scope["path"],
            str(status),
            f"{latency_ms:.1f}ms",
            f"id={record.request_id}",
        ]
        if record.model:
            parts.append(f"model={record.model} v{record.version}")
        if record.cached is not None:
            parts.append(f"cached={str(record.cached).lower()}")
        if record.routed_by:
            parts.append(f"routed_by={record.routed_by}")
        if record.timings:
            parts += [f"{k}={v:.1f}" for k, v in record.timings.items()]
        if record.error_type:
            parts.append(f"error={record.error_type}: {record.error_message}")
        if payload is not None:
            parts.append(f"payload={payload.decode('utf-8', 'replace')!r}")
        return " ".join(parts) + "\n"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER:
            return value.decode() if _REQUEST_ID.fullmatch(value) else None
    return None
