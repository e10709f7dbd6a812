"""Items to Triton and back: one sender per model version, shared calls in front of it.

A :class:`VersionSender` makes one Triton call for a list of items: the version's kind
encodes them (tokenization included), the Triton client sends them with the deadline as
client and queue timeout, the kind decodes the outputs; it reports the time of each part.
:class:`SharedCalls` keeps one :class:`~mlserve.serving.coalescer.CallCoalescer` per
version, so concurrent requests for a version share calls (or, with
``calls_in_flight=0``, sends each request as its own call), and splits requests larger
than Triton's ``max_batch_size``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mlserve.serving.coalescer import CallAnswer, CallCoalescer, SentCall
from mlserve.serving.deadline import Deadline
from mlserve.serving.registry import ResolvedModel
from mlserve.triton.client import TritonClient

_Send = Callable[[list[Any], Deadline], Awaitable[CallAnswer]]


class VersionSender:
    """One Triton call for one model version (the coalescer's :class:`Sender`)."""

    def __init__(self, triton: TritonClient, model: ResolvedModel) -> None:
        self.triton = triton
        self.model = model

    async def send(self, items: list[Any], deadline: Deadline) -> SentCall:
        served = self.model.served
        started = time.perf_counter()
        inputs, truncated = served.encode(items)
        encoded = time.perf_counter()
        outputs = await self.triton.infer(
            self.model.name,
            self.model.version,
            inputs,
            served.outputs,
            timeout_s=deadline.client_timeout_s("preprocessing"),
            queue_timeout_us=deadline.queue_timeout_us("preprocessing"),
        )
        answered = time.perf_counter()
        return SentCall(served.decode(outputs, truncated), encoded - started, answered - encoded)


class SharedCalls:
    """Per model version, the calls requests share."""

    def __init__(
        self,
        triton: TritonClient,
        *,
        max_batch_size: int,
        calls_in_flight: int,
        gather_turns: int,
        max_call_items: int,
    ) -> None:
        self.triton = triton
        self.max_batch_size = max(1, max_batch_size)
        self.calls_in_flight = calls_in_flight
        self.gather_turns = gather_turns
        self.max_call_items = max(1, min(self.max_batch_size, max_call_items))
        """No call holds more items than the in-flight bound admits: none waits for more."""
        self._coalescers: dict[tuple[str, int, str], CallCoalescer] = {}

    def infer(
        self, model: ResolvedModel, items: list[Any], deadline: Deadline
    ) -> Awaitable[CallAnswer]:
        """Predictions for ``items`` in order; several calls of ``max_batch_size`` at most,
        sent together (timings: the slowest call's). Awaited by the caller: a request that
        fits one call awaits its coalescer directly, one coroutine fewer on every request
        (each one a frame every suspension and resumption passes through)."""
        send = self._coalescer(model)
        size = max(1, self.max_batch_size // model.served.rows_per_item)
        if len(items) <= size:
            return send(items, deadline)
        return self._chunked(send, items, size, deadline)

    @staticmethod
    async def _chunked(send: _Send, items: list[Any], size: int, deadline: Deadline) -> CallAnswer:
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        answers = await asyncio.gather(*(send(chunk, deadline) for chunk in chunks))
        return CallAnswer(
            [p for answer in answers for p in answer.predictions],
            max(a.waited_s for a in answers),
            max(a.encode_s for a in answers),
            max(a.infer_s for a in answers),
        )

    def _coalescer(self, model: ResolvedModel) -> _Send:
        if self.calls_in_flight < 1:
            sender = VersionSender(self.triton, model)

            async def direct(items: list[Any], deadline: Deadline) -> CallAnswer:
                call = await sender.send(items, deadline)
                return CallAnswer(call.predictions, 0.0, call.encode_s, call.infer_s)

            return direct
        key = (model.name, model.version, model.served.fingerprint)
        coalescer = self._coalescers.get(key)
        if coalescer is None or coalescer_model(coalescer) is not model:
            # Idle coalescers of this model's other versions go (they hold runtimes).
            for other in [k for k, c in self._coalescers.items() if k[0] == key[0] and c.idle]:
                del self._coalescers[other]
            coalescer = self._coalescers[key] = CallCoalescer(
                VersionSender(self.triton, model),
                calls_in_flight=self.calls_in_flight,
                max_batch_size=max(1, self.max_call_items // model.served.rows_per_item),
                gather_turns=self.gather_turns,
            )
        return coalescer.predict


def coalescer_model(coalescer: CallCoalescer) -> ResolvedModel | None:
    """The version a coalescer sends for."""
    sender = coalescer.sender
    return sender.model if isinstance(sender, VersionSender) else None
