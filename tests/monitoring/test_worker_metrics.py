"""Merging the workers' metric snapshots (pure logic) and the worker-count check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlserve.errors import SettingsError
from mlserve.monitoring.loop_metrics import LoopCounter
from mlserve.monitoring.metrics import ControlPlaneMetrics
from mlserve.monitoring.worker_metrics import (
    ENV_DIR,
    WorkerMetrics,
    merge,
    prepare_workers,
    snapshot,
)


def worker(requests: int, inflight: int, triton_rate: float) -> list[dict[str, object]]:
    """A worker's snapshot after ``requests`` answered /predict requests."""
    metrics = ControlPlaneMetrics(CollectorRegistry())
    for _ in range(requests):
        metrics.observe_request("predict", "sentiment", 1, 200, 0.002)
    metrics.set_inflight_source(lambda: {"sentiment": inflight})
    metrics.triton_rate.labels("sentiment", "1").set(triton_rate)
    return snapshot(metrics.registry)


def samples(families: list[object], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    registry = CollectorRegistry(auto_describe=False)

    class Fixed:
        def collect(self) -> list[object]:
            return families

    registry.register(Fixed())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_counters_and_histograms_sum_over_workers_dead_ones_included() -> None:
    merged = merge(worker(3, 0, 10.0), [(True, worker(4, 0, 11.0)), (False, worker(5, 0, 9.0))])

    (total,) = samples(merged, "mlserve_requests_total").values()
    assert total == 12
    counts = samples(merged, "mlserve_request_duration_seconds_count")
    assert list(counts.values()) == [12]
    inf_bucket = [
        v
        for k, v in samples(merged, "mlserve_request_duration_seconds_bucket").items()
        if ("le", "+Inf") in k
    ]
    assert inf_bucket == [12]


def test_in_flight_sums_live_workers_and_other_gauges_are_the_answering_workers() -> None:
    merged = merge(worker(1, 2, 10.0), [(True, worker(1, 3, 11.0)), (False, worker(1, 7, 9.0))])

    assert list(samples(merged, "mlserve_inflight_requests").values()) == [5]
    assert list(samples(merged, "mlserve_triton_inferences_per_second").values()) == [10.0]


def test_created_is_the_earliest_workers() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    early = LoopCounter("x", "X.", ("a",), registry=first)
    early.labels("1").inc()
    early.labels("1").created = 100.0
    late = LoopCounter("x", "X.", ("a",), registry=second)
    late.labels("1").inc()
    late.labels("1").created = 200.0

    merged = merge(snapshot(first), [(True, snapshot(second))])

    assert list(samples(merged, "x_created").values()) == [100.0]
    assert list(samples(merged, "x_total").values()) == [2.0]


def test_a_worker_reads_the_others_snapshot_files(tmp_path: Path) -> None:
    mine, other = ControlPlaneMetrics(CollectorRegistry()), ControlPlaneMetrics(CollectorRegistry())
    mine.observe_request("predict", "m", 1, 200, 0.001)
    for _ in range(2):
        other.observe_request("predict", "m", 1, 200, 0.001)
    WorkerMetrics(tmp_path, other.registry).write()
    os.rename(tmp_path / f"{os.getpid()}.json", tmp_path / "999999999.json")  # a gone worker
    (tmp_path / "12.json").write_text("{half written")  # skipped, not fatal

    text = WorkerMetrics(tmp_path, mine.registry).exposition().decode()

    assert 'mlserve_requests_total{endpoint="predict",model="m",status="200"} 3.0' in text


def test_more_workers_than_cores_is_refused_with_the_fix() -> None:
    with pytest.raises(SettingsError, match=r"server.workers is 3 but this machine has 2 cores"):
        prepare_workers(3, cores=2)


def test_one_worker_needs_no_exchange_and_several_get_a_fresh_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_DIR, "restored-to-absent-after-the-test")
    monkeypatch.delenv(ENV_DIR)
    assert prepare_workers(1, cores=2) is None
    assert ENV_DIR not in os.environ
    folder = prepare_workers(2, cores=2)
    assert folder is not None
    assert folder.is_dir()
    assert not any(folder.iterdir())
    assert os.environ[ENV_DIR] == str(folder)


def test_after_the_last_write_at_exit_no_older_snapshot_replaces_it(tmp_path: Path) -> None:
    metrics = ControlPlaneMetrics(CollectorRegistry())
    exchange = WorkerMetrics(tmp_path, metrics.registry)
    stale = snapshot(metrics.registry)  # taken before the last request
    metrics.observe_request("predict", "m", 1, 200, 0.001)
    exchange.write(final=True)

    exchange._store(stale)  # a writer thread finishing late

    text = (tmp_path / f"{os.getpid()}.json").read_text()
    assert '"mlserve_requests_total", {"endpoint": "predict"' in text
