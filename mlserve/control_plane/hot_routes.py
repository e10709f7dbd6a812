"""The predict routes answered ahead of FastAPI, as plain ASGI.

``POST /predict`` and ``POST /batch-predict`` carry nearly all of the traffic. Through
FastAPI each request passes its middleware stack, a match against every route and a
``Request``/``Response`` pair: on a 2-core VM a minimal FastAPI route served 12,400 req/s
where the same handler as plain ASGI on the same uvicorn served 30,600, about 50 µs of CPU
per request, a third of what a cache hit cost in all. :class:`HotRoutes` answers exactly
these paths itself (read the body, call the handler, write JSON) and passes every other
request to the app behind it untouched; :class:`ControlPlaneApp` puts it in front of
FastAPI's own middleware. Its handlers are the functions the FastAPI routes call
(:mod:`mlserve.control_plane.routes.predict`), so OpenAPI documents them, and errors become
the same ``{"error": ...}`` bodies (:func:`error_parts`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlserve.control_plane.errors import UNEXPECTED_ERROR, error_parts
from mlserve.errors import MLServeError, PayloadTooLargeError
from mlserve.monitoring.request_context import current_request

log = logging.getLogger(__name__)

BodyHandler = Callable[[bytes, Sequence[tuple[bytes, bytes]]], Awaitable[Any]]
"""A request body and its raw headers in, the JSON-ready answer out; raises MLServeError
subclasses."""

_JSON = (b"content-type", b"application/json")
_NO_HEADERS: Mapping[str, str] = {}
"""An answer's own headers when it has none (shared, never written to)."""


PathHandler = Callable[[str, bytes, Sequence[tuple[bytes, bytes]]], Awaitable[Any]]
"""Like :data:`BodyHandler`, with the request path first (routes with path parameters)."""


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """An answer a handler has already encoded (not JSON, or with its own headers)."""

    body: bytes
    content_type: bytes = b"application/json"
    headers: tuple[tuple[bytes, bytes], ...] = ()


class _DisconnectedError(Exception):
    """The client went away before its body arrived."""


class HotRoutes:
    """Answers ``POST`` on each path of ``routes`` with its handler; the rest goes to ``app``.

    A body over ``max_body_bytes`` gets a 413 without being read further. An unexpected
    exception is logged with its traceback and answered with a bare 500.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, BodyHandler],
        max_body_bytes: int,
        prefix_routes: Mapping[tuple[str, str], PathHandler] | None = None,
        passed_on: Mapping[tuple[str, str], Callable[[Scope], bool]] | None = None,
        before_app: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.before_app = before_app
        """Run before a request goes on to ``app`` (the pending bookkeeping: what the
        metrics, statistics and monitoring routes read is then up to date)."""
        self.routes = dict(routes)
        self.prefix_routes = dict(prefix_routes or {})
        """``(prefix, suffix)`` of a path -> its handler (e.g. ``/v2/models/`` ... ``/infer``)."""
        self.passed_on = dict(passed_on or {})
        """``(prefix, suffix)`` -> which of its requests go to the app's own route instead."""
        self.max_body_bytes = max_body_bytes

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function returning the coroutine that answers: one coroutine fewer per
        # request than an ``async def`` awaiting it (this object is always wrapped, never
        # the app a server inspects for its ASGI version).
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            handler = self.routes.get(path)
            if handler is not None:
                return self._answer(handler, scope, receive, send)
            for (prefix, suffix), path_handler in self.prefix_routes.items():
                if path.startswith(prefix) and path.endswith(suffix):
                    passes = self.passed_on.get((prefix, suffix))
                    if passes is not None and passes(scope):
                        break
                    return self._answer(partial(path_handler, path), scope, receive, send)
        if self.before_app is not None:
            self.before_app()
        return self.app(scope, receive, send)

    async def _answer(
        self, handler: BodyHandler, scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers: Mapping[str, str] = _NO_HEADERS
        try:
            status, payload = 200, await handler(await self._body(receive), scope["headers"])
        except _DisconnectedError:
            return
        except MLServeError as exc:
            status, payload, headers = error_parts(exc)
        except Exception as exc:
            current_request().record_error(exc)
            log.exception("unhandled error answering a predict request")
            status, payload = 500, UNEXPECTED_ERROR
        if isinstance(payload, RawAnswer):
            content = payload.body
            raw_headers = [(b"content-type", payload.content_type), *payload.headers]
            raw_headers.append((b"content-length", b"%d" % len(content)))
        else:
            content = orjson.dumps(payload)
            raw_headers = [_JSON, (b"content-length", b"%d" % len(content))]
        if headers:  # an error's own headers (Retry-After)
            raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})

    async def _body(self, receive: Receive) -> bytes:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False) and len(body) <= self.max_body_bytes:
            return body  # the usual case: the whole body in one message
        parts = [body]
        size = len(body)
        while message.get("more_body", False) and size <= self.max_body_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _DisconnectedError
            parts.append(message.get("body", b""))
            size += len(parts[-1])
        if size > self.max_body_bytes:
            raise PayloadTooLargeError(
                f"request body is over {self.max_body_bytes} bytes, more than "
                "max_batch_texts texts of max_text_length characters can take; "
                "send fewer or shorter texts"
            )
        return b"".join(parts)


class ControlPlaneApp(FastAPI):
    """FastAPI with :class:`HotRoutes` answering before any of its middleware runs."""

    _entry: ASGIApp | None = None

    def install_hot_routes(
        self,
        routes: Mapping[str, BodyHandler],
        max_body_bytes: int,
        prefix_routes: Mapping[tuple[str, str], PathHandler] | None = None,
        passed_on: Mapping[tuple[str, str], Callable[[Scope], bool]] | None = None,
        before_app: Callable[[], None] | None = None,
    ) -> None:
        """Answer ``POST`` on ``routes`` (and ``prefix_routes``) with their handlers, except
        the requests ``passed_on`` picks, which the FastAPI route answers (after
        ``before_app``)."""
        fallback = partial(FastAPI.__call__, self)
        self._entry = HotRoutes(
            fallback,
            routes=routes,
            max_body_bytes=max_body_bytes,
            prefix_routes=prefix_routes,
            passed_on=passed_on,
            before_app=before_app,
        )

    def wrap_entry(self, wrapper: Callable[[ASGIApp], ASGIApp]) -> None:
        """Put ``wrapper(entry)`` in front of everything, hot routes included (the
        :class:`~mlserve.control_plane.access.TokenGate`, the request log)."""
        self._entry = wrapper(self._entry or partial(FastAPI.__call__, self))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._entry is None:
            await super().__call__(scope, receive, send)
        else:
            await self._entry(scope, receive, send)
