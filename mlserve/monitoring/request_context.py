"""The record of the request being served, for the one-line request log.

The request-log wrapper (:mod:`mlserve.control_plane.request_log`) opens a record per
request; domain code anywhere below it fills in what only it knows, without passing
anything around::

    record = current_request()
    record.update(model="sentiment", version=3, cached=False, routed_by="abtest")
    record.add_timing("triton_ms", 2.4)

Outside a request (tests, background tasks) :func:`current_request` returns a detached
record whose updates go nowhere, so callers never check. A record is a few slots written
in place: cheap enough for the hot path.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_FIELDS = frozenset({"model", "version", "cached", "routed_by"})


class RequestRecord:
    """What one request's log line says besides route, status and latency."""

    __slots__ = (
        "cached",
        "error_message",
        "error_type",
        "model",
        "request_id",
        "routed_by",
        "timings",
        "version",
    )

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.model: str | None = None
        self.version: int | str | None = None
        self.cached: bool | None = None
        self.routed_by: str | None = None
        self.timings: dict[str, float] | None = None
        self.error_type: str | None = None
        self.error_message: str | None = None

    def update(self, **fields: Any) -> None:
        """Set ``model``, ``version``, ``cached``, ``routed_by``; ``*_ms`` keywords are
        latency parts (e.g. ``triton_ms=2.4``). Unknown names raise TypeError."""
        for name, value in fields.items():
            if name in _FIELDS:
                setattr(self, name, value)
            elif name.endswith("_ms"):
                self.add_timing(name, value)
            else:
                raise TypeError(f"RequestRecord has no field {name!r}")

    def add_timing(self, name: str, milliseconds: float) -> None:
        """One part of the latency, in ms (added to an existing part of that name)."""
        if self.timings is None:
            self.timings = {}
        self.timings[name] = self.timings.get(name, 0.0) + float(milliseconds)

    def record_error(self, exc: BaseException) -> None:
        """The error that answered the request: its type and the first line of its message."""
        self.error_type = type(exc).__name__
        message = getattr(exc, "message", None) or str(exc)
        self.error_message = str(message).strip().split("\n", 1)[0][:200]


_CURRENT: ContextVar[RequestRecord | None] = ContextVar("mlserve_request", default=None)


def current_request() -> RequestRecord:
    """The record of the request being served, or a detached one outside requests."""
    record = _CURRENT.get()
    return record if record is not None else RequestRecord("")


def open_request(request_id: str) -> tuple[RequestRecord, Any]:
    """Start a record for this context; returns it and the token for :func:`close_request`."""
    record = RequestRecord(request_id)
    return record, _CURRENT.set(record)


def close_request(token: Any) -> None:
    _CURRENT.reset(token)
