"""The ``/api/v1`` routes over ASGI: real stores, HTTP, argon2, webhooks and receiver;
fakes only for the serving seams (catalog, deployer, lifecycle, predictor)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
from pathlib import Path

import httpx
import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlserve.control_plane.routes.api_v1 import build_api_v1
from tests.platform.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    Harness,
    error_app,
    fast_hasher,
    platform_settings,
)
from tests.platform.platform_fakes import FakeCatalog, FakeDeployer, FakeLifecycle, FakePredictor
from tests.platform.test_upload_sandbox import stack_global_call
from tests.platform.webhook_receiver import WebhookReceiver


def model_file() -> bytes:
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1]), buffer)
    return buffer.getvalue()


TO_CSV_TARGET = Path(tempfile.gettempdir()) / f"mlserve-f2-probe-{os.getpid()}.csv"
TO_CSV_PAYLOAD = stack_global_call(
    "pandas.core.frame", "DataFrame.to_csv", pd.DataFrame({"a": [1]}), str(TO_CSV_TARGET)
)
"""The F2 probe: a pickle that writes a file via DataFrame.to_csv when loaded."""


async def deploy(
    h: Harness, name: str, version: str, payload: bytes | None = None
) -> httpx.Response:
    return await h.client.post(
        "/api/v1/deploy",
        headers=h.admin,
        data={
            "name": name,
            "version": version,
            "features": json.dumps(["age", "income"]),
            "background_data": json.dumps([{"age": 30 + i, "income": i} for i in range(20)]),
            "metrics": json.dumps({"accuracy": 0.9}),
            "task_type": "classification",
        },
        files={"model_file": ("model.pkl", payload or model_file(), "application/octet-stream")},
    )


async def wait_done(h: Harness, deployment_id: int) -> dict[str, object]:
    await h.api.services.deploy_runner.wait_all()
    response = await h.client.get(f"/api/v1/deployments/{deployment_id}", headers=h.admin)
    assert response.status_code == 200
    result: dict[str, object] = response.json()
    return result


async def test_deploy_runs_in_the_background_and_reports_logs(harness: Harness) -> None:
    started = await deploy(harness, "fraud", "v1")
    assert started.status_code == 202, started.text
    done = await wait_done(harness, started.json()["deployment_id"])
    assert done["status"] == "success"
    logs = done["logs"]
    assert isinstance(logs, list)
    assert any("thread" in line for line in logs)
    assert logs[-1] == "deployed"
    assert harness.deployer.received[0]["background_rows"] == 20
    listed = await harness.client.get("/api/v1/models/fraud/versions", headers=harness.admin)
    assert [v["version"] for v in listed.json()] == ["v1"]
    again = await deploy(harness, "fraud", "v1")
    assert again.status_code == 409
    assert "deploy as v2" in again.json()["error"]


async def test_failed_conversion_is_a_failed_deployment_with_the_reason(harness: Harness) -> None:
    started = await deploy(harness, "broken", "v1")
    done = await wait_done(harness, started.json()["deployment_id"])
    assert done["status"] == "failed"
    assert "parity FAILED" in str(done["error"])
    assert "broken" not in harness.catalog.models


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x80\x04garbage" * 20, "not a readable joblib/pickle file"),
        (b"cos\nsystem\n(S'echo hacked'\ntR.", "'os.system'"),
        (TO_CSV_PAYLOAD, "'pandas.core.frame.DataFrame.to_csv'"),
    ],
)
async def test_corrupt_and_malicious_uploads_are_400_before_anything_starts(
    harness: Harness, payload: bytes, message: str
) -> None:
    response = await deploy(harness, "evil", "v1", payload)
    assert not TO_CSV_TARGET.exists()
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert harness.deployer.received == []
    deployments = await harness.client.get("/api/v1/deployments", headers=harness.admin)
    assert deployments.json() == []


async def test_bad_deploy_fields_name_the_field(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/deploy",
        headers=harness.admin,
        data={"name": "fraud", "version": "v1", "features": "[age]"},
        files={"model_file": ("m.pkl", model_file(), "application/octet-stream")},
    )
    assert response.status_code == 422
    assert "features is not valid JSON" in response.json()["error"]


async def test_predict_ab_feedback_and_metrics(harness: Harness) -> None:
    h = harness
    records = [{"age": 30.0, "income": 15.0}, {"age": 20.0, "income": 5.0}]
    fixed = await h.client.post(
        "/api/v1/predict/churn/v1", headers=h.admin, json={"inputs": records}
    )
    assert fixed.status_code == 200
    body = fixed.json()
    assert (body["version"], body["predictions"]) == ("v1", [0, 0])
    bad = await h.client.post(
        "/api/v1/predict/churn/v1", headers=h.admin, json={"inputs": [{"age": 1}]}
    )
    assert bad.status_code == 422
    assert "income" in bad.json()["error"]
    weights = await h.client.post("/api/v1/abtest/churn", headers=h.admin, json={"v9": 1})
    assert weights.status_code == 422
    assert "no version v9" in weights.json()["error"]
    await h.client.post("/api/v1/abtest/churn", headers=h.admin, json={"v1": 0.5, "v2": 0.5})
    entities = [f"e{i}" for i in range(100)]
    many = [{"age": 30.0, "income": 15.0}] * 100
    first = await h.client.post(
        "/api/v1/predict/churn", headers=h.admin, json={"inputs": many, "entity_ids": entities}
    )
    second = await h.client.post(
        "/api/v1/predict/churn", headers=h.admin, json={"inputs": many, "entity_ids": entities}
    )
    assert first.json()["versions"] == second.json()["versions"]
    assert set(first.json()["versions"]) == {"v1", "v2"}
    mismatch = await h.client.post(
        "/api/v1/predict/churn",
        headers=h.admin,
        json={"inputs": many, "entity_ids": entities[:3], "materialize": True},
    )
    assert mismatch.status_code == 422
    ids = body["prediction_ids"]
    feedback = await h.client.post(
        "/api/v1/feedback",
        headers=h.admin,
        json={
            "feedback": [
                {"prediction_id": ids[0], "true_value": 0},
                {"prediction_id": ids[1], "true_value": 1},
            ]
        },
    )
    assert feedback.json()["accepted"] == 2
    online = await h.client.get(
        "/api/v1/metrics/churn/online", headers=h.admin, params={"version": "v1"}
    )
    metrics = online.json()
    assert (metrics["n_supervised"], metrics["metrics"]["accuracy"]) == (2, 0.5)
    usage = await h.client.get("/api/v1/metrics/churn/v1", headers=h.admin, params={"hours": 3})
    rows = usage.json()["timeseries"]
    assert len(rows) == 3
    assert rows[-1]["predictions"] >= 2
    quality = await h.client.get("/api/v1/data-quality-agg/churn/v1", headers=h.admin)
    assert {r["feature"] for r in quality.json()["missingness"]} == {"age", "income"}


async def test_webhook_retries_until_delivered_and_signs_every_attempt(harness: Harness) -> None:
    h = harness
    with WebhookReceiver(secret="s3cret", responses=[500, 503]) as receiver:
        hook = await h.client.post(
            "/api/v1/webhook", headers=h.admin, json={"url": receiver.url, "secret": "s3cret"}
        )
        assert hook.status_code == 200, hook.text
        ack = await h.client.post(
            "/api/v1/predict/churn/v2",
            headers=h.admin,
            json={
                "inputs": [{"age": 50.0, "income": 1.0}],
                "entity_ids": ["a1"],
                "materialize": True,
            },
        )
        assert ack.json()["materialized"] is True
        received = await receiver.wait_for_async(3, timeout_s=10)
    assert [r.signature_ok for r in received] == [True, True, True]
    assert len({r.headers["X-MLServe-Delivery"] for r in received}) == 1
    event = json.loads(received[-1].body)
    assert (event["event"], event["model"], event["entity_id"]) == (
        "prediction.materialized",
        "churn",
        "a1",
    )
    for _ in range(100):
        log = (await h.client.get("/api/v1/webhook/deliveries", headers=h.admin)).json()
        if log[0]["status"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert (log[0]["status"], log[0]["attempts"]) == ("delivered", 3)
    fetched = await h.client.get(
        "/api/v1/fetch-materialized/churn", headers=h.admin, params={"entity_id": "a1"}
    )
    assert fetched.json()["prediction"] == 1


async def test_pending_deliveries_survive_a_restart(tmp_path: Path) -> None:
    """Events queued while the receiver is down are sent by the next process."""
    catalog = FakeCatalog()
    catalog.add("churn", 1)

    def build() -> Harness:
        api = build_api_v1(
            platform_settings(tmp_path, webhook_allow_private=True),
            deployer=FakeDeployer(catalog),
            lifecycle=FakeLifecycle(catalog),
            predictor=FakePredictor(catalog=catalog),
            model_catalog=catalog,
            password_hasher=fast_hasher(),
            worker_options={"backoff_base_s": 30.0, "poll_interval_s": 0.05},
        )
        transport = httpx.ASGITransport(app=error_app(api))
        client = httpx.AsyncClient(transport=transport, base_url="http://api")
        return Harness(
            api,
            client,
            catalog,
            FakeDeployer(catalog),
            FakeLifecycle(catalog),
            FakePredictor(catalog=catalog),
            "",
        )

    first = build()
    await first.api.startup()
    first.admin_token = await first.login(ADMIN, ADMIN_PASSWORD)
    with WebhookReceiver(responses=[500]) as receiver:
        await first.client.post("/api/v1/webhook", headers=first.admin, json={"url": receiver.url})
        await first.client.post(
            "/api/v1/predict/churn/v1",
            headers=first.admin,
            json={
                "inputs": [{"age": 1.0, "income": 1.0}],
                "entity_ids": ["x"],
                "materialize": True,
            },
        )
        await receiver.wait_for_async(1)
        await first.api.shutdown()
        await first.client.aclose()
        # the retry was 30 s away; a new process must pick it up (make it due now)
        second = build()
        store = second.api.services.store
        pending = await store.zrange_by_score("webhook:outbox", float("-inf"), float("inf"))
        assert len(pending) == 1
        await store.zadd("webhook:outbox", {pending[0][0]: 0.0})
        await second.api.startup()
        try:
            received = await receiver.wait_for_async(2)
        finally:
            await second.api.shutdown()
            await second.client.aclose()
    assert received[0].headers["X-MLServe-Delivery"] == received[1].headers["X-MLServe-Delivery"]


async def test_webhooks_to_private_addresses_are_refused_by_default(tmp_path: Path) -> None:
    catalog = FakeCatalog()
    api = build_api_v1(
        platform_settings(tmp_path),
        deployer=FakeDeployer(catalog),
        lifecycle=FakeLifecycle(catalog),
        predictor=FakePredictor(catalog=catalog),
        model_catalog=catalog,
        password_hasher=fast_hasher(),
    )
    await api.startup()
    try:
        transport = httpx.ASGITransport(app=error_app(api))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            login = await client.post(
                "/api/v1/token", data={"username": ADMIN, "password": ADMIN_PASSWORD}
            )
            token = login.json()["access_token"]
            refused = await client.post(
                "/api/v1/webhook",
                headers={"Authorization": f"Bearer {token}"},
                json={"url": "http://127.0.0.1:9/hook"},
            )
    finally:
        await api.shutdown()
    assert refused.status_code == 422
    assert "MLSERVE_WEBHOOK_ALLOW_PRIVATE=true" in refused.json()["error"]


async def test_logout_revokes_and_roles_are_enforced(harness: Harness) -> None:
    h = harness
    user_id, token = await h.make_user("lin")
    as_user = h.auth(token)
    assert (await h.client.get("/api/v1/user_role", headers=as_user)).json()["role"] == "user"
    assert (
        await h.client.post("/api/v1/abtest/churn", headers=as_user, json={})
    ).status_code == 403
    assert (await h.client.post("/api/v1/stop/churn/v1", headers=as_user)).status_code == 403
    promoted = await h.client.put(
        f"/api/v1/team/{user_id}/role", headers=h.admin, json={"role": "admin"}
    )
    assert promoted.status_code == 200
    assert (await h.client.get("/api/v1/team/", headers=as_user)).status_code == 200
    assert (await h.client.post("/api/v1/logout", headers=as_user)).status_code == 200
    assert (await h.client.get("/api/v1/user_role", headers=as_user)).status_code == 401
    removed = await h.client.delete(f"/api/v1/team/{user_id}/remove", headers=h.admin)
    assert removed.status_code == 200
    relogin = await h.client.post(
        "/api/v1/token", data={"username": "lin", "password": "user-password-1"}
    )
    assert relogin.status_code == 401
    assert "removed" in relogin.json()["error"]


async def test_stop_and_start_go_through_the_lifecycle(harness: Harness) -> None:
    h = harness
    stopped = await h.client.post("/api/v1/stop/churn/v2", headers=h.admin)
    assert stopped.json()["status"] == "stopped"
    refused = await h.client.post(
        "/api/v1/predict/churn/v2", headers=h.admin, json={"inputs": [{"age": 1, "income": 1}]}
    )
    assert refused.status_code == 409
    assert "start it" in refused.json()["error"].lower()
    await h.client.post("/api/v1/start/churn/v2", headers=h.admin)
    removed = await h.client.post(
        "/api/v1/stop/churn/v2", headers=h.admin, params={"remove": "true"}
    )
    assert removed.json()["status"] == "removed"
    assert h.lifecycle.calls == [
        ("stop", "churn", 2, False),
        ("start", "churn", 2, False),
        ("stop", "churn", 2, True),
    ]
    evolution = await h.client.get("/api/v1/models/churn/evolution", headers=h.admin)
    assert [v["version"] for v in evolution.json()["versions"]] == ["v1"]
