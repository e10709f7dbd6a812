"""An experiment's mirror (shadow) variant against the real Triton: it receives a copy of
every route's traffic (``/predict``, ``/batch-predict``, ``/api/v1`` through the real
``mlserve-sdk`` client, ``/v2`` Open Inference Protocol), clients get the primary's
answers only, and a failing mirror fails no client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlserve_sdk.client import MLServeClient

from mlserve.converters.base import ExportedModel
from mlserve.samples.iris import rules_model
from mlserve.samples.sentiment_model import train_sentiment
from mlserve.triton.client import TritonClient
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.dataplane.conftest import publish, wait_served

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def start_experiment(client: httpx.Client, token: str, name: str) -> str:
    body = {
        "name": f"shadow {name}",
        "model_type": name,
        "variants": [
            {"name": "control", "version": "1", "traffic_percentage": 100},
            {"name": "shadow", "version": "2", "traffic_percentage": 0, "mirror": True},
        ],
        "duration_hours": 1,
    }
    answer = client.post("/experiments", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    experiment_id: str = answer.json()["experiment_id"]
    return experiment_id


CRASHING_MODEL = """
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABELS = ["setosa", "versicolor", "virginica"]


class Crashing:
    def predict(self, records):
        if all(not r["sepal_length"] for r in records):  # the export's smoke test (zeros)
            return ["setosa" for _ in records]
        raise RuntimeError("this shadow version crashes on every real record")
