"""The background task that keeps experiments honest: guardrails, end, auto-promote.

Every ``interval_s`` (1 s by default) it writes this process's counters to the store, then
for each running experiment:

- **guardrails**: a variant other than the control whose recent window
  (``guardrail_window_seconds``, at least ``guardrail_min_requests`` requests) breaches a
  ``success_metrics`` threshold is rolled back: its share of traffic goes to the control at
  once in this process and within a second in the others. ``success_rate`` (default
  threshold 0.95 when not given) and ``avg_latency_ms`` / ``p95_latency_ms`` are judged on
  the window; ``accuracy`` on all feedback since the start. The rollback is recorded in the
  experiment (``rolled_back``) and announced through ``notify``.
- **end**: past ``ends_at`` the experiment completes; with ``auto_promote`` the decision's
  winner (when not the control) is handed to the :data:`PromotionHook`.

Several replicas may run it: rollbacks and ends are idempotent writes of the same outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from mlserve.lifecycle.experiment_results import OutcomesOf, experiment_results
from mlserve.lifecycle.experiment_routing import ExperimentRouting
from mlserve.lifecycle.experiment_stats import VariantTotals, percentile
from mlserve.lifecycle.experiments import Experiment, ExperimentStore, Variant
from mlserve.lifecycle.periodic import repeat_forever

log = logging.getLogger(__name__)

PromotionHook = Callable[[Experiment, Variant], Awaitable[str]]
"""Promote the winner of an ended experiment; returns what was done (stored, shown)."""

Notify = Callable[[str, Mapping[str, Any]], Awaitable[None]]
"""``(event, payload)``: rollbacks and ends, for webhooks."""

DEFAULT_MIN_SUCCESS_RATE = 0.95


def breach(experiment: Experiment, totals: VariantTotals, accuracy: float | None) -> str | None:
    """Why this variant's recent figures breach a guardrail, or None."""
    if totals.recent_requests < experiment.guardrail_min_requests:
        return None
    metrics = experiment.success_metrics
    floor = metrics["success_rate"].threshold if "success_rate" in metrics else None
    floor = DEFAULT_MIN_SUCCESS_RATE if floor is None else floor
    error_rate = totals.recent_error_rate() or 0.0
    if 1 - error_rate < floor:
        return (
            f"success rate {1 - error_rate:.1%} over the last "
            f"{experiment.guardrail_window_seconds:g} s is below {floor:.1%}"
        )
    recent = totals.recent_latencies
    if "avg_latency_ms" in metrics and recent:
        mean = sum(recent) / len(recent)
        if mean > metrics["avg_latency_ms"].threshold:
            return f"average latency {mean:.1f} ms above {metrics['avg_latency_ms'].threshold:g} ms"
    if "p95_latency_ms" in metrics and recent:
        p95 = percentile(recent, 95) or 0.0
        if p95 > metrics["p95_latency_ms"].threshold:
            return f"p95 latency {p95:.1f} ms above {metrics['p95_latency_ms'].threshold:g} ms"
    if "accuracy" in metrics and accuracy is not None and accuracy < metrics["accuracy"].threshold:
        return f"accuracy {accuracy:.1%} below {metrics['accuracy'].threshold:.1%}"
    return None


class DecisionGauge(Protocol):
    """``mlserve_experiment_decision``: the running experiments' decisions, all at once."""

    def set_decisions(self, decisions: Iterable[tuple[str, str, str, str]]) -> None: ...


