"""A version's kept series expose exactly what looking each series up by labels would."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from mlserve.monitoring.metrics import ControlPlaneMetrics, version_label


def exposition(metrics: ControlPlaneMetrics) -> str:
    """The text format with the ``_created`` timestamps taken out (they differ by nature)."""
    text = generate_latest(metrics.registry).decode()
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 <t>", text)


def by_labels(
    metrics: ControlPlaneMetrics,
    model: str,
    version: int | None,
    status: int,
    triton_s: float | None,
    hits: int,
    misses: int,
) -> None:
    """One request as the request path recorded it before versions kept their series."""
    v = version_label(version)
    if version is not None:
        metrics.preprocessing.labels(model).observe(0.0004)
        if triton_s is not None:
            metrics.shared_call_wait.labels(model).observe(0.002)
            metrics.triton_duration.labels(model, v).observe(triton_s)
        for _ in range(hits):
            metrics.cache_hits.labels(model).inc()
        for _ in range(misses):
            metrics.cache_misses.labels(model).inc()
    metrics.request_duration.labels("predict", model, v).observe(0.01)
    metrics.requests.labels("predict", model, str(status)).inc()
    metrics.known_model(model)
    if status == 429:
        metrics.rejected.labels(model).inc()


def kept(
    metrics: ControlPlaneMetrics,
    model: str,
    version: int | None,
    status: int,
    triton_s: float | None,
    hits: int,
    misses: int,
) -> None:
    """The same request through :meth:`ControlPlaneMetrics.series`."""
    series = metrics.series(model, version)
    if version is not None:
        series.observe_predictions(0.0004, 0.002, triton_s, hits=hits, misses=misses)
    series.observe_request("predict", status, 0.01)


REQUESTS = [
    ("iris", 1, 200, None, 1, 0),  # all from the cache: no Triton series yet
    ("iris", 1, 200, 0.003, 2, 3),
    ("iris", 2, 200, 0.02, 0, 1),
    ("iris", 1, 429, None, 0, 0),
    ("-", None, 404, None, 0, 0),  # never resolved: labelled "-" and ""
    ("sentiment", 3, 200, 0.004, 0, 1),
]


def test_kept_series_expose_the_same_samples_after_every_request() -> None:
    ours, reference = (
        ControlPlaneMetrics(CollectorRegistry()),
        ControlPlaneMetrics(CollectorRegistry()),
    )
    for request in REQUESTS:
        kept(ours, *request)
        by_labels(reference, *request)
        assert exposition(ours) == exposition(reference)
    text = exposition(ours)
    assert 'mlserve_cache_misses_total{model="iris"} 4.0' in text
    assert 'mlserve_requests_total{endpoint="predict",model="-",status="404"} 1.0' in text


def test_no_triton_series_before_a_request_reached_triton() -> None:
    metrics = ControlPlaneMetrics(CollectorRegistry())
    kept(metrics, "iris", 1, 200, None, 1, 0)
    assert 'mlserve_triton_request_duration_seconds_count{model="iris"' not in exposition(metrics)
    kept(metrics, "iris", 1, 200, 0.003, 0, 1)
    assert (
        'mlserve_triton_request_duration_seconds_count{model="iris",version="1"} 1.0'
        in exposition(metrics)
    )