"""


def crashing_model(work: Path) -> ExportedModel:
    """A custom Python version (same kind as ``iris-rules``) that raises in Triton."""
    from mlserve.converters.custom_python import export_custom_python

    path = work / "crashing.py"
    path.write_text(CRASHING_MODEL)
    return export_custom_python(path)


@pytest.fixture
def shadowed(
    stack: Stack,
    admin_token: str,
    client: httpx.Client,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[tuple[str, str]]:
    """The param ``text``: sentiment v1 and v2; ``crashing``: the custom ``iris-rules``
    v1 and a v2 that raises in Triton. An experiment serves v1 and mirrors to v2."""
    name = f"mirror-{uuid.uuid4().hex[:6]}"
    if request.param == "text":
        publish(stack, train_sentiment(1), name)
        publish(stack, train_sentiment(2), name)
        wait_served(stack.base_url, {"model": name, "version": 1, "text": "great"})
    else:
        publish(stack, rules_model(), name)
        publish(stack, crashing_model(tmp_path), name)
        wait_served(stack.base_url, {"model": name, "version": 1, "features": SETOSA})
    time.sleep(1.1)  # the registry's readiness cache: v2 counts as served
    experiment_id = start_experiment(client, admin_token, name)
    try:
        yield name, experiment_id
    finally:
        headers = {"Authorization": f"Bearer {admin_token}"}
        client.post(f"/experiments/{experiment_id}/stop", headers=headers)


def triton_inferences(stack: Stack, name: str, version: int) -> int:
    async def read() -> int:
        triton = TritonClient(stack.triton.grpc_url)
        try:
            stats = await triton.statistics(name)
        finally:
            await triton.close()
        return sum(
            int(s.get("inference_count", 0))
            for s in stats.get("model_stats", [])
            if s.get("version") == str(version)
        )

    return asyncio.run(read())


def mirror_row(client: httpx.Client, experiment_id: str) -> dict[str, Any]:
    results = client.get(f"/experiments/{experiment_id}/results")
    assert results.status_code == 200, results.text
    row: dict[str, Any] = next(v for v in results.json()["variants"] if v["mirror"])
    return row


def wait_for_copies(client: httpx.Client, experiment_id: str, copies: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        row = mirror_row(client, experiment_id)
        if row["requests"] >= copies or time.monotonic() > deadline:
            return row
        time.sleep(0.3)


def one(kind: str, i: int) -> Any:
    """A distinct input (text, or an iris record)."""
    if kind == "text":
        return f"review {uuid.uuid4().hex[:8]}: {'great' if i % 2 else 'awful'}"
    return {**SETOSA, "sepal_length": 4.0 + i / 10, "petal_length": 1.0 + (i % 7) / 2}


def send_every_route(
    client: httpx.Client, stack: Stack, name: str, kind: str
) -> tuple[list[str], int, int]:
    """Requests on every predict route; (the versions that answered, copies, items)."""
    field, fields = ("text", "texts") if kind == "text" else ("features", "features")
    versions: list[str] = []
    for i in range(6):
        answer = client.post("/predict", json={"model": name, field: one(kind, i)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["routed_by"] == "experiment"
        versions.append(answer.json()["version"])
    for i in range(3):
        batch = [one(kind, 10 + 2 * i), one(kind, 11 + 2 * i)]
        answer = client.post("/batch-predict", json={"model": name, fields: batch})
        assert answer.status_code == 200, answer.text
        versions.append(answer.json()["version"])
    sdk = MLServeClient(server_url=stack.base_url)
    sdk.login(ADMIN_USER, ADMIN_PASSWORD)
    for i in range(2):
        inputs = [one(kind, 20 + 2 * i), one(kind, 21 + 2 * i)]
        answer = sdk.predict_weighted(name, {"inputs": inputs})
        versions.extend(answer["versions"])
    for i in range(2):
        item = one(kind, 30 + i)
        tensor = (
            {"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": [item]}
            if kind == "text"
            else {"name": "input", "datatype": "FP32", "shape": [1, 4], "data": list(item.values())}
        )
        answer = client.post(f"/v2/models/{name}/infer", json={"inputs": [tensor]})
        assert answer.status_code == 200, answer.text
        versions.append(f"v{answer.json()['model_version']}")
    return versions, 6 + 3 + 2 + 2, 6 + 3 * 2 + 2 * 2 + 2


@pytest.mark.parametrize("shadowed", ["text"], indirect=True)
def test_the_mirror_gets_a_copy_of_every_route_and_clients_get_the_primary_only(
    shadowed: tuple[str, str], stack: Stack, client: httpx.Client
) -> None:
    name, experiment_id = shadowed
    before = triton_inferences(stack, name, 2)

    versions, copies, items = send_every_route(client, stack, name, "text")

    assert set(versions) == {"v1"}, versions  # every answer from the primary
    row = wait_for_copies(client, experiment_id, copies)
    assert row["requests"] == copies, row
    assert row["errors"] == 0, row
    assert row["live_traffic_percentage"] == 0
    assert row["agreement"]["n"] == items, row  # every item compared with the primary's
    assert 0.0 <= row["agreement"]["value"] <= 1.0
    assert row["latency_ms"]["p50"] is not None
    # Triton itself saw the copies: v2 served nothing else.
    deadline = time.monotonic() + 10
    while triton_inferences(stack, name, 2) - before < items and time.monotonic() < deadline:
        time.sleep(0.2)
    assert triton_inferences(stack, name, 2) - before == items
    metrics = client.get("/monitoring/metrics").text
    answered = f'mlserve_mirror_copies_total{{model="{name}",outcome="answered"}} {copies}.0'
    assert answered in metrics
    assert (
        f'mlserve_experiment_requests_total{{experiment="{experiment_id}",model="{name}",'
        f'outcome="ok",variant="shadow"}} {copies}.0'
    ) in metrics


@pytest.mark.parametrize("shadowed", ["crashing"], indirect=True)
def test_a_failing_mirror_fails_no_client(
    shadowed: tuple[str, str], stack: Stack, client: httpx.Client
) -> None:
    name, experiment_id = shadowed  # v2 raises in Triton on every record

    versions, copies, _ = send_every_route(client, stack, name, "records")

    assert set(versions) == {"v1"}, versions
    row = wait_for_copies(client, experiment_id, copies)
    assert row["requests"] == copies, row
    assert row["errors"] == copies, row
    assert row["agreement"] is None  # nothing answered to compare
    metrics = client.get("/monitoring/metrics").text
    assert f'mlserve_mirror_copies_total{{model="{name}",outcome="failed"}} {copies}.0' in metrics
    results = client.get(f"/experiments/{experiment_id}/results").json()
    assert results["status"] == "running"  # a mirror is never the control's replacement