class ExperimentSupervisor:
    """Runs guardrails and ends experiments; :meth:`check_once` is one pass (tests)."""

    def __init__(
        self,
        experiments: ExperimentStore,
        routing: ExperimentRouting,
        outcomes_of: OutcomesOf,
        *,
        promote: PromotionHook | None = None,
        notify: Notify | None = None,
        interval_s: float = 1.0,
        decisions_every_s: float = 5.0,
    ) -> None:
        self._experiments = experiments
        self._routing = routing
        self._outcomes_of = outcomes_of
        self._promote = promote
        self._notify = notify
        self.interval_s = interval_s
        self.decisions: DecisionGauge | None = None
        """Where each running experiment's decision so far is shown (Prometheus)."""
        self._decisions_every_s = decisions_every_s
        self._decisions_at = -float("inf")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="experiment-supervisor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        await repeat_forever(self.check_once, self.interval_s, "experiment supervisor")

    async def flush(self) -> None:
        running = await self._routing.running()
        await self._routing.stats.flush(
            {e.id: e.guardrail_window_seconds for e in running.values()}
        )

    async def check_once(self) -> None:
        await self.flush()
        for experiment in list((await self._routing.running()).values()):
            if time.time() >= experiment.ends_at:
                await self.finish(experiment, "completed", "duration reached")
                continue
            if await self._versions_gone(experiment):
                continue
            await self._guard(experiment)
        if self.decisions is not None and time.monotonic() - self._decisions_at >= (
            self._decisions_every_s
        ):
            self._decisions_at = time.monotonic()
            await self.show_decisions(self.decisions)

    async def show_decisions(self, gauge: DecisionGauge) -> None:
        """Every running experiment's decision so far, to ``gauge``."""
        shown = []
        for experiment in (await self._routing.running()).values():
            totals = await self._routing.stats.totals(experiment.id)
            results = await experiment_results(experiment, totals, self._outcomes_of)
            decision = results["decision"]
            winner = decision["winner"] or ""
            shown.append((experiment.id, experiment.model, decision["outcome"], winner))
        gauge.set_decisions(shown)

    async def _versions_gone(self, experiment: Experiment) -> bool:
        """A model or version removed (or stopped) under a running experiment: without its
        control the experiment stops; another variant is rolled back. True: stopped."""
        served = await self._experiments.served_versions(experiment.model)
        if int(experiment.control.version) not in served:
            await self.finish(experiment, "stopped", "the control's version is no longer served")
            return True
        for variant in experiment.variants:
            if int(variant.version) not in served and variant.name not in experiment.rolled_back:
                await self._roll_back(experiment, variant, "its version is no longer served")
        return False

    async def _guard(self, experiment: Experiment) -> None:
        totals = await self._routing.stats.totals(
            experiment.id, stale_after_s=max(5 * self.interval_s, 5.0)
        )
        control = experiment.control
        for variant in experiment.variants:
            if variant is control or variant.name in experiment.rolled_back:
                continue
            version = int(variant.version)
            accuracy = None
            if "accuracy" in experiment.success_metrics:
                o = await self._outcomes_of(experiment.model, version, experiment.created_at)
                if o.correct is not None and o.labeled >= experiment.guardrail_min_requests:
                    accuracy = o.correct / o.labeled
            reason = breach(experiment, totals.get(version, VariantTotals()), accuracy)
            if reason is not None:
                experiment = await self._roll_back(experiment, variant, reason)

    async def _roll_back(self, experiment: Experiment, variant: Variant, reason: str) -> Experiment:
        current = await self._experiments.get(experiment.id)
        if current.status != "running" or variant.name in current.rolled_back:
            return current
        experiment = current.model_copy(
            update={"rolled_back": {**current.rolled_back, variant.name: reason}}
        )
        await self._experiments.save(experiment)
        self._routing.forget()
        log.warning("experiment %s: rolled back %s: %s", experiment.id, variant.name, reason)
        await self._announce(
            "experiment.rollback",
            {
                "experiment_id": experiment.id,
                "model": experiment.model,
                "variant": variant.name,
                "version": variant.version,
                "reason": reason,
            },
        )
        return experiment

    async def finish(self, experiment: Experiment, status: str, reason: str) -> Experiment:
        """End ``experiment`` (``completed`` or ``stopped``); auto-promote when it
        completed with a winner other than the control and asked for it. An experiment
        that already ended is returned as it is (nothing announced twice)."""
        if experiment.status != "running":
            return experiment
        ended = await self._experiments.end(
            experiment, "completed" if status == "completed" else "stopped", reason
        )
        self._routing.forget()
        if ended.stopped_at is None or ended.promoted is not None:
            return ended
        if ended.auto_promote and status == "completed" and self._promote is not None:
            results = await experiment_results(
                ended, await self._routing.stats.totals(ended.id), self._outcomes_of
            )
            decision = results["decision"]
            winner = next((v for v in ended.variants if v.name == decision["winner"]), None)
            if (
                decision["outcome"] == "winner"
                and winner is not None
                and winner is not ended.control
            ):
                promoted = await self._promote(ended, winner)
            else:
                promoted = f"nothing promoted: {decision['message']}"
            ended = ended.model_copy(update={"promoted": promoted})
            await self._experiments.save(ended)
        await self._announce(
            "experiment.ended",
            {
                "experiment_id": ended.id,
                "model": ended.model,
                "status": ended.status,
                "reason": reason,
                "promoted": ended.promoted,
            },
        )
        return ended

    async def _announce(self, event: str, payload: dict[str, Any]) -> None:
        if self._notify is None:
            return
        try:
            await self._notify(event, payload)
        except Exception:
            log.exception("could not announce %s", event)
