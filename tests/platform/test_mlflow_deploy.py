"""``POST /api/v1/deploy`` with ``model_uri``: a registered MLflow model served end to end.

Real parts: ``mlflow server`` (SQLite store), the control plane and tritonserver. The
served predictions match the native model; the MLflow version is tagged with where it
serves. Bad URIs answer at once (404/422/503) and record nothing.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.converters.test_mlflow_import import FEATURES, churn_data

REGISTERED = "churn-api"
SERVED = "churn-from-mlflow"


@pytest.fixture(scope="module")
def registered(mlflow_url: str) -> LogisticRegression:
    mlflow.set_tracking_uri(mlflow_url)
    mlflow.set_experiment("mlserve-deploy-tests")
    frame, y = churn_data(seed=3)
    model = LogisticRegression(max_iter=500).fit(frame, y)
    with mlflow.start_run():
        mlflow.log_param("C", 1.0)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(frame, model.predict_proba(frame)),
            input_example=frame.head(50),
            registered_model_name=REGISTERED,
        )
    return model


@pytest.fixture
def admin(stack: Stack, mlflow_url: str, monkeypatch: pytest.MonkeyPatch) -> httpx.Client:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    client = httpx.Client(base_url=stack.base_url, timeout=60)
    login = client.post("/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client


def wait(client: httpx.Client, deployment_id: int, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record: dict[str, Any] = client.get(f"/api/v1/deployments/{deployment_id}").json()
        if record["status"] in ("success", "failed"):
            return record
        time.sleep(0.3)
    raise AssertionError(f"deployment {deployment_id} did not finish")


def test_model_uri_deploys_and_serves(
    admin: httpx.Client, registered: LogisticRegression, mlflow_url: str
) -> None:
    started = time.perf_counter()
    accepted = admin.post(
        "/api/v1/deploy", data={"model_uri": f"models:/{REGISTERED}/1", "name": SERVED}
    )
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["version"] == "v1"
    assert body["model_uri"] == f"models:/{REGISTERED}/1"
    record = wait(admin, body["deployment_id"])
    import_and_serve_s = time.perf_counter() - started

    assert record["status"] == "success", record
    assert any("sklearn model converted; parity passed" in line for line in record["logs"])
    frame, _ = churn_data(50, seed=9)
    rows = [{k: float(v) for k, v in row.items()} for row in frame[FEATURES].to_dict("records")]
    answer = admin.post(f"/api/v1/predict/{SERVED}/v1", json={"inputs": rows})
    assert answer.status_code == 200, answer.text
    served = np.array([[p["0"], p["1"]] for p in answer.json()["probabilities"]])
    np.testing.assert_allclose(served, registered.predict_proba(frame), atol=1e-4)
    tags = MlflowClient(tracking_uri=mlflow_url).get_model_version(REGISTERED, "1").tags
    assert tags["mlserve.served_as"] == f"{SERVED} v1"
    assert tags["mlserve.served_at"].startswith("http://127.0.0.1:")
    print(f"MLflow import + serve through the API: {import_and_serve_s:.1f} s")


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"model_uri": "models:/no-such/1", "name": "x"}, 404, "has no models:/no-such/1"),
        ({"model_uri": "models:/churn-api", "name": "x"}, 422, "must be models:/<name>/"),
        ({"model_uri": "s3://bucket/model", "name": "x"}, 422, "is not an MLflow URI"),
        ({"model_uri": "models:/churn-api/1"}, 422, "form field 'name' is required"),
        ({"model_uri": "models:/churn-api/1", "name": "../x"}, 422, "is not allowed"),
    ],
)
def test_bad_model_uris_answer_at_once(
    admin: httpx.Client,
    registered: LogisticRegression,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    before = admin.get("/api/v1/deployments").json()

    answer = admin.post("/api/v1/deploy", data=fields)

    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert admin.get("/api/v1/deployments").json() == before


def test_unreachable_mlflow_is_503(admin: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    answer = admin.post("/api/v1/deploy", data={"model_uri": "models:/m/1", "name": "x"})
    assert answer.status_code == 503
    assert "MLflow at http://127.0.0.1:9 is unreachable" in answer.json()["error"]


def test_deploy_by_uri_needs_an_admin(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.base_url}/api/v1/deploy", data={"model_uri": "models:/m/1", "name": "x"}
    )
    assert answer.status_code == 401
