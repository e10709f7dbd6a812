"""Every metrics and data-quality route answers 404 for a model or version that does not
exist (it used to answer zero-filled rows or ``{}`` with a 200), naming what exists."""

from __future__ import annotations

import json

import pytest

from tests.platform.conftest import Harness

ROUTES = [
    "/api/v1/metrics/{name}/{version}",
    "/api/v1/metrics/{name}/online?version={version}",
    "/api/v1/data-quality-agg/{name}/{version}",
    "/api/v1/metrics/rl/{name}/{version}",
]


@pytest.mark.parametrize("route", [*ROUTES, "/api/v1/metrics/{name}/online"])
async def test_unknown_model_is_404_naming_the_models(harness: Harness, route: str) -> None:
    response = await harness.client.get(
        route.format(name="chrun", version="v1"), headers=harness.admin
    )
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert "chrun" in error
    if "/rl/" not in route:
        assert "models: churn" in error


@pytest.mark.parametrize("route", ROUTES[:3])
async def test_unknown_version_is_404_naming_the_versions(harness: Harness, route: str) -> None:
    response = await harness.client.get(
        route.format(name="churn", version="v7"), headers=harness.admin
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "churn has no version v7; versions: v1, v2"
    known = await harness.client.get(
        route.format(name="churn", version="v2"), headers=harness.admin
    )
    assert known.status_code == 200, known.text


async def test_model_evolution_of_an_unknown_model_is_404(harness: Harness) -> None:
    response = await harness.client.get("/api/v1/models/chrun/evolution", headers=harness.admin)
    assert response.status_code == 404
    assert "unknown model 'chrun'" in response.json()["error"]


async def test_online_policy_models_count_as_known(harness: Harness) -> None:
    contract = {"features": [{"name": "x"}], "actions": ["a", "b"]}
    configured = await harness.client.post(
        "/api/v1/model_config",
        headers=harness.admin,
        data={
            "name": "bandit",
            "version": "v3",
            "task_type": "policy_next",
            "feature_contract": json.dumps(contract),
        },
    )
    assert configured.status_code == 200, configured.text
    for route in ROUTES:
        ok = await harness.client.get(
            route.format(name="bandit", version="v3"), headers=harness.admin
        )
        assert ok.status_code == 200, (route, ok.text)
        missing = await harness.client.get(
            route.format(name="bandit", version="v1"), headers=harness.admin
        )
        assert missing.status_code == 404, (route, missing.text)
