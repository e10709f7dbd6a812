"""The published ``mlserve-sdk`` 0.4.0 client against a running stack, end to end.

Real parts only: the control plane (uvicorn) in front of a real tritonserver, scikit-learn
models uploaded by ``MLServeClient.deploy``, converted to ONNX and served by Triton, a
real HTTP receiver for webhooks. Predictions are checked against the native models.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import requests
from mlserve_sdk.client import MLServeClient, MLServeError
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.platform.webhook_receiver import WebhookReceiver

MODEL = "churn-sdk"
FEATURES = ["age", "income", "tenure"]
SECRET = "webhook-secret-1"
USER, USER_PASSWORD = "sdk-user", "sdk-user-password"


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50.0, 15.0, n).round(2),
            "tenure": rng.integers(0, 120, n).astype(float),
        }
    )
    y = ((frame.age / 80 + frame.income / 100 - frame.tenure / 200) > 0.8).astype(int)
    return frame, y.to_numpy()


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    return make_data(400, seed=1)


@pytest.fixture(scope="module")
def models(data: tuple[pd.DataFrame, npt.NDArray[Any]]) -> dict[str, Any]:
    frame, y = data
    v1 = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(frame, y)
    v2 = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(frame, y)
    return {"v1": v1, "v2": v2}


@pytest.fixture(scope="module")
def admin(stack: Stack) -> MLServeClient:
    client = MLServeClient(server_url=stack.base_url)
    client.login(ADMIN_USER, ADMIN_PASSWORD)
    return client


def deploy_and_wait(
    client: MLServeClient, model: Any, version: str, frame: pd.DataFrame, metrics: dict[str, float]
) -> dict[str, Any]:
    started = client.deploy(
        model=model,
        name=MODEL,
        version=version,
        features=FEATURES,
        background_df=frame[FEATURES].head(200),
        metrics=metrics,
        task_type="classification",
    )
    assert started["deployment_id"]
    final: dict[str, Any] = client.wait_for_deployment(
        started["deployment_id"], poll_interval=1, timeout=300
    )
    assert final["status"] == "success", final
    return final


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: float(v) for k, v in row.items()} for row in frame[FEATURES].to_dict("records")]


def repository_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under the repository with its size and mtime."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_installed_client_is_the_contract() -> None:
    assert package_version("mlserve-sdk") == "0.4.0"


def test_sdk_drives_the_whole_platform(
    stack: Stack,
    admin: MLServeClient,
    models: dict[str, Any],
    data: tuple[pd.DataFrame, npt.NDArray[Any]],
) -> None:
    frame, y = data
    assert admin.get_user_role() == "admin"
    assert admin.get_user_tier()
    assert admin.get_latest_version(MODEL)["next_version"] == "v1"

    # deploy v1 and predict: same labels and probabilities as the native model
    final = deploy_and_wait(admin, models["v1"], "v1", frame, {"accuracy": 0.90})
    assert any("READY" in line for line in final["logs"])
    sample = frame.head(50)
    answer = admin.predict(MODEL, "v1", {"inputs": records(sample)})
    assert answer["version"] == "v1"
    assert answer["predictions"] == models["v1"].predict(sample).tolist()
    native = models["v1"].predict_proba(sample)
    served = np.array([[p["0"], p["1"]] for p in answer["probabilities"]])
    np.testing.assert_allclose(served, native, atol=1e-4)
    assert len(set(answer["prediction_ids"])) == 50

    # v2, then A/B with sticky routing by entity id
    latest = admin.get_latest_version(MODEL)
    assert (latest["latest_version"], latest["next_version"]) == ("v1", "v2")
    deploy_and_wait(admin, models["v2"], latest["next_version"], frame, {"accuracy": 0.95})
    config = admin.configure_abtest(MODEL, {"v1": 0.5, "v2": 0.5})
    assert config["weights"] == {"v1": 0.5, "v2": 0.5}
    assert {row["version"] for row in admin.get_abtests(MODEL)} == {"v1", "v2"}
    crowd = frame.iloc[100:300]
    entities = [f"customer-{i}" for i in range(len(crowd))]
    routed = admin.predict_weighted(MODEL, {"inputs": records(crowd)}, entity_ids=entities)
    again = admin.predict_weighted(MODEL, {"inputs": records(crowd)}, entity_ids=entities)
    assert routed["versions"] == again["versions"]
    assert 40 < routed["versions"].count("v1") < 160
    for i, served_by in enumerate(routed["versions"]):
        expected = models[served_by].predict(crowd.iloc[[i]])[0]
        assert routed["predictions"][i] == expected, (i, served_by)

    # webhook + materialize + fetch
    with WebhookReceiver(secret=SECRET) as receiver:
        hook = admin.set_webhook(receiver.url, secret=SECRET)
        assert hook["is_active"] is True
        assert "secret" not in hook
        batch = frame.iloc[300:303]
        keys = ["acct-1", "acct-2", "acct-3"]
        ack = admin.predict_weighted(
            MODEL, {"inputs": records(batch)}, entity_ids=keys, materialize=True
        )
        assert ack["materialized"] is True
        assert (ack["model"], ack["keys"]) == (MODEL, keys)
        assert ack["stored_at"]
        stored = admin.fetch_materialized(MODEL, "acct-2", max_age_seconds=600)
        assert stored["entity_id"] == "acct-2"
        assert stored["prediction"] == models[stored["version"]].predict(batch.iloc[[1]])[0]
        with pytest.raises(MLServeError) as missing:
            admin.fetch_materialized(MODEL, "acct-unknown")
        assert missing.value.status_code == 404
        received = receiver.wait_for(3, timeout_s=30)
        admin.set_webhook(receiver.url, secret=SECRET, is_active=False)
    events = [json.loads(r.body) for r in received]
    assert sorted(e["entity_id"] for e in events) == keys
    assert {e["event"] for e in events} == {"prediction.materialized"}
    assert all(e["model"] == MODEL and e["ts"] for e in events)
    for r in received:
        expected = "sha256=" + hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
        assert r.headers["X-MLServe-Signature"] == expected
        assert r.signature_ok is True
    assert len({r.headers["X-MLServe-Delivery"] for r in received}) == 3
    log = wait_for_delivered(stack, admin, 3)
    assert sum(d["status"] == "delivered" for d in log) >= 3

    # catalog views
    listed = {m["name"]: m for m in admin.list_models()}
    assert listed[MODEL]["versions"] == ["v1", "v2"]
    latest = admin.get_latest_version(MODEL)
    assert (latest["latest_version"], latest["next_version"]) == ("v2", "v3")
    rows = admin.list_model_versions(MODEL)
    assert [r["version"] for r in rows] == ["v1", "v2"]
    for row in rows:
        assert row["active"] is True
        assert row["weight"] == pytest.approx(0.5)
        assert row["features"] == FEATURES
        assert row["task_type"] == "classification"
        assert row["deployed_at"]
        assert row["model_metadata"]["framework"] == "sklearn"
    assert rows[1]["metrics"]["accuracy"] == pytest.approx(0.95)

    # feedback and online metrics: accuracy recomputed here from what v1 served
    truth = y[:50].tolist()
    feedback = admin.send_feedback(
        [
            {"prediction_id": pid, "true_value": int(t), "reward": 1.0}
            for pid, t in zip(answer["prediction_ids"], truth, strict=True)
        ]
    )
    assert feedback["accepted"] == 50
    online = admin.get_online_metrics(MODEL, "v1")
    assert online["n_supervised"] == 50
    assert online["n"] >= 50
    expected_accuracy = float(np.mean(np.array(answer["predictions"]) == np.array(truth)))
    assert online["accuracy"] == pytest.approx(expected_accuracy)
    assert online["mean_reward"] == pytest.approx(1.0)

    # usage metrics and data quality
    usage = admin.get_metrics(MODEL, "v1", hours=2)
    assert len(usage["timeseries"]) == 2
    assert sum(row["predictions"] for row in usage["timeseries"]) >= 50
    busiest = max(usage["timeseries"], key=lambda row: row["predictions"])
    assert busiest["latency_ms_p50"] is not None
    assert busiest["latency_ms_p50"] > 0
    quality = admin.get_data_quality(MODEL, "v1")
    assert {row["feature"] for row in quality["missingness"]} == set(FEATURES)
    assert all(row["missing_rate"] == 0 for row in quality["missingness"])
    assert {row["feature"] for row in quality["drift"]} == set(FEATURES)
    assert quality["outliers"]

    # stop/start change what serves
    admin.stop_model(MODEL, "v2")
    assert [r["version"] for r in admin.list_model_versions(MODEL, include_inactive=False)] == [
        "v1"
    ]
    assert set(admin.predict_weighted(MODEL, {"inputs": records(sample)})["versions"]) == {"v1"}
    admin.start_model(MODEL, "v2")
    assert admin.predict(MODEL, "v2", {"inputs": records(sample.head(2))})["version"] == "v2"


def wait_for_delivered(stack: Stack, client: MLServeClient, count: int) -> list[dict[str, Any]]:
    """The delivery log once ``count`` deliveries are marked delivered (bounded wait)."""
    deadline = time.monotonic() + 20
    log: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = requests.get(
            f"{stack.base_url}/api/v1/webhook/deliveries",
            headers={"Authorization": f"Bearer {client.token}"},
            timeout=10,
        )
        response.raise_for_status()
        log = response.json()
        if sum(d["status"] == "delivered" for d in log) >= count:
            return log
        time.sleep(0.2)
    raise AssertionError(f"deliveries not marked delivered: {log}")


@pytest.fixture(scope="module")
def user(stack: Stack, admin: MLServeClient) -> MLServeClient:
    """A registered, admin-activated account with the ``user`` role."""
    anonymous = MLServeClient(server_url=stack.base_url)
    registered = anonymous.register(USER, f"{USER}@example.com", USER_PASSWORD)
    assert "no e-mail" in registered["message"]
    with pytest.raises(MLServeError) as inactive:
        anonymous.login(USER, USER_PASSWORD)
    assert inactive.value.status_code == 401
    activated = requests.post(
        f"{stack.base_url}/api/v1/team/{registered['user_id']}/activate",
        headers={"Authorization": f"Bearer {admin.token}"},
        timeout=10,
    )
    assert activated.status_code == 200, activated.text
    client = MLServeClient(server_url=stack.base_url)
    client.login(USER, USER_PASSWORD)
    return client


ADMIN_ENDPOINTS = [
    ("POST", "/api/v1/deploy"),
    ("POST", f"/api/v1/stop/{MODEL}/v1"),
    ("POST", f"/api/v1/start/{MODEL}/v1"),
    ("POST", f"/api/v1/abtest/{MODEL}"),
    ("POST", "/api/v1/invite/"),
    ("GET", "/api/v1/team/"),
    ("PUT", "/api/v1/team/1/role"),
    ("DELETE", "/api/v1/team/1/remove"),
    ("POST", "/api/v1/team/1/activate"),
]
USER_ENDPOINTS = [
    ("POST", f"/api/v1/predict/{MODEL}/v1"),
    ("POST", f"/api/v1/predict/{MODEL}"),
    ("GET", f"/api/v1/fetch-materialized/{MODEL}?entity_id=x"),
    ("GET", "/api/v1/models"),
    ("GET", f"/api/v1/models/{MODEL}/versions"),
    ("GET", "/api/v1/deployments"),
    ("POST", "/api/v1/feedback"),
    ("POST", "/api/v1/webhook"),
    ("GET", f"/api/v1/metrics/{MODEL}/online"),
    ("GET", "/api/v1/user_role"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS + USER_ENDPOINTS)
def test_no_or_bad_token_is_401(stack: Stack, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
        response = requests.request(method, stack.base_url + path, headers=headers, timeout=10)
        assert response.status_code == 401, (method, path, response.text)
        assert "token" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
def test_user_role_on_admin_endpoints_is_403(
    stack: Stack, user: MLServeClient, method: str, path: str
) -> None:
    response = requests.request(
        method,
        stack.base_url + path,
        headers={"Authorization": f"Bearer {user.token}"},
        json={},
        timeout=10,
    )
    assert response.status_code == 403, (method, path, response.text)
    assert "admin" in response.json()["error"]


def test_sdk_surfaces_role_errors_with_the_message(user: MLServeClient) -> None:
    with pytest.raises(MLServeError) as refused:
        user.deploy(model=LogisticRegression(), name=MODEL, version="v9")
    assert refused.value.status_code == 403
    assert "needs the 'admin' role" in refused.value.message
    with pytest.raises(MLServeError) as team:
        user.list_team_members()
    assert team.value.status_code == 403


class Exploit:
    """Unpickling this would create a marker file (it must never happen)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_corrupt_or_malicious_uploads_are_400_and_change_nothing(
    stack: Stack, admin: MLServeClient, tmp_path: Path
) -> None:
    root = stack.repository.root
    before = repository_snapshot(root)
    deployments_before = len(admin.list_deployments())
    corrupt = tmp_path / "corrupt.pkl"
    corrupt.write_bytes(b"\x80\x04not a pickle at all" * 100)
    marker = tmp_path / "exploited"
    # the SDK's model_path branch sends a closed file (a 0.4.0 bug): upload raw bytes
    bad = requests.post(
        f"{stack.base_url}/api/v1/deploy",
        headers={"Authorization": f"Bearer {admin.token}"},
        data={"name": "corrupt-model", "version": "v1"},
        files={"model_file": ("model.pkl", corrupt.read_bytes(), "application/octet-stream")},
        timeout=30,
    )
    assert bad.status_code == 400
    assert "not a readable joblib/pickle file" in bad.json()["error"]
    with pytest.raises(MLServeError) as evil:
        admin.deploy(model=Exploit(marker), name="evil-model", version="v1")
    assert evil.value.status_code == 400
    assert "posix.system" in evil.value.message or "os.system" in evil.value.message
    assert not marker.exists()
    assert repository_snapshot(root) == before
    assert len(admin.list_deployments()) == deployments_before
    assert "evil-model" not in [m["name"] for m in admin.list_models()]
