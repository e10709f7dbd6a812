"""What the data plane records, for every kind: drift of tabular inputs, request counts
of every status (5xx included), and the clear 422s of bad input."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlserve.converters.custom_python import export_custom_python
from mlserve.samples.iris import train_iris
from tests.conftest import Stack
from tests.dataplane.conftest import Kinds, publish, wait_served

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
FAILING_MODEL = """
FEATURES = ["x"]
LABELS = ["low", "high"]


def predict(records):
    if any(r["x"] == 13.0 for r in records):
        raise RuntimeError("thirteen is unlucky")
    return ["high" if r["x"] > 0 else "low" for r in records]
"""


def metric(client: httpx.Client, sample: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_tabular_drift_is_detected_when_a_feature_shifts(
    stack: Stack, client: httpx.Client
) -> None:
    name = f"drift-iris-{uuid.uuid4().hex[:6]}"
    publish(stack, train_iris(), name)
    wait_served(stack.base_url, {"model": name, "features": SETOSA})
    # At most drift_samples_per_second predictions a second enter the windows: send until
    # one window is full rather than a count that depends on this machine's speed.
    sent = 0
    report: dict[str, Any] = {}
    while sent < 5000 and report.get("windows_evaluated", 0) < 1:
        for _ in range(100):
            i = sent = sent + 1
            shifted = {**SETOSA, "petal_length": 4.0 + (i % 97) / 10, "petal_width": 2.5 + i % 7}
            answer = client.post("/predict", json={"model": name, "features": shifted})
            assert answer.status_code == 200
        time.sleep(0.3)  # the recorder drains every 0.2 s
        report = client.get(f"/monitoring/drift/{name}").json()["versions"][0]

    assert report["status"] == "drift", {k: report[k] for k in ("observed", "skipped", "message")}
    drifted = {s["signal"] for s in report["signals"] if s["drifted"]}
    assert "feature:petal_length" in drifted


def test_a_failing_model_is_a_5xx_and_counted(
    stack: Stack, client: httpx.Client, tmp_path: Path
) -> None:
    source = tmp_path / "unlucky.py"
    source.write_text(FAILING_MODEL)
    name = f"unlucky-{uuid.uuid4().hex[:6]}"
    publish(stack, export_custom_python(source, background=[{"x": 1.0}, {"x": -1.0}]), name)
    wait_served(stack.base_url, {"model": name, "features": {"x": 1.0}})
    before = sum(
        metric(client, "mlserve_requests_total", endpoint="predict", model=name, status=s)
        for s in ("500", "502", "503")
    )

    answer = client.post("/predict", json={"model": name, "features": {"x": 13.0}})

    assert answer.status_code >= 500
    assert "thirteen is unlucky" in answer.json()["error"]
    after = sum(
        metric(client, "mlserve_requests_total", endpoint="predict", model=name, status=s)
        for s in ("500", "502", "503")
    )
    assert after == before + 1


@pytest.mark.parametrize(
    ("kind", "body", "fragment"),
    [
        ("tabular", {"text": "hello"}, "takes feature records, not text"),
        ("text", {"features": SETOSA}, "takes text, not feature records"),
        ("tabular", {"features": {**SETOSA, "colour": 1}}, "unknown feature(s) 'colour'"),
        ("tabular", {"features": {"sepal_length": 5.1}}, "missing feature(s)"),
        ("tabular", {"features": {**SETOSA, "petal_width": "wide"}}, "must be a number"),
        ("tabular", {"features": {**SETOSA, "petal_width": None}}, "missing (null/NaN)"),
        ("tabular", {"features": [[5.1, 3.5]]}, "takes 4, in this order"),
        ("tabular", {"features": "5.1"}, "features must be an object"),
        ("custom", {"text": "hello"}, "takes feature records, not text"),
        ("tokens", {"features": SETOSA}, "takes text, not feature records"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_an_example(
    kind: str, body: dict[str, Any], fragment: str, kinds: Kinds, client: httpx.Client
) -> None:
    answer = client.post("/predict", json={"model": getattr(kinds, kind), **body})

    assert answer.status_code == 422, answer.text
    assert fragment in answer.json()["error"]


def test_seed_s3_basic_monitor_shows_window_feature_means_and_prediction_counts(
    stack: Stack, client: httpx.Client
) -> None:
    name = f"basic-iris-{uuid.uuid4().hex[:6]}"
    publish(stack, train_iris(), name)
    wait_served(stack.base_url, {"model": name, "features": SETOSA})
    rows = [[5.0 + i / 100, 3.5, 1.4, 0.2] for i in range(20)]
    assert client.post("/batch-predict", json={"model": name, "features": rows}).status_code == 200

    answer = client.get("/monitor/basic")

    assert answer.status_code == 200, answer.text
    [window] = [v for v in answer.json()["versions"] if v["model"] == name]
    assert window["rows"] == 21  # the readiness probe's record and the 20 rows
    sepal = window["features"]["sepal_length"]
    expected = (5.1 + sum(r[0] for r in rows)) / 21
    assert abs(sepal["mean"] - expected) < 1e-6
    assert window["features"]["petal_width"]["missing_share"] == 0.0
    assert window["predictions"] == {"setosa": 21}
    stats = client.get("/monitoring/stats").json()
    assert any(w["model"] == name for w in stats["features"])
