"""The drift monitor: live windows per (model, version) tested against the reference profile.

Each request adds one observation to its version's window (O(1) per request: a handful of
per-text numbers written into preallocated arrays). When the window is full (default 500
requests) every signal is tested against the reference (see
:mod:`~mlserve.monitoring.drift.two_sample`) and the window starts over (tumbling windows,
so successive evaluations are independent).

False alarms are controlled per window across signals with Bonferroni: with ``alpha`` the
family-wise rate and ``k`` signals tested, a signal drifts when its p-value is below
``alpha / k``, so a window of stationary traffic raises an alarm with probability at most
``alpha`` (the tests are conservative, so in practice less). At the default ``alpha=0.01``
and 500-request windows that bounds false alarms to 0.2 per 10,000 requests.

A version without a reference profile is reported as ``"no reference"``; none is invented.
Memory is bounded: one fixed-size window per version, at most ``max_versions`` versions
(least recently used dropped).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.errors import MLServeError
from mlserve.monitoring import signals as sig
from mlserve.monitoring.drift.report import DriftReport, DriftStatus, SignalResult
from mlserve.monitoring.drift.window import LiveWindow, Observation
from mlserve.monitoring.histogram import ContinuousReference
from mlserve.monitoring.profile import ReferenceProfile
from mlserve.settings import MonitoringSettings

logger = logging.getLogger(__name__)

ReferenceLookup = Callable[[str, int], Mapping[str, Any] | None]
"""Returns a version's stored ``reference_profile`` (or None); called once per version."""


@dataclass
class _VersionState:
    reference: ReferenceProfile | None
    reason: str
    window: LiveWindow | None
    windows_evaluated: int = 0
    windows_drifted: int = 0
    skipped: int = 0
    last_signals: tuple[SignalResult, ...] = ()
    last_detected: bool = False
    evaluated_at: float | None = None
    label_index: dict[int, str] = field(default_factory=dict)


