"""Which variant of a running experiment answers a request: the data plane's hook.

The router asks :meth:`ExperimentRouting.variant_for` for a request that names a model but
no version; ``None`` means "no experiment on this model, route as usual". With an entity id
the assignment is sticky (``sha256(model, experiment id, entity)`` falls into one variant's
slice of the live split), so an entity sees the same variant for the whole experiment
unless that variant is rolled back (its share then goes to the control). Without one, a
random draw by percentage.

After answering, the data plane reports the outcome with :meth:`observe` (no I/O: counted
in memory, written to the store by the supervisor about once a second) and, when
:meth:`mirror_for` names a version, sends a copy of the request there and drops the answer.

The running experiments are read from the store at most once a second
(``refresh_seconds``): another replica's new experiment or rollback applies here within
that time, this process's own at once (:meth:`forget`).
"""

from __future__ import annotations

import asyncio
import random
import time

from mlserve.lifecycle.experiment_stats import ExperimentStats
from mlserve.lifecycle.experiments import Experiment, ExperimentStore
from mlserve.platform.abtest import pick_version, sticky_point


class ExperimentRouting:
    """Variant assignment and outcome counting for the running experiments."""

    def __init__(
        self,
        experiments: ExperimentStore,
        stats: ExperimentStats,
        *,
        refresh_seconds: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self._experiments = experiments
        self.stats = stats
        self._refresh_s = refresh_seconds
        self._rng = rng or random.Random()
        self._running: dict[str, Experiment] = {}
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Read the running experiments again on the next request."""
        self._read_at = -float("inf")

    async def running(self) -> dict[str, Experiment]:
        """``model -> running experiment``, at most ``refresh_seconds`` old."""
        if time.monotonic() - self._read_at < self._refresh_s:
            return self._running
        async with self._lock:
            if time.monotonic() - self._read_at >= self._refresh_s:
                running: dict[str, Experiment] = {}
                for model, experiment_id in (await self._experiments.running()).items():
                    experiment = await self._experiments.get(experiment_id)
                    if experiment.status == "running":
                        running[model] = experiment
                self._running = running
                self._read_at = time.monotonic()
        return self._running

    async def variant_for(self, model: str, entity_id: str | None) -> int | None:
        """The version that answers this request, or None (no running experiment)."""
        experiment = (await self.running()).get(model)
        if experiment is None:
            return None
        split = experiment.live_split()
        if not split:
            return None
        point = sticky_point(model, experiment.id, entity_id) if entity_id else self._rng.random()
        return pick_version(split, point)

    async def mirror_for(self, model: str) -> int | None:
        """The version that gets a copy of the request (its answer dropped), or None."""
        experiment = (await self.running()).get(model)
        return experiment.mirror_version() if experiment is not None else None

    def observe(self, model: str, version: int, status: int, seconds: float) -> None:
        """One answered request of ``model`` ``version`` (mirror copies included): a 5xx
        (or a status 0: no answer) counts as an error. Synchronous and I/O-free."""
        experiment = self._running.get(model)
        if experiment is None:
            return
        if all(int(v.version) != version for v in experiment.variants):
            return
        ok = 0 < status < 500
        self.stats.add(experiment.id, version, ok, seconds * 1000.0)
