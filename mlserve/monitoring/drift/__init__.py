"""Drift: live traffic against the reference profile, serving figures against their baseline."""

from mlserve.monitoring.drift.monitor import DriftMonitor
from mlserve.monitoring.drift.performance import PerformanceCheck, PerformanceDriftDetector
from mlserve.monitoring.drift.report import DriftReport, SignalResult

__all__ = [
    "DriftMonitor",
    "DriftReport",
    "PerformanceCheck",
    "PerformanceDriftDetector",
    "SignalResult",
]