class DriftMonitor:
    """Collects live signals per version and tests each full window against its reference.

    Safe to call from asyncio handlers and threads: one short lock per call, no awaits, no
    I/O except the one-time ``reference_lookup`` per version (made outside the lock).
    """

    def __init__(
        self,
        window_size: int = 500,
        *,
        alpha: float = 0.01,
        reference_lookup: ReferenceLookup | None = None,
        on_report: Callable[[DriftReport], None] | None = None,
        max_versions: int = 256,
    ) -> None:
        if window_size < 50:
            raise ValueError("window_size must be at least 50 requests")
        if not 0 < alpha < 1:
            raise ValueError("alpha must be between 0 and 1")
        self.window_size = window_size
        self.alpha = alpha
        self._lookup = reference_lookup
        self._on_report = on_report
        self._max_versions = max_versions
        self._states: OrderedDict[tuple[str, int], _VersionState] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: MonitoringSettings,
        *,
        reference_lookup: ReferenceLookup | None = None,
        on_report: Callable[[DriftReport], None] | None = None,
    ) -> DriftMonitor:
        return cls(
            settings.drift_window,
            alpha=settings.drift_alpha,
            reference_lookup=reference_lookup,
            on_report=on_report,
        )

    # -- references ---------------------------------------------------------------------

    def set_reference(self, model: str, version: int, profile: Mapping[str, Any] | None) -> None:
        """Use ``profile`` for this version from now on (a new window starts).

        Raises InvalidInputError when the profile is malformed.
        """
        parsed = ReferenceProfile.from_dict(profile) if profile is not None else None
        state = self._new_state(parsed, "" if parsed else "no reference profile was given")
        with self._lock:
            self._store((model, version), state)

    def _new_state(self, reference: ReferenceProfile | None, reason: str) -> _VersionState:
        if reference is None:
            return _VersionState(None, reason, None)
        window = LiveWindow(self.window_size, reference.signals)
        labels = dict(enumerate(reference.labels))
        return _VersionState(reference, "", window, label_index=labels)

    def _load(self, model: str, version: int) -> _VersionState:
        if self._lookup is None:
            return self._new_state(None, "no reference profile was registered")
        try:
            data = self._lookup(model, version)
            if data is None:
                return self._new_state(None, "the version was published without validation data")
            return self._new_state(ReferenceProfile.from_dict(data), "")
        except (MLServeError, OSError, ValueError) as exc:
            logger.warning("no drift reference for %s v%s: %s", model, version, exc)
            return self._new_state(None, f"its reference profile could not be read: {exc}")

    def _store(self, key: tuple[str, int], state: _VersionState) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > self._max_versions:
            self._states.popitem(last=False)

    def _state(self, model: str, version: int) -> _VersionState:
        key = (model, version)
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
                return state
        loaded = self._load(model, version)
        with self._lock:
            state = self._states.get(key)
            if state is None:
                self._store(key, loaded)
                state = loaded
            return state

    def forget(self, model: str, version: int | None = None) -> None:
        """Drop the state of one version, or of every version of ``model``."""
        with self._lock:
            for key in [k for k in self._states if k[0] == model and version in (None, k[1])]:
                del self._states[key]

    # -- observing ----------------------------------------------------------------------

    def observe(
        self, model: str, version: int, text: str, probabilities: Sequence[float] | npt.NDArray[Any]
    ) -> DriftReport | None:
        """Record one text prediction; returns the report when it completed a window."""
        state = self._state(model, version)
        reference = state.reference
        if reference is None:
            return None
        if reference.kind != "text":
            return self._skip(state)
        observation: dict[str, float | str | None] = {
            sig.TEXT_LENGTH: sig.text_length(text),
            sig.NON_LETTER_SHARE: sig.non_letter_share(text),
        }
        if reference.vocabulary is not None:
            observation[sig.OOV_RATE] = sig.oov_rate(text, reference.vocabulary)
        if not self._add_prediction(observation, state, probabilities):
            return self._skip(state)
        return self._add(model, version, state, observation)

    def observe_record(
        self,
        model: str,
        version: int,
        record: Mapping[str, Any],
        probabilities: Sequence[float] | npt.NDArray[Any] | None = None,
        score: float | None = None,
    ) -> DriftReport | None:
        """Record one tabular prediction (features by name); returns a completed report.
        ``score``: an anomaly detector's score, tested when the reference has one."""
        state = self._state(model, version)
        reference = state.reference
        if reference is None:
            return None
        if reference.kind != "tabular":
            return self._skip(state)
        observation: dict[str, float | str | None] = {}
        for feature in reference.features:
            value = record.get(feature)
            distribution = reference.signals.get(sig.FEATURE_PREFIX + feature)
            usable: float | str | None
            if isinstance(distribution, ContinuousReference):
                usable = sig.numeric_value(value)
            else:
                usable = None if sig.is_missing(value) else str(value)
            observation[sig.FEATURE_PREFIX + feature] = usable
            observation[sig.MISSING_PREFIX + feature] = "missing" if usable is None else "present"
        if score is not None and sig.ANOMALY_SCORE in reference.signals:
            observation[sig.ANOMALY_SCORE] = sig.numeric_value(score)
            observation[sig.ANOMALY_LABEL] = sig.anomaly_label(score)
        # A profile made from feature rows alone has no label signals to compare.
        if (
            probabilities is not None
            and state.label_index
            and not self._add_prediction(observation, state, probabilities)
        ):
            return self._skip(state)
        return self._add(model, version, state, observation)

    @staticmethod
    def _add_prediction(
        observation: dict[str, float | str | None],
        state: _VersionState,
        probabilities: Sequence[float] | npt.NDArray[Any],
    ) -> bool:
        if len(state.label_index) != np.asarray(probabilities).size:
            return False
        confidence, entropy, index = sig.prediction_signals(probabilities)
        observation[sig.CONFIDENCE] = confidence
        observation[sig.ENTROPY] = entropy
        observation[sig.PREDICTED_LABEL] = state.label_index[index]
        return True

    def _skip(self, state: _VersionState) -> DriftReport | None:
        """Count an observation that does not fit the version's profile; nothing to report."""
        with self._lock:
            state.skipped += 1
        return None

    def _add(
        self, model: str, version: int, state: _VersionState, observation: Observation
    ) -> DriftReport | None:
        window = state.window
        if window is None:
            return None
        with self._lock:
            window.add(observation)
            if not window.full:
                return None
            results = self._judge(window.compare())
            state.windows_evaluated += 1
            state.last_detected = any(r.drifted for r in results)
            state.windows_drifted += int(state.last_detected)
            state.last_signals = results
            state.evaluated_at = time.time()
            report = self._report(model, version, state)
        if self._on_report is not None:
            self._on_report(report)
        return report

    def _judge(self, comparisons: Mapping[str, Any]) -> tuple[SignalResult, ...]:
        threshold = self.alpha / max(len(comparisons), 1)
        return tuple(
            SignalResult(
                signal=name,
                test=outcome.test,
                statistic=outcome.statistic,
                p_value=outcome.p_value,
                score=outcome.score,
                threshold=threshold,
                drifted=outcome.p_value < threshold,
            )
            for name, outcome in comparisons.items()
        )

    # -- reporting ----------------------------------------------------------------------

    def _report(self, model: str, version: int, state: _VersionState) -> DriftReport:
        if state.reference is None or state.window is None:
            return DriftReport(
                model=model,
                version=version,
                status="no reference",
                detected=False,
                window_size=self.window_size,
                observed=0,
                windows_evaluated=0,
                windows_drifted=0,
                alpha=self.alpha,
                message=f"{model} v{version} has no reference profile ({state.reason}); "
                "drift cannot be measured until it is republished with validation data",
            )
        status: DriftStatus
        if state.windows_evaluated == 0:
            status = "collecting"
            message = f"first window: {state.window.count}/{self.window_size} requests"
        elif state.last_detected:
            status = "drift"
            names = ", ".join(r.signal for r in state.last_signals if r.drifted)
            message = f"last window drifted on: {names}"
        else:
            status = "ok"
            message = "last window matched the reference"
        return DriftReport(
            model=model,
            version=version,
            status=status,
            detected=state.last_detected,
            window_size=self.window_size,
            observed=state.window.count,
            windows_evaluated=state.windows_evaluated,
            windows_drifted=state.windows_drifted,
            alpha=self.alpha,
            signals=state.last_signals,
            evaluated_at=state.evaluated_at,
            skipped=state.skipped,
            message=message,
        )

    def report(self, model: str, version: int) -> DriftReport:
        """The current report of one version (loading its reference on first use)."""
        state = self._state(model, version)
        with self._lock:
            return self._report(model, version, state)

    def reports(self, model: str | None = None) -> list[DriftReport]:
        """Reports of every tracked version (of ``model`` when given), by model and version."""
        with self._lock:
            keys = sorted(k for k in self._states if model is None or k[0] == model)
            return [self._report(m, v, self._states[(m, v)]) for m, v in keys]
