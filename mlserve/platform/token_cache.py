"""Bearer tokens this replica verified a moment ago, so a hot route does not read the store.

Why: checking a token costs two state-store reads (the token record, then the account), and
on the SQLite store each is a locked transaction on a worker thread. ``online_predict``
answers in well under a millisecond of its own, so those reads were most of its latency.

Contract (:class:`VerifiedTokens`):

- An entry maps a token's store key to the account it resolved to and is trusted for
  ``ttl_seconds`` (``auth.token_cache_seconds``, default 2 s; 0 turns the cache off), never
  past the token's own expiry.
- Bounded: at most ``max_entries`` tokens (least recently used dropped first).
- Revocation and account changes made *through this replica* (logout, deactivate, remove,
  role or password change) drop the affected entries at once. Made through another replica
  (or worker process) they take effect here within ``ttl_seconds``: that is the bound a
  revoked token can still be used for.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

U = TypeVar("U")


@dataclass(frozen=True)
class _Entry(Generic[U]):
    user: U
    user_id: int
    trusted_until: float
    """``clock()`` time after which the store is asked again."""
    expires_at: float
    """Wall-clock expiry of the token itself (``time.time()`` scale)."""


class VerifiedTokens(Generic[U]):
    """A bounded, short-lived map of token key -> verified account."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must be >= 0")
        self.ttl_seconds = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry[U]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> U | None:
        """The account ``key`` resolved to, while still trusted; None otherwise."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.trusted_until <= self._clock() or entry.expires_at <= time.time():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.user

    def put(self, key: str, user: U, user_id: int, expires_at: float) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[key] = _Entry(user, user_id, self._clock() + self.ttl_seconds, expires_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop one token (logout through this replica)."""
        self._entries.pop(key, None)

    def forget_user(self, user_id: int) -> None:
        """Drop every token of one account (it changed: role, activity, password)."""
        for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
            del self._entries[key]
