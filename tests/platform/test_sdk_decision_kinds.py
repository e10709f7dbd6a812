"""Causal models and recommenders through the published ``mlserve-sdk`` 0.4.0 client.

Real parts: the session's control plane in front of its tritonserver, scikit-learn
estimators uploaded by ``MLServeClient.deploy`` (unpickled only in the upload sandbox),
converted, parity-checked and served by Triton. The 0.4.0 client's ``deploy`` has no field
for a task's options, so it sends them as a JSON ``task_type``; answers are checked against
the native estimators, and every refused deploy leaves the repository as it was.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from mlserve_sdk.client import MLServeClient, MLServeError

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.platform.test_sdk_end_to_end import repository_snapshot
from tests.support.decision_models import (
    OFFERS,
    RECOMMENDER_OPTIONS,
    causal_model,
    causal_task_type,
    native_outcomes,
    native_scores,
    recommender_model,
)

CAUSAL = "promo-sdk"
ROWS = [{"age": 24.0, "income": 9.5}, {"age": 68.0, "income": 1.5}]


@pytest.fixture(scope="module")
def admin(stack: Stack) -> MLServeClient:
    client = MLServeClient(server_url=stack.base_url)
    client.login(ADMIN_USER, ADMIN_PASSWORD)
    return client


def deployed(client: MLServeClient, **kwargs: Any) -> dict[str, Any]:
    started = client.deploy(**kwargs)
    final: dict[str, Any] = client.wait_for_deployment(
        started["deployment_id"], poll_interval=1, timeout=300
    )
    assert final["status"] == "success", final
    return final


@pytest.fixture(scope="module")
def causal(admin: MLServeClient) -> Any:
    model, background = causal_model()
    deployed(
        admin,
        model=model,
        name=CAUSAL,
        version="v1",
        features=["age", "income", "offer"],
        background_df=background,
        task_type=causal_task_type(),
    )
    return model


def test_causal_model_through_the_client(admin: MLServeClient, causal: Any) -> None:
    answer = admin.predict(name=CAUSAL, version="v1", data={"inputs": ROWS})
    expected = native_outcomes(causal, ROWS)
    best = [OFFERS[int(i)] for i in np.argmax(expected, axis=1)]
    assert answer["predictions"] == best
    assert len(answer["prediction_ids"]) == 2
    for decision, want in zip(answer["decisions"], expected, strict=True):
        outcomes = [decision["outcomes"][str(a)] for a in OFFERS]
        assert np.allclose(outcomes, want, atol=1e-6)
        assert np.allclose([decision["effects"][str(a)] for a in OFFERS], want - want[0])
        assert decision["baseline_action"] == 0
    weighted = admin.predict_weighted(name=CAUSAL, data={"inputs": ROWS})
    assert weighted["predictions"] == best
    versions = admin.list_model_versions(CAUSAL)
    assert versions, versions


@pytest.mark.parametrize(
    ("task_type", "named"),
    [
        (causal_task_type(action="channel"), "action column 'channel' is not one of"),
        (causal_task_type(actions=[]), "actions is empty"),
        (causal_task_type(baseline=9), "baseline 9 is not among actions"),
        ("causal", "needs its options"),
    ],
)
def test_bad_causal_deploys_are_422_and_store_nothing(
    stack: Stack, admin: MLServeClient, task_type: str, named: str
) -> None:
    model, _background = causal_model()
    before = repository_snapshot(stack.repository.root)
    with pytest.raises(MLServeError) as caught:
        admin.deploy(
            model=model, name="bad-causal", version="v1", task_type=task_type
        )  # no features declared: the estimator's own names are checked
    assert caught.value.status_code == 422, caught.value
    assert named in str(caught.value)
    assert repository_snapshot(stack.repository.root) == before
    assert "bad-causal" not in stack.repository.model_names()


RANKER = "shop-sdk"
USER = {"age": 30.0, "budget": 150.0}
CANDIDATES = [
    {"item_id": "a", "price": 20.0, "premium": 0.0},
    {"item_id": "b", "price": 140.0, "premium": 1.0},
    {"item_id": "c", "price": 240.0, "premium": 0.0},
]


@pytest.fixture(scope="module")
def ranker(admin: MLServeClient) -> Any:
    model, background = recommender_model()
    deployed(
        admin,
        model=model,
        name=RANKER,
        version="v1",
        background_df=background,
        task_type=json.dumps(RECOMMENDER_OPTIONS),
    )
    return model


def test_recommender_through_the_client(admin: MLServeClient, ranker: Any) -> None:
    body = {"user": USER, "candidates": CANDIDATES, "top_k": 2}
    answer = admin.predict(name=RANKER, version="v1", data=body)
    scores = native_scores(ranker, USER, CANDIDATES)
    best = [CANDIDATES[i]["item_id"] for i in np.argsort(-scores)[:2]]
    assert answer["predictions"] == best
    assert [c["id"] for c in answer["ranking"]] == best
    assert np.allclose(answer["scores"], np.sort(scores)[::-1][:2], atol=1e-5)
    assert len(answer["prediction_ids"]) == 2
    weighted = admin.predict_weighted(name=RANKER, data=body)
    assert weighted["predictions"] == best
    quality = admin.get_data_quality(name=RANKER, version="v1")  # user + item features logged
    assert quality["n"] >= 4
    assert quality["has_reference"] is True
    assert "price" in json.dumps(quality["drift"])
    with pytest.raises(MLServeError) as caught:
        admin.predict(name=RANKER, version="v1", data={"user": USER, "candidates": []})
    assert caught.value.status_code == 422
    assert "candidates is empty" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({**RECOMMENDER_OPTIONS, "item_features": ["price"]}, "not declared ['premium']"),
        ({**RECOMMENDER_OPTIONS, "user_features": []}, "user_features"),
    ],
)
def test_bad_recommender_deploys_are_422_and_store_nothing(
    stack: Stack, admin: MLServeClient, options: dict[str, Any], named: str
) -> None:
    model, _ = recommender_model()
    before = repository_snapshot(stack.repository.root)
    with pytest.raises(MLServeError) as caught:
        admin.deploy(model=model, name="bad-ranker", version="v1", task_type=json.dumps(options))
    assert caught.value.status_code == 422, caught.value
    assert named in str(caught.value)
    assert repository_snapshot(stack.repository.root) == before


def test_plain_http_deploys_name_the_task_and_send_options_apart(
    stack: Stack, admin: MLServeClient
) -> None:
    """``task_type=causal`` with the options in a ``task_options`` form field, as a client
    other than the 0.4.0 SDK may send them; a bad option is refused the same way."""
    import io

    import joblib
    import requests

    model, background = causal_model()
    upload = io.BytesIO()
    joblib.dump(model, upload)
    headers = {"Authorization": f"Bearer {admin.token}"}

    def deploy(name: str, options: dict[str, Any]) -> requests.Response:
        return requests.post(
            f"{stack.base_url}/api/v1/deploy",
            headers=headers,
            files={"model_file": ("model.pkl", upload.getvalue(), "application/octet-stream")},
            data={
                "name": name,
                "version": "v1",
                "task_type": "causal",
                "task_options": json.dumps(options),
                "background_data": background.to_json(orient="records"),
            },
            timeout=120,
        )

    refused = deploy("http-causal", {"action": "offer", "actions": [0, 1], "baseline": 2})
    assert refused.status_code == 422
    assert "baseline 2 is not among actions" in refused.json()["error"]
    started = deploy("http-causal", {"action": "offer", "actions": [0, 1, 2], "objective": "min"})
    assert started.status_code == 202, started.text
    final = admin.wait_for_deployment(started.json()["deployment_id"], poll_interval=1, timeout=300)
    assert final["status"] == "success", final
    answer = admin.predict(name="http-causal", version="v1", data={"inputs": ROWS[:1]})
    expected = native_outcomes(model, ROWS[:1])[0]
    assert answer["predictions"] == [OFFERS[int(np.argmin(expected))]]
