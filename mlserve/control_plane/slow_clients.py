"""Read deadlines for request heads and bodies: slow clients (slowloris) are dropped.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no bound on how
long a client may take to *send* a request: 50 connections trickling a header byte every
few seconds were never dropped. These protocol classes (uvicorn's own httptools and h11
protocols, extended) give every request two deadlines:

- its head must be complete within ``server.header_timeout_s`` of its first byte (or of
  the connection opening, for a client that connects and sends nothing);
- its body must be complete within ``server.body_timeout_s`` of the end of the head.

A connection past a deadline gets ``408 Request Timeout`` (when no response has started)
and is closed. The hot path pays a few attribute writes per request and no clock read: one
sweep per second per worker keeps a coarse clock and checks all connections, instead of a
timer per request (so a deadline holds to within a second).

The deadlines come from the class attributes when set (:func:`with_deadlines`, used by
tests and embedding code), else from the process settings (``MLSERVE_SERVER__*``), so the
classes can be named by import path for uvicorn's worker processes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from mlserve.control_plane.response_writes import HeadWithBody

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 38\r\n\r\nrequest not received within the limit\n"
)


class _Sweeper:
    """Closes the connections of one event loop whose read deadline passed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.scheduled = False
        self.now = loop.time()
        """The loop's clock as of the last sweep (or registration): what deadlines count from."""

    def add(self, protocol: Any) -> None:
        self.connections.add(protocol)
        if not self.scheduled:
            self.scheduled = True
            self.now = self.loop.time()
            self.loop.call_later(SWEEP_INTERVAL_S, self.sweep)

    def sweep(self) -> None:
        now = self.now = self.loop.time()
        for protocol in list(self.connections):
            deadline = protocol.read_deadline
            if deadline is not None and now > deadline:
                protocol.drop_slow_client()
        if self.connections:
            self.loop.call_later(SWEEP_INTERVAL_S, self.sweep)
        else:
            self.scheduled = False


_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper] = (
    weakref.WeakKeyDictionary()
)


class ReadDeadlines:
    """Mixin over a uvicorn HTTP protocol: the deadline bookkeeping and the drop."""

    header_timeout_s: ClassVar[float | None] = None
    body_timeout_s: ClassVar[float | None] = None
    read_deadline: float | None = None
    _sweeper: _Sweeper
    _head_s: float
    _body_s: float

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    @classmethod
    def _timeouts(cls) -> tuple[float, float]:
        if cls.header_timeout_s is None or cls.body_timeout_s is None:
            from mlserve.settings import get_settings

            server = get_settings().server
            cls.header_timeout_s = server.header_timeout_s
            cls.body_timeout_s = server.body_timeout_s
        return cls.header_timeout_s, cls.body_timeout_s

    def _start_head_deadline(self) -> None:
        if self.read_deadline is None:
            self.read_deadline = self._sweeper.now + self._head_s

    def _start_body_deadline(self) -> None:
        self.read_deadline = self._sweeper.now + self._body_s

    def _register(self) -> None:
        sweeper = _sweepers.get(self.loop)
        if sweeper is None:
            sweeper = _sweepers[self.loop] = _Sweeper(self.loop)
        sweeper.add(self)
        self._sweeper = sweeper
        self._head_s, self._body_s = self._timeouts()
        self._start_head_deadline()

    def drop_slow_client(self) -> None:
        """Answer 408 if nothing was answered yet, then close the connection."""
        self.read_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        log.info("closed a connection that did not send its request in time")
        self.transport.close()


def _httptools_protocol() -> type[Any]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(ReadDeadlines, HttpToolsProtocol):
        """uvicorn's httptools protocol with read deadlines, writing each response with a
        body in one write (:class:`~mlserve.control_plane.response_writes.HeadWithBody`)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._register()

        def on_message_begin(self) -> None:
            self._start_head_deadline()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._start_body_deadline()
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None and cycle.transport is self.transport:  # a new request's
                cycle.transport = HeadWithBody(cycle, self.transport)

        def on_message_complete(self) -> None:
            self.read_deadline = None
            super().on_message_complete()

    # Pickled by reference when uvicorn spawns workers: the module-level name below.
    GuardedHttpToolsProtocol.__qualname__ = "GuardedHttpToolsProtocol"
    return GuardedHttpToolsProtocol


class GuardedH11Protocol(ReadDeadlines, H11Protocol):
    """uvicorn's h11 protocol with read deadlines (used when httptools is missing)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._register()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._start_head_deadline()
        phase_before = self.conn.their_state
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY and phase_before is not h11.SEND_BODY:
            self._start_body_deadline()
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self.read_deadline = None


try:
    GuardedHttpToolsProtocol: type[Any] | None = _httptools_protocol()
except ImportError:
    GuardedHttpToolsProtocol = None


def with_deadlines(base: type[Any], *, header_timeout_s: float, body_timeout_s: float) -> type[Any]:
    """A subclass of ``base`` (one of the guarded protocols) with fixed deadlines, for a
    server run in this process (uvicorn workers need the import-path classes)."""
    return type(
        base.__name__,
        (base,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )
