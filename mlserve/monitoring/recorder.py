"""Predictions handed to the monitoring hub off the request path.

Drift statistics cost tens of microseconds per prediction (OOV rate, histograms); the
request path only appends to a bounded buffer and a background task feeds the hub every
``interval`` seconds. Under extreme load the oldest unprocessed predictions are dropped
(counted in ``dropped``) rather than growing memory: drift windows are samples anyway.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from mlserve.monitoring.hub import MonitoringHub

_Item = tuple[str, int, str, Sequence[float], str]


class PredictionRecorder:
    """A bounded buffer of text predictions, drained into a :class:`MonitoringHub`."""

    def __init__(self, hub: MonitoringHub, *, max_pending: int = 20_000) -> None:
        self.hub = hub
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: deque[_Item] = deque()

    def record(
        self, model: str, version: int, text: str, probabilities: Sequence[float], label: str
    ) -> None:
        """Queue one prediction; O(1), never blocks."""
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append((model, version, text, probabilities, label))

    def drain(self) -> int:
        """Feed every queued prediction to the hub; returns how many."""
        count = 0
        while self._pending:
            model, version, text, probabilities, label = self._pending.popleft()
            self.hub.record_prediction(model, version, text, probabilities, label)
            count += 1
        return count

    async def run(self, interval: float = 0.2) -> Any:
        """Drain forever (a background task); cancel to stop, after a last drain."""
        try:
            while True:
                await asyncio.sleep(interval)
                self.drain()
        finally:
            self.drain()
