"""How experiments end, against the real stack (Triton included).

* Auto-promote: the control (Production) fails in Triton, the treatment answers; when the
  planned duration ends the supervisor promotes the treatment to Production, the history
  names the experiment, and requests without a version go to it.
* Rollback: a treatment that fails in Triton breaches the success-rate guardrail and is
  rolled back within seconds; no request after that reaches it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from mlserve.samples.iris import rules_model
from tests.conftest import Stack
from tests.dataplane.conftest import publish, wait_served
from tests.dataplane.test_mirror import SETOSA, crashing_model

DURATION_S = 6.0


def experiment_body(name: str, *, hours: float = DURATION_S / 3600) -> dict[str, Any]:
    return {
        "name": f"experiment {name}",
        "model_type": name,
        "variants": [
            {"name": "control", "version": "1", "traffic_percentage": 50},
            {"name": "treatment", "version": "2", "traffic_percentage": 50},
        ],
        "duration_hours": hours,
        "success_metrics": {"success_rate": {"threshold": 0.5, "weight": 1.0}},
        "auto_promote": True,
    }


def listed(client: httpx.Client, experiment_id: str) -> dict[str, Any]:
    """The experiment as ``GET /experiments`` lists it."""
    answer = client.get("/experiments").json()
    experiments = answer["experiments"] if isinstance(answer, dict) else answer
    found: dict[str, Any] = next(e for e in experiments if e["experiment_id"] == experiment_id)
    return found


def wait_promoted(client: httpx.Client, experiment_id: str) -> dict[str, Any]:
    """The experiment once it ended and its promotion (which waits for the version to load
    and a grace period) is recorded."""
    deadline = time.monotonic() + DURATION_S + 30
    while True:
        found = listed(client, experiment_id)
        if found["promoted"] is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_the_winner_of_an_auto_promote_experiment_becomes_production(
    stack: Stack, admin_token: str, client: httpx.Client, tmp_path: Path
) -> None:
    name = f"promote-{uuid.uuid4().hex[:6]}"
    admin = {"Authorization": f"Bearer {admin_token}"}
    publish(stack, crashing_model(tmp_path), name)
    publish(stack, rules_model(), name)
    wait_served(stack.base_url, {"model": name, "version": 2, "features": SETOSA})
    production = client.post(f"/models/{name}/promote?version=1", headers=admin)
    assert production.status_code == 200, production.text
    created = client.post("/experiments", json=experiment_body(name), headers=admin)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["experiment_id"]

    statuses = [
        client.post("/predict", json={"model": name, "features": SETOSA}).status_code
        for _ in range(120)
    ]
    ended = wait_promoted(client, experiment_id)
    versions = client.get(f"/models/{name}/versions", headers=admin).json()
    history = client.get(f"/models/{name}/history", headers=admin).json()["transitions"]
    answer = client.post("/predict", json={"model": name, "features": SETOSA})

    assert set(statuses) == {200, 502} or set(statuses) == {200, 500, 502}, statuses
    assert ended["status"] == "completed", ended
    assert ended["promoted"] == f"{name} v2 (treatment) is now in Production", ended
    assert versions["production"] == 2
    by_experiment = [t for t in history if t["by"] == f"experiment {experiment_id}"]
    moved = sorted((t["version"], t["to_stage"]) for t in by_experiment)
    assert moved == [(1, "Archived"), (2, "Production")]  # the former champion is archived
    assert answer.status_code == 200, answer.text
    assert (answer.json()["version"], answer.json()["routed_by"]) == ("v2", "default")


def test_a_failing_treatment_is_rolled_back_and_gets_no_more_requests(
    stack: Stack, admin_token: str, client: httpx.Client, tmp_path: Path
) -> None:
    name = f"rollback-{uuid.uuid4().hex[:6]}"
    admin = {"Authorization": f"Bearer {admin_token}"}
    publish(stack, rules_model(), name)
    publish(stack, crashing_model(tmp_path), name)
    wait_served(stack.base_url, {"model": name, "version": 1, "features": SETOSA})
    time.sleep(1.1)  # the registry's readiness cache: v2 counts as served
    created = client.post("/experiments", json=experiment_body(name, hours=1), headers=admin)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["experiment_id"]

    first_failure: float | None = None
    rolled_back_at: float | None = None
    deadline = time.monotonic() + 30
    while rolled_back_at is None and time.monotonic() < deadline:
        for _ in range(10):
            status = client.post("/predict", json={"model": name, "features": SETOSA}).status_code
            if status >= 500 and first_failure is None:
                first_failure = time.monotonic()
        experiment = listed(client, experiment_id)
        if experiment["rolled_back"]:
            rolled_back_at = time.monotonic()
    after = [client.post("/predict", json={"model": name, "features": SETOSA}) for _ in range(60)]
    client.post(f"/experiments/{experiment_id}/stop", headers=admin)

    assert first_failure is not None
    assert rolled_back_at is not None, experiment
    assert rolled_back_at - first_failure < 10
    assert "success rate" in experiment["rolled_back"]["treatment"]
    assert {a.status_code for a in after} == {200}
    assert {(a.json()["version"], a.json()["routed_by"]) for a in after} == {("v1", "experiment")}
