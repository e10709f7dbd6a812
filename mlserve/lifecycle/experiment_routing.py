"""Which variant of a running experiment answers a request: the data plane's hook.

The router asks :meth:`ExperimentRouting.variant_for` for a request that names a model but
no version; ``None`` means "no experiment on this model, route as usual". With an entity id
the assignment is sticky (``sha256(model, experiment id, entity)`` falls into one variant's
slice of the live split), so an entity sees the same variant for the whole experiment
unless that variant is rolled back (its share then goes to the control). Without one, a
random draw by percentage.

After answering, the data plane reports the outcome with :meth:`observe` (no I/O: counted
in memory, written to the store by the supervisor about once a second) and, when
:meth:`mirror_for` names a version, sends a copy of the request there in the background
and drops the answer (:mod:`mlserve.dataplane.mirror`), whose outcome and agreement with
the primary come back through :meth:`observe_mirror`.

The running experiments are read from the store at most once a second
(``refresh_seconds``): another replica's new experiment or rollback applies here within
that time, this process's own at once (:meth:`forget`).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol

from mlserve.lifecycle.experiment_stats import ExperimentStats
from mlserve.lifecycle.experiments import Experiment, ExperimentStore
from mlserve.platform.abtest import pick_version, sticky_point


class ExperimentCounter(Protocol):
    """``mlserve_experiment_requests_total``: one request (or mirror copy) of a variant."""

    def observe_experiment(self, experiment: str, model: str, variant: str, ok: bool) -> None: ...


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
        self.counter: ExperimentCounter | None = None
        """Prometheus counts per variant (wired with the control plane's metrics)."""

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

    def surely_idle(self, model: str) -> bool:
        """True when the running experiments, read within ``refresh_seconds``, include none
        for ``model``: the router then skips :meth:`variant_for` (no coroutine per
        request)."""
        return time.monotonic() - self._read_at < self._refresh_s and model not in self._running

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
        """The version that gets a copy of this request (its answer dropped), or None: no
        mirror, or the request is outside the mirror's ``mirror_percentage`` draw."""
        experiment = (await self.running()).get(model)
        mirror = experiment.mirror_version() if experiment is not None else None
        if mirror is None:
            return None
        version, share = mirror
        return version if share >= 1 or self._rng.random() < share else None

    def observe(self, model: str, version: int, status: int, seconds: float) -> None:
        """One answered request of ``model`` ``version``: a 5xx (or a status 0: no
        answer) counts as an error. Synchronous and I/O-free. A request sent to the
        mirror variant's version by name is not a mirror copy and is not counted."""
        self._count(model, version, status, seconds, mirror=False)

    def observe_mirror(
        self, model: str, version: int, status: int, seconds: float, agreed: int, compared: int
    ) -> None:
        """One mirror copy's outcome (:mod:`mlserve.dataplane.mirror`): as :meth:`observe`,
        plus how many of its ``compared`` answers ``agreed`` with the primary's."""
        self._count(model, version, status, seconds, mirror=True, agreed=agreed, compared=compared)

    def _count(
        self,
        model: str,
        version: int,
        status: int,
        seconds: float,
        *,
        mirror: bool,
        agreed: int = 0,
        compared: int = 0,
    ) -> None:
        experiment = self._running.get(model)
        if experiment is None:
            return
        variant = next(
            (v for v in experiment.variants if int(v.version) == version and v.mirror == mirror),
            None,
        )
        if variant is None:
            return
        # A client's 4xx is the client's fault; a mirror's 4xx (it refused inputs its
        # primary took) is the mirror's.
        ok = 0 < status < (400 if mirror else 500)
        self.stats.add(experiment.id, version, ok, seconds * 1000.0, agreed, compared)
        if self.counter is not None:
            self.counter.observe_experiment(experiment.id, model, variant.name, ok)
