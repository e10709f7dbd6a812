"""A bound on the work in flight per model, refusing at once instead of queueing.

Triton already queues (and rejects from a full queue); a second queue in the control plane
would only hide the overload and grow latency. So when a model has ``max_inflight`` units
of work in flight, the next request gets :class:`~mlserve.errors.OverloadedError` (429) with
a ``retry_after`` estimate right away. A unit is one text: ``/batch-predict`` with 10 texts
takes ``cost=10``.

Everything runs on the event loop thread and the check-and-take in ``__enter__`` does not
await, so no lock is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from mlserve.errors import OverloadedError
from mlserve.settings import LimitsSettings

_EWMA_WEIGHT = 0.2
_MIN_RETRY_AFTER_S = 0.05
_MAX_RETRY_AFTER_S = 30.0
_UNKNOWN_RETRY_AFTER_S = 1.0


@dataclass
class _ModelLoad:
    inflight: int = 0
    rejected: int = 0
    hold_seconds: float | None = None
    """Moving average of how long a slot is held, the basis of ``retry_after``."""


class InflightLimiter:
    """Counts in-flight work per model and refuses work beyond ``max_inflight`` per model."""

    def __init__(
        self, max_inflight: int, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if max_inflight < 1:
            raise ValueError("max_inflight must be at least 1")
        self.max_inflight = max_inflight
        self._clock = clock
        self._models: dict[str, _ModelLoad] = {}

    @classmethod
    def from_settings(cls, limits: LimitsSettings) -> InflightLimiter:
        """A limiter bounded by ``limits.max_inflight_per_model``."""
        return cls(limits.max_inflight_per_model)

    def slot(self, model: str, cost: int = 1) -> _Slot:
        """``with limiter.slot(model, cost)``: hold ``cost`` units while inside. Taking a
        slot never waits, so it is a plain context manager, not an async one (two
        coroutines fewer per request).

        Entering raises ``OverloadedError`` at once when the units are not free. A request
        costing more than ``max_inflight`` is admitted only while the model is idle, so a
        large batch is never refused forever but cannot pile on other work.
        """
        if cost < 1:
            raise ValueError("cost must be at least 1")
        return _Slot(self, model, cost)

    def inflight(self, model: str) -> int:
        """Units in flight for ``model`` now."""
        load = self._models.get(model)
        return load.inflight if load else 0

    def inflight_counts(self) -> dict[str, int]:
        """Units in flight per model seen so far (0 for idle ones), for a metrics gauge."""
        return {model: load.inflight for model, load in self._models.items()}

    def rejected_counts(self) -> dict[str, int]:
        """Requests refused per model since start, for a metrics counter."""
        return {model: load.rejected for model, load in self._models.items()}

    def retry_after(self, model: str) -> float:
        """Seconds after which a refused request should retry: the recent time a slot is held.

        By then the work in flight when it was refused has, on average, finished. Bounded to
        [0.05, 30] s; 1 s before any request of the model finished.
        """
        load = self._models.get(model)
        if load is None or load.hold_seconds is None:
            return _UNKNOWN_RETRY_AFTER_S
        return min(_MAX_RETRY_AFTER_S, max(_MIN_RETRY_AFTER_S, load.hold_seconds))

    def _acquire(self, model: str, cost: int) -> None:
        load = self._models.get(model)
        if load is None:
            load = self._models[model] = _ModelLoad()
        fits = load.inflight + cost <= self.max_inflight
        if not fits and not (cost > self.max_inflight and load.inflight == 0):
            load.rejected += 1
            retry_after = self.retry_after(model)
            raise OverloadedError(
                f"Model '{model}' is at its limit of {self.max_inflight} texts in flight "
                f"({load.inflight} now, this request needs {cost}); retry after "
                f"{retry_after:.2f} s, send smaller batches, or raise "
                f"limits.max_inflight_per_model (MLSERVE_LIMITS__MAX_INFLIGHT_PER_MODEL)",
                retry_after=retry_after,
            )
        load.inflight += cost

    def _release(self, model: str, cost: int, held_seconds: float) -> None:
        load = self._models[model]
        load.inflight -= cost
        if load.hold_seconds is None:
            load.hold_seconds = held_seconds
        else:
            load.hold_seconds += _EWMA_WEIGHT * (held_seconds - load.hold_seconds)


class _Slot:
    """The async context manager returned by :meth:`InflightLimiter.slot`."""

    __slots__ = ("_cost", "_limiter", "_model", "_started")

    def __init__(self, limiter: InflightLimiter, model: str, cost: int) -> None:
        self._limiter = limiter
        self._model = model
        self._cost = cost
        self._started: float | None = None

    def __enter__(self) -> None:
        if self._started is not None:
            raise RuntimeError("a limiter slot cannot be entered twice")
        self._limiter._acquire(self._model, self._cost)
        self._started = self._limiter._clock()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._started is not None
        held = self._limiter._clock() - self._started
        self._limiter._release(self._model, self._cost, held)
