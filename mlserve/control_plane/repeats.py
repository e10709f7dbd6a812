"""Predict requests seen before, byte for byte: their cached answer without the work again.

This lives at the HTTP edge: it keys on raw request bodies, which the data plane never
sees; the data plane only answers an :class:`~mlserve.dataplane.core.Answered` again
(:meth:`~mlserve.dataplane.core.DataPlane.replay`).

A cache hit in the prediction cache still parses the body, cleans the text, hashes the key
and rebuilds the prediction objects: on a 2-core VM that was about 85 µs of the control
plane's CPU per cached ``/predict``, where uvicorn answering a fixed body costs 60. Clients
that repeat themselves repeat bytes (the same JSON from the same code), so the edge
remembers, per request body, what answering it took: the resolved model version, the
items and their predictions. A later identical body is answered from that
:class:`~mlserve.dataplane.core.Answered` after one check that the same version still
serves the request (the registry's resolved model is the same object: a publish, load or
unload invalidates it).

Bounded: at most ``max_entries`` bodies (least recently used go first) of at most
``max_body_bytes`` each, forgotten after ``ttl_seconds`` like the prediction cache's
entries. Everything runs on the event loop thread, without locks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from mlserve.dataplane.core import Answered

Repeat = Answered
"""What answering one request body took, enough to answer it again."""


class RepeatedRequests:
    """Request bodies, per endpoint, mapped to their :class:`Answered`, LRU-bounded, with
    a TTL."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_body_bytes: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, bytes], tuple[float, Repeat]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, endpoint: str, body: bytes) -> Repeat | None:
        """The repeat remembered for ``body`` at ``endpoint``, if there and not expired."""
        if len(body) > self.max_body_bytes:
            return None  # never kept, and not worth hashing (a batch body can take megabytes)
        key = (endpoint, body)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, endpoint: str, body: bytes, repeat: Repeat) -> None:
        """Remember ``repeat`` for ``body`` at ``endpoint`` (not when over
        ``max_body_bytes``)."""
        if len(body) > self.max_body_bytes:
            return
        key = (endpoint, body)
        self._entries[key] = (self._clock() + self.ttl_seconds, repeat)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, endpoint: str, body: bytes) -> None:
        """Drop the entry of ``body`` at ``endpoint`` (it no longer answers the request)."""
        self._entries.pop((endpoint, body), None)

    def clear(self) -> None:
        """Forget every body."""
        self._entries.clear()
