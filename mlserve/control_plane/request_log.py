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
(truncated) only with ``logging.payloads: true``. Lines go to the process's standard output
(its file descriptor, not whatever ``sys.stdout`` is redirected to while a line is written)
through a :class:`~mlserve.control_plane.line_sink.LineSink`, or to ``stream``; either way
they are written in batches at most ``FLUSH_AFTER_S`` after they were made, and at exit.
Given the stack's :class:`~mlserve.dataplane.bookkeeping.Bookkeeping`, a line is made with
the rest of a request's bookkeeping, while the loop waits for Triton (its time stamp is
taken when the answer has been sent).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import itertools
import os
import re
import sys
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Literal, Protocol, TextIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlserve.control_plane.line_sink import LineSink
from mlserve.dataplane.bookkeeping import Bookkeeping
from mlserve.monitoring.request_context import RequestRecord, close_request, open_request
from mlserve.rounding import round3
from mlserve.settings import LoggingSettings

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_HEADER = b"x-request-id"
FLUSH_AFTER_S = 0.1
"""Lines are flushed together at most this long after they were written (one write
syscall per batch instead of per request)."""


class _RequestIds:
    """Process-unique ids: a random prefix and a counter (cheaper than uuid4 per request)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


class _UtcClock:
    """ISO-8601 UTC timestamps with milliseconds; the date part is formatted once a second
    and the millisecond suffixes once (a formatted timestamp per request cost ~1.5 µs)."""

    _MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        return self.at(time.time())

    def at(self, seconds: float) -> str:
        """``seconds`` since the epoch (``time.time()``), formatted."""
        millis = int(seconds * 1000)
        second = millis // 1000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._prefix + self._MILLIS[millis - second * 1000]


def resolve_format(settings: LoggingSettings, stream: TextIO | None) -> Literal["json", "text"]:
    if settings.format != "auto":
        return settings.format
    return "text" if stream is not None and stream.isatty() else "json"


class LineOutput(Protocol):
    """Where finished lines go."""

    def write(self, line: bytes) -> None: ...

    def flush(self) -> None: ...


class _TextOutput:
    """Lines to a text stream (tests, or a stream given by the caller)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, line: bytes) -> None:
        with contextlib.suppress(ValueError, OSError):  # a closed or broken stream
            self.stream.write(line.decode())

    def flush(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.stream.flush()


@functools.cache
def stdout_sink() -> LineSink | None:
    """The process's one sink on its standard output (None without one), flushed at exit."""
    stdout = sys.__stdout__
    try:
        fd = stdout.fileno() if stdout is not None else -1
    except (OSError, ValueError):  # replaced by an object without a descriptor
        fd = -1
    if fd < 0:
        return None
    sink = LineSink(fd)
    atexit.register(sink.flush)
    return sink


class RequestLog:
    """ASGI wrapper that writes the request log line of every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        settings: LoggingSettings,
        stream: TextIO | None = None,
        *,
        bookkeeping: Bookkeeping | None = None,
    ) -> None:
        self.app = app
        self.bookkeeping = bookkeeping
        """Where a finished request's line waits to be written (None: written at once)."""
        self.output: LineOutput | None = (
            _TextOutput(stream) if stream is not None else stdout_sink()
        )
        self.json = (
            resolve_format(settings, stream if stream is not None else sys.__stdout__) == "json"
        )
        self.payloads = settings.payloads
        self.payload_max_bytes = settings.payload_max_bytes
        self._ids = _RequestIds()
        self._clock = _UtcClock()
        self._flush_pending = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or self._ids.next()
        header = (_HEADER, request_id.encode())
        record, token = open_request(request_id)
        status = 500
        body: list[bytes] | None = [] if self.payloads else None

        def send_with_id(message: Message) -> Awaitable[None]:
            # A plain function handing back ``send``'s awaitable: no coroutine of its own
            # for each of a request's two messages.
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            return send(message)

        received = receive
        if body is not None:
            copied = body

            async def receive_copy() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    copied.append(message.get("body", b""))
                return message

            received = receive_copy
        try:
            await self.app(scope, received, send_with_id)
        except BaseException as exc:
            record.record_error(exc)
            raise
        finally:
            close_request(token)
            latency_ms = (time.perf_counter() - started) * 1000
            payload = b"".join(body)[: self.payload_max_bytes] if body is not None else None
            if self.output is not None:
                ended = time.time()
                if self.bookkeeping is not None:
                    self.bookkeeping.defer(
                        self._write_line, ended, scope, status, latency_ms, record, payload
                    )
                else:
                    self._write_line(ended, scope, status, latency_ms, record, payload)

    def _write_line(
        self,
        ended: float,
        scope: Scope,
        status: int,
        latency_ms: float,
        record: RequestRecord,
        payload: bytes | None,
    ) -> None:
        if self.output is not None:
            self.output.write(self._line(ended, scope, status, latency_ms, record, payload))
            if not self._flush_pending:
                self._schedule_flush()

    def _schedule_flush(self) -> None:
        self._flush_pending = True
        try:
            asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self._flush)
        except RuntimeError:
            self._flush()

    def _flush(self) -> None:
        self._flush_pending = False
        if self.output is not None:
            self.output.flush()

    def _line(
        self,
        ended: float,
        scope: Scope,
        status: int,
        latency_ms: float,
        record: RequestRecord,
        payload: bytes | None,
    ) -> bytes:
        if self.json:
            fields: dict[str, Any] = {
                "ts": self._clock.at(ended),
                "request_id": record.request_id,
                "method": scope["method"],
                "route": scope["path"],
                "status": status,
                "latency_ms": int(latency_ms * 1000) / 1000,
                "model": record.model,
                "version": record.version,
                "cached": record.cached,
                "routed_by": record.routed_by,
            }
            if record.timings:
                fields["timings"] = {k: round3(v) for k, v in record.timings.items()}
            if record.error_type:
                fields["error"] = {"type": record.error_type, "message": record.error_message}
            if payload is not None:
                fields["payload"] = payload.decode("utf-8", "replace")
            return orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
        parts = [
            datetime.fromtimestamp(ended).strftime("%H:%M:%S.%f")[:-3],
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
        return (" ".join(parts) + "\n").encode()


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER:
            return value.decode() if _REQUEST_ID.fullmatch(value) else None
    return None
