"""Mirror (shadow) copies: an experiment's mirror variant answers a copy of the traffic and
its answers are dropped (Seldon's mirror).

Contract, for the :class:`~mlserve.dataplane.core.DataPlane`: once the primary answer is
computed, :meth:`Mirror.copy` is called with the request's inputs and the primary's
answers. It never waits and never raises: the copy runs as a background task, bounded by
``max_in_flight`` copies per process; a copy beyond the bound is dropped at once and
counted (``mlserve_mirror_copies_total{outcome="dropped"}``), so a slow or failing mirror
cannot slow, queue behind or fail a client request. A copy takes no in-flight slot of the
primary (no 429 for clients because of it) and skips the prediction cache (a mirror is
there to see the version answer real traffic), has its own deadline (``timeout_ms``), and
counts nowhere else in monitoring (the request metrics stay the clients').

Each copy's outcome goes to the :class:`MirrorSink` (the running experiment's counters):
status, seconds, and how many of its answers agree with the primary's (same label; for
regressors, values within 1e-6 relative).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, Protocol

from mlserve.dataplane.inference import SharedCalls
from mlserve.errors import MLServeError
from mlserve.kinds import Inputs
from mlserve.serving.cache.keys import CachedPrediction
from mlserve.serving.deadline import Deadline
from mlserve.serving.registry import ModelRegistry
from mlserve.settings import LimitsSettings

log = logging.getLogger(__name__)


class MirrorSink(Protocol):
    """Where a mirror copy's outcome is counted (synchronous, no I/O)."""

    def observe_mirror(
        self, model: str, version: int, status: int, seconds: float, agreed: int, compared: int
    ) -> None: ...


class MirrorCounter(Protocol):
    """``mlserve_mirror_copies_total``: one copy's outcome (answered, failed, dropped)."""

    def observe_mirror_copy(self, model: str, outcome: str) -> None: ...


def agreement(
    primary: Sequence[CachedPrediction], mirror: Sequence[CachedPrediction]
) -> tuple[int, int]:
    """``(agreed, compared)`` over the items both answered, in order."""
    agreed = 0
    compared = 0
    for a, b in zip(primary, mirror, strict=False):
        compared += 1
        if a.label is not None or b.label is not None:
            agreed += a.label == b.label
        elif isinstance(a.value, float) and isinstance(b.value, float):
            agreed += math.isclose(a.value, b.value, rel_tol=1e-6, abs_tol=1e-9)
        else:
            agreed += a.value == b.value
    return agreed, compared


class Mirror:
    """Background copies of answered requests to a mirror version."""

    def __init__(
        self,
        registry: ModelRegistry,
        calls: SharedCalls,
        limits: LimitsSettings,
        counter: MirrorCounter | None = None,
    ) -> None:
        self.registry = registry
        self.calls = calls
        self.max_in_flight = limits.mirror_in_flight
        self.timeout_ms = limits.mirror_timeout_ms
        self.counter = counter
        self.sink: MirrorSink | None = None
        """The running experiments' counters (wired by the lifecycle)."""
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def copy(
        self,
        model: str,
        version: int,
        inputs: Inputs,
        primary: Sequence[CachedPrediction],
    ) -> bool:
        """Send ``inputs`` to ``model`` ``version`` in the background; False when the copy
        was dropped (the bound is reached)."""
        if len(self._tasks) >= self.max_in_flight:
            self._count(model, "dropped")
            return False
        task = asyncio.create_task(self._send(model, version, inputs, tuple(primary)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _send(
        self, model: str, version: int, inputs: Inputs, primary: tuple[CachedPrediction, ...]
    ) -> None:
        started = time.perf_counter()
        status, agreed, compared = 200, 0, 0
        try:
            resolved = await self.registry.resolve_version(model, version)
            deadline = Deadline(self.timeout_ms)
            items: list[Any] = resolved.served.items(inputs)
            answer = await self.calls.infer(resolved, items, deadline)
            agreed, compared = agreement(primary, answer.predictions)
        except asyncio.CancelledError:
            raise
        except MLServeError as exc:
            status = exc.status_code
        except Exception:  # a mirror's failure is counted, never a client's
            log.warning("mirror copy to %s v%d failed", model, version, exc_info=True)
            status = 500
        seconds = time.perf_counter() - started
        self._count(model, "answered" if status < 400 else "failed")
        sink = self.sink
        if sink is not None:
            sink.observe_mirror(model, version, status, seconds, agreed, compared)

    def _count(self, model: str, outcome: str) -> None:
        if self.counter is not None:
            self.counter.observe_mirror_copy(model, outcome)

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait for the copies in flight (at most ``timeout_s``), then cancel the rest."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
