"""Bounds on ``POST /api/v1/token``: failed attempts per user and per client, and argon2 work.

Why: each password check costs ~100-200 ms of a core and 64 MiB (argon2id defaults).
Unthrottled, 30 wrong passwords took 6.8 s and 16 concurrent wrong logins quadrupled the
``/predict`` p50. So:

- :class:`LoginThrottle` counts failed attempts in a sliding window per user name and per
  client address; at the limit further attempts get 429 with ``Retry-After`` (the time
  until the oldest failure leaves the window) *before* any hashing. An attempt counts as
  a failure from its start and is withdrawn when it succeeds, so concurrent guesses cannot
  slip past the limit. State is per process and bounded (least recently used keys go).
- :class:`PasswordWork` runs argon2 on its own few threads (``auth.password_hash_concurrency``,
  default 1) with a bounded queue: logins wait for a slot instead of taking every core, and
  past the queue bound they get 429 at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mlserve.errors import OverloadedError

T = TypeVar("T")

MAX_TRACKED_KEYS = 100_000
"""Most user names plus client addresses remembered at once (memory bound)."""


class LoginThrottle:
    """Failed-login limits per user name and per client address, in a sliding window."""

    def __init__(
        self,
        *,
        per_user: int,
        per_client: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_client = per_client
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def begin(self, username: str, client: str | None) -> None:
        """Refuse with OverloadedError (429) when either limit is reached, else count this
        attempt as a failure until :meth:`succeeded` withdraws it."""
        now = self._clock()
        keys = [("user", _user_key(username), self.per_user)]
        if client:
            keys.append(("client", f"client:{client}", self.per_client))
        for kind, key, limit in keys:
            recent = self._recent(key, now)
            if len(recent) >= limit:
                retry_after = max(1.0, recent[0] + self.window_seconds - now)
                who = f"user {username!r}" if kind == "user" else f"client address {client}"
                raise OverloadedError(
                    f"too many failed logins for {who}: {limit} within "
                    f"{self.window_seconds:.0f} s; retry after {retry_after:.0f} s",
                    retry_after=retry_after,
                )
        for _, key, _ in keys:
            self._recent(key, now).append(now)

    def succeeded(self, username: str, client: str | None) -> None:
        """Withdraw the attempt :meth:`begin` counted: the password was right."""
        for key in (_user_key(username), f"client:{client}" if client else None):
            if key is not None and self._failures.get(key):
                self._failures[key].pop()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            stamps = self._failures[key] = deque()
            if len(self._failures) > MAX_TRACKED_KEYS:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        while stamps and stamps[0] <= now - self.window_seconds:
            stamps.popleft()
        return stamps


def _user_key(username: str) -> str:
    return f"user:{username.strip().lower()}"


class PasswordWork:
    """argon2 calls on ``slots`` dedicated threads, at most ``max_waiting`` queued."""

    def __init__(self, slots: int = 1, max_waiting: int = 32) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="argon2")
        self._pending = 0

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on an argon2 thread; OverloadedError (429) when the queue is full."""
        if self._pending >= self.slots + self.max_waiting:
            raise OverloadedError(
                f"{self._pending} password checks are in progress; retry in a second",
                retry_after=1.0,
            )
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        finally:
            self._pending -= 1
