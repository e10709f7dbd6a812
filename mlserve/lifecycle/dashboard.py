"""Seed S2's per-model dashboard (``GET /monitoring/dashboard/{model}``).

``statistics`` cover the last 24 hours of every replica (the watch's hourly history, the
current hour up to its last pass); ``recent_accuracy`` is feedback accuracy over the same
24 hours. ``performance_trend.trend`` compares the newest hour with the hours before it:
``degrading`` when its success rate fell by more than 2 points or its average latency rose
by more than half, ``improving`` for the reverse, ``stable`` otherwise, and
``insufficient_data`` with fewer than two hours. ``health_status`` is ``critical`` with a
critical alert, ``degraded`` with any other alert or drift, else ``healthy``.
"""

from __future__ import annotations

from typing import Any

from mlserve.lifecycle.model_watch import ModelWatch, OnlineMetrics
from mlserve.monitoring.hub import MonitoringHub


def trend(hours: list[dict[str, Any]]) -> str:
    busy = [h for h in hours if h["requests"] > 0]
    if len(busy) < 2:
        return "insufficient_data"
    last, before = busy[-1], busy[:-1]
    rates = [h["success_rate"] for h in before if h["success_rate"] is not None]
    latencies = [h["avg_latency_ms"] for h in before if h["avg_latency_ms"] is not None]
    worse = better = False
    if rates and last["success_rate"] is not None:
        base = sum(rates) / len(rates)
        worse |= last["success_rate"] < base - 0.02
        better |= last["success_rate"] > base + 0.02
    if latencies and last["avg_latency_ms"] is not None:
        base = sum(latencies) / len(latencies)
        worse |= last["avg_latency_ms"] > base * 1.5
        better |= last["avg_latency_ms"] < base / 1.5
    if worse:
        return "degrading"
    return "improving" if better else "stable"


async def model_dashboard(
    model: str,
    current_version: int | None,
    watch: ModelWatch,
    hub: MonitoringHub,
    online_metrics: OnlineMetrics,
) -> dict[str, Any]:
    hours = await watch.hourly(model)
    requests = sum(h["requests"] for h in hours)
    errors = sum(h["errors"] for h in hours)
    served_rates = [
        (h["requests"], h["success_rate"]) for h in hours if h["success_rate"] is not None
    ]
    weights = sum(n for n, _ in served_rates)
    success_rate = sum(n * r for n, r in served_rates) / weights if weights else None
    latencies = [
        (h["requests"], h["avg_latency_ms"]) for h in hours if h["avg_latency_ms"] is not None
    ]
    lat_weight = sum(n for n, _ in latencies)
    avg_latency = sum(n * v for n, v in latencies) / lat_weight if lat_weight else None
    feedback = await online_metrics(model, None, 24.0)
    builtin = [a.to_dict() for a in hub.alerts() if a.model == model]
    custom = [
        {**a.model_dump(), "kind": "custom"}
        for (_, m), a in watch.rules.firing.items()
        if m == model
    ]
    drift = any(r.detected for r in hub.drift.reports(model))
    severities = {a["severity"] for a in builtin + custom}
    health = (
        "critical" if "critical" in severities else "degraded" if severities or drift else "healthy"
    )
    return {
        "model_name": model,
        "current_version": str(current_version) if current_version is not None else None,
        "health_status": health,
        "statistics": {
            "total_predictions": requests,
            "errors": errors,
            "success_rate": success_rate,
            "avg_latency_ms": avg_latency,
            "recent_accuracy": feedback.get("metrics", {}).get("accuracy"),
            "window_hours": 24,
        },
        "performance_trend": {"trend": trend(hours), "hourly_data": hours},
        "active_alerts": builtin + custom,
        "drift_detected": drift,
    }
