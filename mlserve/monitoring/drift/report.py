"""What the drift monitor says about a version: per-signal results of its last window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DriftStatus = Literal["no reference", "collecting", "ok", "drift"]


@dataclass(frozen=True)
class SignalResult:
    """One signal of one evaluated window."""

    signal: str
    test: str
    statistic: float
    p_value: float
    score: float
    """Effect size in [0, 1]: KS distance or Jensen-Shannon distance."""
    threshold: float
    """p-value below which this signal counts as drifted (alpha / signals tested)."""
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "test": self.test,
            "statistic": round(self.statistic, 6),
            "p_value": float(f"{self.p_value:.6g}"),
            "score": round(self.score, 6),
            "threshold": float(f"{self.threshold:.6g}"),
            "drifted": self.drifted,
        }


@dataclass(frozen=True)
class DriftReport:
    """Where one version stands: its last evaluated window and the current one's progress."""

    model: str
    version: int
    status: DriftStatus
    detected: bool
    window_size: int
    observed: int
    """Requests in the window being filled."""
    windows_evaluated: int
    windows_drifted: int
    alpha: float
    signals: tuple[SignalResult, ...] = ()
    evaluated_at: float | None = None
    """Unix time of the last evaluation."""
    skipped: int = 0
    """Observations that did not fit the profile (wrong kind, wrong number of labels)."""
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON body for ``/monitoring/drift/{model}``."""
        return {
            "model": self.model,
            "version": self.version,
            "status": self.status,
            "detected": self.detected,
            "window_size": self.window_size,
            "observed": self.observed,
            "windows_evaluated": self.windows_evaluated,
            "windows_drifted": self.windows_drifted,
            "alpha": self.alpha,
            "evaluated_at": self.evaluated_at,
            "skipped": self.skipped,
            "message": self.message,
            "signals": [s.to_dict() for s in self.signals],
        }
