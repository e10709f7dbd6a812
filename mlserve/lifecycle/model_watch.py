"""The per-model watch: hourly history, the accuracy gauge and custom alerts.

Every ``interval_s`` (5 s) it snapshots the request counters (:class:`ModelFigures`) and

- adds what happened since the last pass to this process's row of the current hour in the
  state store (``dashboard:hourly:<model>``, field ``<hour start>:<replica>``; 48 hours
  kept), so the dashboard's history covers every replica and survives restarts;
- every ``accuracy_every_s`` sets ``mlserve_model_accuracy{model,version}`` from feedback
  on the last 24 hours' predictions (versions without labeled feedback have no sample);
- evaluates the custom alert rules and delivers their changes to the webhooks;
- refreshes ``mlserve_model_stage{model,version,stage}`` (when given ``stages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from mlserve.lifecycle.model_figures import Figures, ModelFigures
from mlserve.lifecycle.periodic import repeat_forever
from mlserve.monitoring.custom_alerts import AlertRule, AlertRules
from mlserve.monitoring.hub import MonitoringHub
from mlserve.platform.store import StateStore

log = logging.getLogger(__name__)

HOURS_KEPT = 48
OnlineMetrics = Callable[[str, int | None, float], Awaitable[dict[str, Any]]]
Deliver = Callable[[str, Mapping[str, Any]], Awaitable[None]]


StageSource = Callable[[], None]
"""Refreshes ``mlserve_model_stage`` (each pass; reads each model's cached release state)."""


def hourly_key(model: str) -> str:
    return f"dashboard:hourly:{model}"


class ModelWatch:
    def __init__(
        self,
        store: StateStore,
        registry: CollectorRegistry,
        hub: MonitoringHub,
        rules: AlertRules,
        online_metrics: OnlineMetrics,
        deliver: Deliver,
        *,
        interval_s: float = 5.0,
        accuracy_every_s: float = 30.0,
        stages: StageSource | None = None,
    ) -> None:
        self._store = store
        self.figures = ModelFigures(registry)
        self._hub = hub
        self.rules = rules
        self._online = online_metrics
        self._deliver = deliver
        self.interval_s = interval_s
        self._accuracy_every_s = accuracy_every_s
        self._accuracy_at = -float("inf")
        self._stages = stages
        self._replica = uuid.uuid4().hex[:12]
        self._last: dict[str, Figures] = {}
        self._hours: dict[tuple[str, int], dict[str, float]] = {}
        self._task: asyncio.Task[None] | None = None
        self.accuracy = Gauge(
            "mlserve_model_accuracy",
            "Accuracy from feedback on the last 24 hours' predictions, per model version.",
            ("model", "version"),
            registry=registry,
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="model-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        await repeat_forever(self.check_once, self.interval_s, "model watch")

    async def check_once(self) -> None:
        now = time.time()
        current = self.figures.take(now)
        await self._record_hours(current, now)
        if now - self._accuracy_at >= self._accuracy_every_s:
            self._accuracy_at = now
            await self._update_accuracy(current)
        await self._evaluate_rules()
        if self._stages is not None:
            self._stages()

    async def _record_hours(self, current: dict[str, Figures], now: float) -> None:
        hour = int(now // 3600 * 3600)
        for model, figures in current.items():
            delta = figures.minus(self._last.get(model, Figures()))
            if delta.requests <= 0 and delta.latency_count <= 0:
                continue
            row = self._hours.setdefault(
                (model, hour),
                {
                    "requests": 0,
                    "errors": 0,
                    "client_errors": 0,
                    "latency_sum_s": 0.0,
                    "latency_count": 0,
                },
            )
            row["requests"] += delta.requests
            row["errors"] += delta.errors
            row["client_errors"] += delta.client_errors
            row["latency_sum_s"] += delta.latency_sum_s
            row["latency_count"] += delta.latency_count
            await self._store.hset(hourly_key(model), {f"{hour}:{self._replica}": json.dumps(row)})
            old = [k for k in self._hours if k[0] == model and k[1] < hour]
            for key in old:
                del self._hours[key]
            await self._forget_old_hours(model, hour)
        self._last = current

    async def _forget_old_hours(self, model: str, hour: int) -> None:
        fields = await self._store.hgetall(hourly_key(model))
        stale = [f for f in fields if int(f.split(":", 1)[0]) < hour - HOURS_KEPT * 3600]
        if stale:
            await self._store.hdel(hourly_key(model), *stale)

    async def _update_accuracy(self, current: dict[str, Figures]) -> None:
        for model, figures in current.items():
            for label in figures.versions:
                if not label.isdigit():
                    continue
                answer = await self._online(model, int(label), 24.0)
                accuracy = answer.get("metrics", {}).get("accuracy")
                if accuracy is not None:
                    self.accuracy.labels(model, label).set(accuracy)

    async def value(self, rule: AlertRule, model: str) -> float | None:
        """The rule's metric for ``model`` over its window (None: not enough data)."""
        if rule.metric == "drift_score":
            scores = [s.score for r in self._hub.drift.reports(model) for s in r.signals]
            return max(scores) if scores else None
        if rule.metric == "accuracy":
            answer = await self._online(model, None, rule.window_seconds / 3600)
            if answer.get("n_supervised", 0) < rule.min_requests:
                return None
            accuracy: float | None = answer.get("metrics", {}).get("accuracy")
            return accuracy
        window = self.figures.window(model, rule.window_seconds)
        if rule.metric == "requests":
            return float(window.requests)
        if window.requests < rule.min_requests:
            return None
        if rule.metric == "success_rate":
            return window.success_rate
        if rule.metric == "error_rate":
            return window.error_rate
        if rule.metric == "avg_latency_ms":
            return window.avg_latency_ms
        return window.latency_quantile_ms(0.95)

    async def _evaluate_rules(self) -> None:
        for rule in await self.rules.list():
            models = [rule.model] if rule.model else self.figures.models()
            for model in models:
                event = self.rules.update(rule, model, await self.value(rule, model))
                if event is not None:
                    try:
                        await self._deliver(*event)
                    except Exception:
                        log.exception("could not deliver %s", event[0])

    async def hourly(self, model: str, hours: int = 24) -> list[dict[str, Any]]:
        """The last ``hours`` hours of ``model`` over every replica, oldest first."""
        since = int(time.time() // 3600 * 3600) - (hours - 1) * 3600
        merged: dict[int, dict[str, float]] = {}
        for name, raw in (await self._store.hgetall(hourly_key(model))).items():
            hour = int(name.split(":", 1)[0])
            if hour < since:
                continue
            row = merged.setdefault(hour, {})
            for k, v in json.loads(raw).items():
                row[k] = row.get(k, 0) + v
        out = []
        for hour in sorted(merged):
            r = merged[hour]
            served = r["requests"] - r["client_errors"]
            out.append(
                {
                    "hour": time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(hour)),
                    "requests": int(r["requests"]),
                    "errors": int(r["errors"]),
                    "success_rate": (served - r["errors"]) / served if served > 0 else None,
                    "avg_latency_ms": (
                        r["latency_sum_s"] / r["latency_count"] * 1000
                        if r["latency_count"]
                        else None
                    ),
                }
            )
        return out
