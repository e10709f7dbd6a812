"""The in-flight gauge: its own counts, or the limiter's read at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from mlserve.monitoring.inflight_gauge import InflightGauge


def scrape(gauge: InflightGauge) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(gauge)
    values = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("mlserve_inflight_requests{"):
            series, value = line.rsplit(" ", 1)
            values[series.split('"')[1]] = float(value)
    return values


def test_counts_its_own_texts_and_shows_tracked_models_at_zero() -> None:
    gauge = InflightGauge()
    gauge.track("idle")
    gauge.add("busy", 3)
    gauge.add("busy", -1)

    assert scrape(gauge) == {"busy": 2.0, "idle": 0.0}


def test_a_source_is_read_at_scrape_and_tracked_models_it_lacks_show_zero() -> None:
    gauge = InflightGauge()
    gauge.track("idle")
    gauge.add("stale", 5)
    limiter_counts = {"sentiment": 4}
    gauge.source = lambda: limiter_counts

    assert scrape(gauge) == {"idle": 0.0, "stale": 0.0, "sentiment": 4.0}
    limiter_counts["sentiment"] = 1
    assert scrape(gauge)["sentiment"] == 1.0
