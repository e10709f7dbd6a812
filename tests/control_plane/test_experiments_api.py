"""S2's experiment routes on the real control plane (tritonserver, uvicorn, SQLite state)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mlserve.samples.sentiment_model import train_sentiment
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack


@pytest.fixture(scope="module")
async def two_versions(stack: Stack) -> AsyncIterator[str]:
    """A fresh model with versions 1 and 2 served (one for the module)."""
    triton = TritonClient(stack.triton.grpc_url)
    publisher = Publisher(stack.repository, triton)
    name = f"e{uuid.uuid4().hex[:5]}"  # short: a long name widens `mlserve stats` tables
    await publisher.publish(train_sentiment(1), name)
    await publisher.publish(train_sentiment(2), name)
    try:
        yield name
    finally:
        await triton.close()


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post(
        "/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def s2_body(model: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Event Classifier v1 vs v2",
        "description": "Compare baseline with optimized model",
        "model_type": model,
        "variants": [
            {"name": "control", "version": "1", "traffic_percentage": 50},
            {"name": "treatment", "version": "2", "traffic_percentage": 50},
        ],
        "duration_hours": 24,
        "success_metrics": {
            "success_rate": {"threshold": 0.95, "weight": 1.0},
            "avg_latency_ms": {"threshold": 100, "weight": 0.5},
        },
    }
    body.update(overrides)
    return body


async def test_create_list_results_and_stop_as_seed_s2_does(
    stack: Stack, two_versions: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        admin = await admin_headers(client)
        created = await client.post(
            "/experiments/create", json=s2_body(two_versions), headers=admin
        )
        assert created.status_code == 201, created.text
        experiment = created.json()
        assert experiment["status"] == "running"
        assert experiment["model"] == two_versions
        experiment_id = experiment["experiment_id"]

        listed = (await client.get("/experiments")).json()
        assert experiment_id in [e["experiment_id"] for e in listed]

        results = await client.get(f"/experiments/{experiment_id}/results")
        assert results.status_code == 200, results.text
        body = results.json()
        assert [v["name"] for v in body["variants"]] == ["control", "treatment"]
        assert body["decision"]["metric"] == "success_rate"
        assert body["decision"]["outcome"] == "continue"

        stopped = await client.post(f"/experiments/{experiment_id}/stop", headers=admin)
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["status"] == "stopped"
        again = await client.post(
            "/experiments", json=s2_body(two_versions, name="second"), headers=admin
        )
        assert again.status_code == 201, again.text
        await client.post(f"/experiments/{again.json()['experiment_id']}/stop", headers=admin)


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (
            {
                "variants": [
                    {"name": "control", "version": "1", "traffic_percentage": 50},
                    {"name": "treatment", "version": "2", "traffic_percentage": 40},
                ]
            },
            422,
            ["traffic_percentage", "sum to 90"],
        ),
        ({"model_type": "no-such-model"}, 404, ["model_type"]),
        (
            {
                "variants": [
                    {"name": "control", "version": "1", "traffic_percentage": 50},
                    {"name": "treatment", "version": "7", "traffic_percentage": 50},
                ]
            },
            404,
            ["variants[1].version", "no version 7"],
        ),
        ({"success_metrics": {"f1": {"threshold": 1}}}, 422, ["success_metrics.f1", "allowed"]),
        ({"duration_hours": -1}, 422, ["duration_hours"]),
    ],
)
async def test_bad_experiments_get_a_4xx_naming_the_field_and_change_nothing(
    stack: Stack, two_versions: str, change: dict[str, Any], status: int, words: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        admin = await admin_headers(client)
        before = (await client.get("/experiments")).json()
        answer = await client.post(
            "/experiments", json=s2_body(two_versions, **change), headers=admin
        )
        assert answer.status_code == status, answer.text
        for word in words:
            assert word in answer.text
        assert (await client.get("/experiments")).json() == before


async def test_creating_and_stopping_need_an_admin_token(stack: Stack, two_versions: str) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        before = (await client.get("/experiments")).json()
        anonymous = await client.post("/experiments", json=s2_body(two_versions))
        assert anonymous.status_code == 401
        assert (await client.get("/experiments")).json() == before
        unknown = await client.get("/experiments/exp-000000000000/results")
        assert unknown.status_code == 404
        assert "GET /experiments" in unknown.json()["error"]


async def test_a_running_experiment_routes_predict_traffic_and_counts_it(
    stack: Stack, two_versions: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        admin = await admin_headers(client)
        created = await client.post(
            "/experiments", json=s2_body(two_versions, name="routed"), headers=admin
        )
        assert created.status_code == 201, created.text
        experiment_id = created.json()["experiment_id"]
        try:
            seen: dict[str, int] = {}
            for i in range(200):
                body = {"model": two_versions, "text": f"review {i}: the screen is great"}
                answer = (await client.post("/predict", json=body)).json()
                assert answer["routed_by"] == "experiment", answer
                seen[answer["version"]] = seen.get(answer["version"], 0) + 1
            sticky = {
                (
                    await client.post(
                        "/predict",
                        json={"model": two_versions, "text": "great", "entity_id": "u-7"},
                    )
                ).json()["version"]
                for _ in range(5)
            }
            await asyncio.sleep(1.5)  # counters are flushed to the store each second
            results = (await client.get(f"/experiments/{experiment_id}/results")).json()
        finally:
            await client.post(f"/experiments/{experiment_id}/stop", headers=admin)

    assert set(seen) == {"v1", "v2"}, seen
    assert min(seen.values()) > 60, seen  # 50/50 of 200
    assert len(sticky) == 1
    assert sum(v["requests"] for v in results["variants"]) >= 200
