"""The drift monitor: windows per version, reports, no invented references, bounded memory."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from mlserve.errors import InvalidInputError, NotFoundError
from mlserve.monitoring.drift import DriftMonitor, DriftReport
from mlserve.monitoring.profile import compute_tabular_profile, compute_text_profile
from mlserve.samples.sentiment_data import LABELS, generate
from mlserve.settings import MonitoringSettings

VOCABULARY = {
    word for text in generate(3_000, seed=11).train_texts for word in text.lower().split()
}
WINDOW = 100


def _probabilities(
    n: int, rng: np.random.Generator, alpha: tuple[float, ...]
) -> npt.NDArray[np.float64]:
    return rng.dirichlet(alpha, size=n)


@pytest.fixture(scope="module")
def text_profile() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    texts = generate(1_000, seed=1).train_texts
    return compute_text_profile(
        texts, _probabilities(len(texts), rng, (2, 2, 2)), LABELS, VOCABULARY
    )


def _monitor(profile: dict[str, Any] | None, **kwargs: Any) -> DriftMonitor:
    monitor = DriftMonitor(WINDOW, **kwargs)
    monitor.set_reference("sentiment", 1, profile)
    return monitor


def _feed(
    monitor: DriftMonitor, texts: list[str], probabilities: npt.NDArray[np.float64]
) -> list[DriftReport]:
    reports = []
    for text, row in zip(texts, probabilities, strict=True):
        report = monitor.observe("sentiment", 1, text, row)
        if report is not None:
            reports.append(report)
    return reports


def test_a_version_without_reference_reports_no_reference() -> None:
    monitor = DriftMonitor(WINDOW, reference_lookup=lambda model, version: None)
    assert monitor.observe("sentiment", 2, "great product", [0.1, 0.2, 0.7]) is None
    report = monitor.report("sentiment", 2)
    assert report.status == "no reference"
    assert report.detected is False
    assert report.signals == ()
    assert "published without validation data" in report.message
    assert report.to_dict()["status"] == "no reference"


def test_an_unreadable_reference_is_reported_not_raised() -> None:
    def lookup(model: str, version: int) -> dict[str, Any] | None:
        raise NotFoundError(f"model {model!r} has no version {version}")

    monitor = DriftMonitor(WINDOW, reference_lookup=lookup)
    monitor.observe("sentiment", 9, "text", [1.0, 0.0, 0.0])
    report = monitor.report("sentiment", 9)
    assert report.status == "no reference"
    assert "could not be read" in report.message
    assert "has no version 9" in report.message


def test_a_monitor_without_lookup_never_invents_a_reference() -> None:
    report = DriftMonitor(WINDOW).report("other", 1)
    assert report.status == "no reference"


def test_reference_lookup_runs_once_per_version(text_profile: dict[str, Any]) -> None:
    calls: list[tuple[str, int]] = []

    def lookup(model: str, version: int) -> dict[str, Any]:
        calls.append((model, version))
        return text_profile

    monitor = DriftMonitor(WINDOW, reference_lookup=lookup)
    for _ in range(5):
        monitor.observe("sentiment", 1, "the app is great", [0.1, 0.1, 0.8])
    assert calls == [("sentiment", 1)]
    assert monitor.report("sentiment", 1).status == "collecting"


def test_windows_are_evaluated_when_full(text_profile: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    monitor = _monitor(text_profile)
    texts = generate(350, seed=2).test_texts * 5
    reports = _feed(monitor, texts[:350], _probabilities(350, rng, (2, 2, 2)))
    assert len(reports) == 3
    assert [r.windows_evaluated for r in reports] == [1, 2, 3]
    current = monitor.report("sentiment", 1)
    assert current.observed == 50
    assert current.status in ("ok", "drift")
    assert current.window_size == WINDOW
    assert len(current.signals) == 6
    for signal in current.signals:
        assert signal.threshold == pytest.approx(0.01 / 6)
        assert signal.drifted == (signal.p_value < signal.threshold)
    json.dumps(current.to_dict())


def test_off_distribution_text_is_detected(text_profile: dict[str, Any]) -> None:
    rng = np.random.default_rng(2)
    monitor = _monitor(text_profile)
    texts = ["Qwx zzkv plorb frum tekka vonn." for _ in range(WINDOW)]
    reports = _feed(monitor, texts, _probabilities(WINDOW, rng, (2, 2, 2)))
    assert reports[-1].detected
    assert reports[-1].status == "drift"
    drifted = {s.signal for s in reports[-1].signals if s.drifted}
    assert "oov_rate" in drifted
    assert "oov_rate" in reports[-1].message


def test_a_skewed_label_mix_is_detected(text_profile: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    monitor = _monitor(text_profile)
    texts = generate(WINDOW * 2, seed=5).train_texts[:WINDOW]
    reports = _feed(monitor, texts, _probabilities(WINDOW, rng, (0.5, 0.5, 8)))
    drifted = {s.signal for s in reports[-1].signals if s.drifted}
    assert {"predicted_label", "confidence"} <= drifted


def test_probabilities_of_the_wrong_size_are_skipped_and_counted(
    text_profile: dict[str, Any],
) -> None:
    monitor = _monitor(text_profile)
    assert monitor.observe("sentiment", 1, "fine", [0.5, 0.5]) is None
    assert monitor.observe("sentiment", 1, "fine", []) is None
    monitor.observe_record("sentiment", 1, {"x": 1.0})
    report = monitor.report("sentiment", 1)
    assert report.skipped == 3
    assert report.observed == 0


def test_on_report_sees_every_evaluation(text_profile: dict[str, Any]) -> None:
    seen: list[DriftReport] = []
    monitor = _monitor(text_profile, on_report=seen.append)
    rng = np.random.default_rng(4)
    _feed(monitor, ["The app is great."] * 250, _probabilities(250, rng, (2, 2, 2)))
    assert [r.windows_evaluated for r in seen] == [1, 2]


def test_memory_is_bounded_across_versions(text_profile: dict[str, Any]) -> None:
    monitor = DriftMonitor(WINDOW, max_versions=3, reference_lookup=lambda m, v: text_profile)
    for version in range(1, 11):
        monitor.observe("sentiment", version, "great", [0.2, 0.3, 0.5])
    tracked = [(r.model, r.version) for r in monitor.reports()]
    assert tracked == [("sentiment", 8), ("sentiment", 9), ("sentiment", 10)]


def test_window_never_holds_more_than_its_size(text_profile: dict[str, Any]) -> None:
    monitor = _monitor(text_profile)
    rng = np.random.default_rng(5)
    _feed(monitor, ["Nice."] * (WINDOW * 7 + 13), _probabilities(WINDOW * 7 + 13, rng, (1, 1, 1)))
    report = monitor.report("sentiment", 1)
    assert report.observed == 13
    assert report.windows_evaluated == 7


def test_concurrent_observers_lose_nothing(text_profile: dict[str, Any]) -> None:
    monitor = _monitor(text_profile)
    row = np.array([0.2, 0.3, 0.5])

    def worker() -> None:
        for _ in range(250):
            monitor.observe("sentiment", 1, "The delivery was slow.", row)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = monitor.report("sentiment", 1)
    assert report.windows_evaluated * WINDOW + report.observed == 1_000


def test_malformed_reference_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"reference_profile\.format"):
        DriftMonitor(WINDOW).set_reference("sentiment", 1, {"format": "nope"})


def test_forget_drops_versions(text_profile: dict[str, Any]) -> None:
    monitor = DriftMonitor(WINDOW, reference_lookup=lambda m, v: text_profile)
    for version in (1, 2):
        monitor.observe("sentiment", version, "ok", [0.3, 0.3, 0.4])
    monitor.observe("other", 1, "ok", [0.3, 0.3, 0.4])
    monitor.forget("sentiment", 1)
    assert [(r.model, r.version) for r in monitor.reports()] == [("other", 1), ("sentiment", 2)]
    monitor.forget("sentiment")
    assert [r.model for r in monitor.reports()] == ["other"]
    assert [r.model for r in monitor.reports("other")] == ["other"]


def test_window_and_alpha_come_from_settings() -> None:
    monitor = DriftMonitor.from_settings(MonitoringSettings(drift_window=200, drift_alpha=0.02))
    assert (monitor.window_size, monitor.alpha) == (200, 0.02)
    with pytest.raises(ValueError, match="window_size"):
        DriftMonitor(10)
    with pytest.raises(ValueError, match="alpha"):
        DriftMonitor(100, alpha=1.5)


def _tabular_records(n: int, rng: np.random.Generator, **shift: float) -> list[dict[str, Any]]:
    records = []
    for _ in range(n):
        missing = rng.random() < shift.get("missing", 0.05)
        new_color = rng.random() < shift.get("new_color", 0.0)
        records.append(
            {
                "income": None if missing else float(rng.normal(50 + shift.get("income", 0), 10)),
                "color": "purple" if new_color else str(rng.choice(["red", "green", "blue"])),
            }
        )
    return records


@pytest.fixture(scope="module")
def tabular_profile() -> dict[str, Any]:
    rng = np.random.default_rng(10)
    return compute_tabular_profile(_tabular_records(600, rng), ["income", "color"])


@pytest.mark.parametrize(
    ("shift", "signal"),
    [
        ({"income": 8.0}, "feature:income"),
        ({"missing": 0.3}, "missing:income"),
        ({"new_color": 0.2}, "feature:color"),
    ],
)
def test_tabular_shifts_are_detected_on_their_signal(
    tabular_profile: dict[str, Any], shift: dict[str, float], signal: str
) -> None:
    monitor = DriftMonitor(WINDOW * 2)
    monitor.set_reference("credit", 1, tabular_profile)
    rng = np.random.default_rng(11)
    report = None
    for record in _tabular_records(WINDOW * 2, rng, **shift):
        report = monitor.observe_record("credit", 1, record) or report
    assert report is not None
    assert signal in {s.signal for s in report.signals if s.drifted}


def test_stationary_tabular_traffic_is_ok(tabular_profile: dict[str, Any]) -> None:
    monitor = DriftMonitor(WINDOW * 2)
    monitor.set_reference("credit", 1, tabular_profile)
    rng = np.random.default_rng(12)
    reports = [
        monitor.observe_record("credit", 1, record) for record in _tabular_records(WINDOW * 10, rng)
    ]
    evaluated = [r for r in reports if r is not None]
    assert len(evaluated) == 5
    assert sum(r.detected for r in evaluated) <= 1


def test_text_observation_on_a_tabular_version_is_skipped(tabular_profile: dict[str, Any]) -> None:
    monitor = DriftMonitor(WINDOW)
    monitor.set_reference("credit", 1, tabular_profile)
    monitor.observe("credit", 1, "some text", [0.5, 0.5])
    assert monitor.report("credit", 1).skipped == 1


def _scored(
    n: int, rng: np.random.Generator, score_shift: float = 0.0
) -> list[tuple[dict[str, Any], float]]:
    """Records with an anomaly score: the features stay the same whatever the shift, so only
    the score signals can tell a shifted window apart."""
    return [
        (
            {"income": float(rng.normal(50, 10)), "color": str(rng.choice(["red", "blue"]))},
            float(rng.normal(0.2 - score_shift, 0.1)),
        )
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def scored_profile() -> dict[str, Any]:
    rows = _scored(600, np.random.default_rng(20))
    return compute_tabular_profile(
        [r for r, _ in rows], ["income", "color"], scores=[s for _, s in rows]
    )


def test_anomaly_scores_drift_on_their_own_signals(scored_profile: dict[str, Any]) -> None:
    assert {"anomaly_score", "anomaly_label"} <= set(scored_profile["signals"])
    monitor = DriftMonitor(WINDOW * 2)
    monitor.set_reference("detector", 1, scored_profile)
    rng = np.random.default_rng(21)
    calm = [monitor.observe_record("detector", 1, r, score=s) for r, s in _scored(200, rng)]
    [calm_report] = [r for r in calm if r is not None]
    assert not calm_report.detected
    shifted = [
        monitor.observe_record("detector", 1, r, score=s)
        for r, s in _scored(200, rng, score_shift=0.25)
    ]
    [report] = [r for r in shifted if r is not None]
    drifted = {s.signal for s in report.signals if s.drifted}
    assert drifted == {"anomaly_score", "anomaly_label"}


def test_scores_are_ignored_without_a_score_reference(tabular_profile: dict[str, Any]) -> None:
    """A regressor's value also arrives as ``score``; a profile without score signals (every
    non-detector) never tests it."""
    monitor = DriftMonitor(WINDOW)
    monitor.set_reference("credit", 1, tabular_profile)
    rng = np.random.default_rng(22)
    reports = [
        monitor.observe_record("credit", 1, record, score=1000.0)
        for record in _tabular_records(WINDOW, rng)
    ]
    [report] = [r for r in reports if r is not None]
    assert not {s.signal for s in report.signals} & {"anomaly_score", "anomaly_label"}
