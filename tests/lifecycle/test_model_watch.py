"""The model watch: windows of the request counters, hourly history, the accuracy gauge,
custom alert rules firing and resolving."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from mlserve.lifecycle.dashboard import trend
from mlserve.lifecycle.model_figures import ModelFigures
from mlserve.lifecycle.model_watch import ModelWatch
from mlserve.monitoring.custom_alerts import AlertRule, AlertRules
from mlserve.monitoring.hub import MonitoringHub
from mlserve.platform.store_sqlite import SqliteStore
from mlserve.settings import MonitoringSettings


def test_window_figures_are_differences_of_snapshots() -> None:
    registry = CollectorRegistry()
    hub = MonitoringHub(MonitoringSettings(), registry)
    figures = ModelFigures(registry)
    for _ in range(10):
        hub.record_request("/predict", "churn", 1, 200, 0.004)
    figures.take(now=1000.0)
    for _ in range(10):
        hub.record_request("/predict", "churn", 1, 500, 0.2)
    hub.record_request("/predict", "churn", 1, 422, 0.001)
    figures.take(now=1100.0)
    window = figures.window("churn", 60)
    assert (window.requests, window.errors, window.client_errors) == (11, 10, 1)
    assert window.success_rate == 0.0
    assert window.latency_quantile_ms(0.95) is not None
    assert window.latency_quantile_ms(0.95) >= 200
    total = figures.total("churn")
    assert (total.requests, total.success_rate) == (21, 0.5)
    assert figures.window("unknown", 60).requests == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "f1"}, "allowed: success_rate"),
        ({"condition": "=="}, "condition"),
        ({"message_template": "{nope}"}, "cannot render"),
        ({"window_seconds": 1}, "window_seconds"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    base = {"name": "r", "metric": "accuracy", "condition": "<", "threshold": 0.9}
    with pytest.raises(ValidationError, match=field):
        AlertRule.model_validate({**base, **body})


def test_seed_s2_spelling_and_template() -> None:
    rule = AlertRule.model_validate(
        {
            "name": "custom_accuracy_alert",
            "metric_name": "accuracy",
            "condition": "<",
            "threshold": 0.90,
            "window_seconds": 300,
            "severity": "critical",
            "message_template": "Model accuracy dropped to {value:.2%}",
        }
    )
    assert rule.message("churn", 0.8512) == "Model accuracy dropped to 85.12%"


def test_trend_compares_the_newest_hour_with_those_before() -> None:
    def hour(rate: float, ms: float) -> dict[str, Any]:
        return {"requests": 100, "success_rate": rate, "avg_latency_ms": ms}

    assert trend([hour(0.99, 10)]) == "insufficient_data"
    assert trend([hour(0.99, 10), hour(0.99, 11)]) == "stable"
    assert trend([hour(0.99, 10), hour(0.90, 10)]) == "degrading"
    assert trend([hour(0.99, 10), hour(0.99, 30)]) == "degrading"
    assert trend([hour(0.90, 10), hour(0.99, 10)]) == "improving"


async def test_hourly_history_accuracy_gauge_and_a_rule_firing_then_resolving(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    hub = MonitoringHub(MonitoringSettings(), registry)
    store = SqliteStore(tmp_path / "state.sqlite3")
    delivered: list[tuple[str, Mapping[str, Any]]] = []

    async def online(model: str, version: int | None, hours: float) -> dict[str, Any]:
        return {"n_supervised": 50, "metrics": {"accuracy": 0.8}}

    async def deliver(event: str, payload: Mapping[str, Any]) -> None:
        delivered.append((event, payload))

    rules = AlertRules(store)
    watch = ModelWatch(store, registry, hub, rules, online, deliver)
    try:
        await rules.add(
            AlertRule(
                name="errors",
                metric="error_rate",
                condition=">",
                threshold=0.1,
                window_seconds=60,
                min_requests=5,
            )
        )
        for _ in range(20):
            hub.record_request("/predict", "churn", 2, 200, 0.01)
        await watch.check_once()
        assert delivered == []
        for _ in range(20):
            hub.record_request("/predict", "churn", 2, 503, 0.01)
        await watch.check_once()
        assert [e for e, _ in delivered] == ["alert.fired"]
        assert delivered[0][1]["model"] == "churn"
        assert ("errors", "churn") in rules.firing

        hours = await watch.hourly("churn")
        assert [(h["requests"], h["errors"]) for h in hours] == [(40, 20)]
        assert 'mlserve_model_accuracy{model="churn",version="2"} 0.8' in (
            generate_latest(registry).decode()
        )

        watch.figures._snapshots.clear()
        watch.figures.take(now=time.time() - 120)  # the errors are older than the window
        for _ in range(30):
            hub.record_request("/predict", "churn", 2, 200, 0.01)
        await watch.check_once()
        assert [e for e, _ in delivered] == ["alert.fired", "alert.resolved"]
        assert rules.firing == {}
    finally:
        await store.close()
