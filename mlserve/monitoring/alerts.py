"""Alerts: the monitoring state reduced to a short list a person should look at.

Four kinds, each computed from state other modules keep:

- ``drift``: the last evaluated window of a version drifted (which signals, how much);
- ``success_rate``: a version's successes / (successes + failures) over the stats horizon
  fell below the minimum (95% by default), once it served enough requests;
- ``latency``: its average latency over the horizon rose above the maximum, or its
  per-interval latency rose above its own baseline;
- ``queue_time``: Triton's queue time per request rose above its baseline (requests wait
  for an instance: more load than instances, or a batch setting that holds them);
- ``error_rate``: the per-interval error rate rose above its baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from mlserve.monitoring.drift import DriftReport, PerformanceCheck
from mlserve.monitoring.drift import performance as perf
from mlserve.monitoring.serving_stats import ServingStats
from mlserve.settings import MonitoringSettings

AlertKind = Literal["drift", "success_rate", "latency", "queue_time", "error_rate", "performance"]
Severity = Literal["warning", "critical"]


@dataclass(frozen=True)
class Alert:
    """One condition worth a look."""

    kind: AlertKind
    severity: Severity
    model: str
    version: int | None
    message: str
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "model": self.model,
            "version": self.version,
            "message": self.message,
            "value": self.value,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class AlertThresholds:
    """Limits the alerts are judged by."""

    min_success_rate: float = 0.95
    max_avg_latency_ms: float = 500.0
    min_requests: int = 20
    """Below this many requests in the horizon, rates are too noisy to alert on."""

    @classmethod
    def from_settings(cls, settings: MonitoringSettings) -> AlertThresholds:
        return cls(
            min_success_rate=settings.min_success_rate,
            max_avg_latency_ms=settings.max_avg_latency_ms,
            min_requests=settings.alert_min_requests,
        )


def _name(model: str, version: int | None) -> str:
    return model if version is None else f"{model} v{version}"


def _drift_alerts(reports: Iterable[DriftReport]) -> list[Alert]:
    alerts = []
    for report in reports:
        if report.status != "drift":
            continue
        drifted = sorted((s for s in report.signals if s.drifted), key=lambda s: s.p_value)
        details = ", ".join(f"{s.signal} (score {s.score:.2f}, p={s.p_value:.1e})" for s in drifted)
        alerts.append(
            Alert(
                kind="drift",
                severity="warning",
                model=report.model,
                version=report.version,
                message=f"{_name(report.model, report.version)}: the last "
                f"{report.window_size} requests differ from the reference on {details}",
                value=max((s.score for s in drifted), default=None),
                threshold=None,
            )
        )
    return alerts


def _serving_alerts(stats: Iterable[ServingStats], limits: AlertThresholds) -> list[Alert]:
    alerts = []
    for s in stats:
        who = _name(s.model, s.version)
        served = s.successes + s.failures
        rate = s.success_rate
        if rate is not None and served >= limits.min_requests and rate < limits.min_success_rate:
            alerts.append(
                Alert(
                    kind="success_rate",
                    severity="critical",
                    model=s.model,
                    version=s.version,
                    message=f"{who}: {rate:.1%} of {served} requests succeeded "
                    f"(minimum {limits.min_success_rate:.0%})",
                    value=rate,
                    threshold=limits.min_success_rate,
                )
            )
        latency = s.avg_latency_ms
        too_slow = latency is not None and latency > limits.max_avg_latency_ms
        if too_slow and s.requests >= limits.min_requests:
            alerts.append(
                Alert(
                    kind="latency",
                    severity="warning",
                    model=s.model,
                    version=s.version,
                    message=f"{who}: average latency {latency:.0f} ms over {s.requests} "
                    f"requests (maximum {limits.max_avg_latency_ms:.0f} ms)",
                    value=latency,
                    threshold=limits.max_avg_latency_ms,
                )
            )
    return alerts


_SERIES_KIND: dict[str, AlertKind] = {
    perf.QUEUE_US: "queue_time",
    perf.LATENCY_MS: "latency",
    perf.ERROR_RATE: "error_rate",
}


def _performance_alerts(checks: Iterable[PerformanceCheck]) -> list[Alert]:
    alerts = []
    for check in checks:
        if not check.rising:
            continue
        kind = _SERIES_KIND.get(check.series, "performance")
        alerts.append(
            Alert(
                kind=kind,
                severity="warning",
                model=check.model,
                version=check.version,
                message=f"{_name(check.model, check.version)}: {check.series} is "
                f"{check.current:.4g}, above its threshold {check.threshold:.4g} (baseline "
                f"{check.baseline:.4g}) for several intervals in a row",
                value=check.current,
                threshold=check.threshold,
            )
        )
    return alerts


def build_alerts(
    *,
    drift: Iterable[DriftReport] = (),
    serving: Iterable[ServingStats] = (),
    performance: Iterable[PerformanceCheck] = (),
    thresholds: AlertThresholds | None = None,
) -> list[Alert]:
    """Every active alert, most severe first, then by model and kind."""
    limits = thresholds or AlertThresholds()
    alerts = [
        *_drift_alerts(drift),
        *_serving_alerts(serving, limits),
        *_performance_alerts(performance),
    ]
    order = {"critical": 0, "warning": 1}
    return sorted(alerts, key=lambda a: (order[a.severity], a.model, a.version or 0, a.kind))
