"""Request deadlines: one ``timeout_ms`` budget shared by every stage of a prediction.

A request's ``timeout_ms`` (or ``limits.default_timeout_ms``) starts a clock when the request
arrives. Each stage asks the deadline what is left: the Triton client gets the remaining
seconds as its timeout, and Triton gets the remaining microseconds as the request's queue
timeout (Triton's per-request ``timeout`` override, honoured when the model's queue policy
has ``allow_timeout_override``), so a request that cannot finish in time is dropped from
Triton's queue instead of running for nobody.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from mlserve.errors import DeadlineExceededError, InvalidInputError
from mlserve.settings import LimitsSettings


class Deadline:
    """A point in time (monotonic clock) by which a request must be answered."""

    __slots__ = ("_clock", "expires_at", "timeout_ms")

    def __init__(self, timeout_ms: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_ms = timeout_ms
        self._clock = clock
        self.expires_at = clock() + timeout_ms / 1000.0

    @classmethod
    def from_request(
        cls,
        timeout_ms: float | None,
        limits: LimitsSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The deadline for a request's ``timeout_ms``; None means ``limits.default_timeout_ms``.

        Raises ``InvalidInputError`` (422) for a value that is not a finite number above 0
        and at most ``limits.max_timeout_ms``.
        """
        if timeout_ms is None:
            return cls(limits.default_timeout_ms, clock=clock)
        cap = limits.max_timeout_ms
        if (
            isinstance(timeout_ms, bool)
            or not isinstance(timeout_ms, int | float)
            or not math.isfinite(timeout_ms)
            or timeout_ms <= 0
            or timeout_ms > cap
        ):
            raise InvalidInputError(
                f"timeout_ms must be more than 0 and at most {cap} (limits.max_timeout_ms); "
                f"got {timeout_ms}. Send a timeout_ms between 1 and {cap}, or leave it out "
                f"for the default of {limits.default_timeout_ms} ms"
            )
        return cls(timeout_ms, clock=clock)

    def remaining_s(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining_s() <= 0.0

    def check(self, stage: str) -> None:
        """Raise ``DeadlineExceededError`` naming ``stage`` when no time is left (what
        :attr:`expired` says, read off the clock here: every request checks, twice)."""
        if self.expires_at - self._clock() <= 0.0:
            raise self.exceeded(stage)

    def exceeded(self, stage: str) -> DeadlineExceededError:
        """The 504 for this deadline running out during ``stage``."""
        return DeadlineExceededError(
            f"The request ran out of its {self.timeout_ms:g} ms during {stage}; "
            f"send a larger timeout_ms or retry when the server is less busy",
            stage=stage,
        )

    def client_timeout_s(self, stage: str = "preprocessing") -> float:
        """The timeout for the Triton client call: the seconds left.

        Raises ``DeadlineExceededError`` with ``stage`` when nothing is left, since a call
        with no time would fail anyway.
        """
        self.check(stage)
        return self.remaining_s()

    def queue_timeout_us(self, stage: str = "preprocessing") -> int:
        """Triton's per-request queue timeout: the microseconds left (at least 1).

        Raises ``DeadlineExceededError`` with ``stage`` when nothing is left.
        """
        self.check(stage)
        return max(1, int(self.remaining_s() * 1_000_000))
