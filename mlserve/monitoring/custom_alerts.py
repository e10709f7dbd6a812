"""Custom alerts (seed S2's ``Alert``), kept beside the built-in ones of :mod:`alerts`.

A rule is ``{name, metric, condition, threshold, window_seconds, severity,
message_template}`` with an optional ``model`` (None: every model). It fires when
``value <condition> threshold`` for the metric over the last ``window_seconds``, once the
window holds ``min_requests`` requests (rates of a handful of requests are noise); it is
evaluated every few seconds by the lifecycle watch. Firing and resolving are delivered as
``alert.fired`` / ``alert.resolved`` events to the signed webhooks. Rules live in the
platform's state store (hash ``alert:rules``), so they survive a restart and every replica
evaluates the same ones.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlserve.errors import InvalidInputError, NotFoundError
from mlserve.platform.store import StateStore

METRICS = {
    "success_rate": "successes / (successes + 5xx) over the window",
    "error_rate": "5xx / (successes + 5xx) over the window",
    "avg_latency_ms": "mean request latency over the window",
    "p95_latency_ms": "95th percentile latency over the window (histogram bucket bound)",
    "requests": "requests answered over the window",
    "accuracy": "accuracy from feedback on the window's predictions",
    "drift_score": "the highest drift score of the model's last evaluated window",
}
"""Metrics a custom alert can watch, and what each means."""

CONDITIONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_RULES = "alert:rules"
MAX_RULES = 200


class AlertRule(BaseModel):
    """S2's ``Alert(name, metric_name, condition, threshold, window_seconds, severity,
    message_template)``; ``metric_name`` is accepted for ``metric``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["custom_accuracy_alert"]
    )
    metric: str = Field(alias="metric_name", examples=["accuracy"])
    condition: Literal["<", "<=", ">", ">="]
    threshold: float = Field(allow_inf_nan=False)
    window_seconds: float = Field(default=300, ge=5, le=24 * 3600)
    severity: Literal["info", "warning", "critical"] = "warning"
    message_template: str = Field(
        default="{name}: {metric} of {model} is {value:.4g} ({condition} {threshold:g})",
        max_length=500,
    )
    model: str | None = Field(default=None, description="One model, or every model (null).")
    min_requests: int = Field(default=20, ge=1)

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; allowed: {', '.join(METRICS)}")
        return value

    @field_validator("message_template")
    @classmethod
    def _renders(cls, value: str) -> str:
        try:
            value.format(name="n", metric="m", model="x", value=0.5, condition="<", threshold=1.0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"cannot render ({exc}); use the fields {{name}}, {{metric}}, {{model}}, "
                "{value}, {condition}, {threshold} with format specs such as {value:.2%}"
            ) from None
        return value

    def breached(self, value: float) -> bool:
        return CONDITIONS[self.condition](value, self.threshold)

    def message(self, model: str, value: float) -> str:
        return self.message_template.format(
            name=self.name,
            metric=self.metric,
            model=model,
            value=value,
            condition=self.condition,
            threshold=self.threshold,
        )


class FiringAlert(BaseModel):
    """A custom rule firing for one model."""

    name: str
    model: str
    metric: str
    severity: str
    value: float
    threshold: float
    condition: str
    message: str
    since: str


class AlertRules:
    """The stored rules and which of them fire now (this process's last evaluation)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.firing: dict[tuple[str, str], FiringAlert] = {}

    async def add(self, rule: AlertRule) -> AlertRule:
        rules = await self._store.hgetall(_RULES)
        if rule.name not in rules and len(rules) >= MAX_RULES:
            raise InvalidInputError(
                f"name: at most {MAX_RULES} custom alerts; delete one with "
                "DELETE /monitoring/alerts/rules/{name}"
            )
        await self._store.hset(_RULES, {rule.name: rule.model_dump_json()})
        return rule

    async def list(self) -> list[AlertRule]:
        rows = await self._store.hgetall(_RULES)
        return sorted(
            (AlertRule.model_validate_json(r) for r in rows.values()), key=lambda r: r.name
        )

    async def delete(self, name: str) -> None:
        if not await self._store.hdel(_RULES, name):
            raise NotFoundError(f"no custom alert named {name!r}; GET /monitoring/alerts/rules")
        for key in [k for k in self.firing if k[0] == name]:
            del self.firing[key]

    def update(
        self, rule: AlertRule, model: str, value: float | None
    ) -> tuple[str, dict[str, Any]] | None:
        """Record the rule's value for ``model``; an event to deliver when it starts or
        stops firing (``alert.fired`` / ``alert.resolved``), else None."""
        key = (rule.name, model)
        was = self.firing.get(key)
        if value is not None and rule.breached(value):
            alert = FiringAlert(
                name=rule.name,
                model=model,
                metric=rule.metric,
                severity=rule.severity,
                value=value,
                threshold=rule.threshold,
                condition=rule.condition,
                message=rule.message(model, value),
                since=was.since if was else datetime.now(UTC).isoformat(),
            )
            self.firing[key] = alert
            return None if was else ("alert.fired", alert.model_dump())
        if was is not None and value is not None:
            del self.firing[key]
            return ("alert.resolved", {**was.model_dump(), "value": value})
        return None
