"""Which version answers, on every route: explicit versions, A/B weights set through
``/api/v1/abtest`` (applied to ``/predict`` too), sticky entities, versions outside the
serving window (409) and names that could never exist (422, never a 500 or a path)."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest

from mlserve.errors import NotFoundError
from mlserve.samples.iris import train_iris
from mlserve.serving.registry import ModelRegistry
from mlserve.triton.client import TritonClient
from tests.conftest import Stack
from tests.dataplane.conftest import Kinds, publish, wait_served

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture(scope="module")
def two_versions(stack: Stack, kinds: Kinds) -> str:
    name = f"ab-iris-{uuid.uuid4().hex[:6]}"
    publish(stack, train_iris(), name)
    publish(stack, train_iris(), name)
    wait_served(stack.base_url, {"model": name, "version": 2, "features": SETOSA})
    return name


def set_weights(client: httpx.Client, token: str, name: str, weights: dict[str, float]) -> None:
    answer = client.post(
        f"/api/v1/abtest/{name}", json=weights, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text


def test_ab_weights_apply_to_predict_within_three_points(
    two_versions: str, admin_token: str, client: httpx.Client
) -> None:
    set_weights(client, admin_token, two_versions, {"v1": 0.7, "v2": 0.3})
    seen: Counter[str] = Counter()
    for i in range(2000):
        record = {**SETOSA, "sepal_length": 4.0 + (i % 50) / 25}
        answer = client.post("/predict", json={"model": two_versions, "features": record})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["routed_by"] == "ab"
        seen[body["version"]] += 1

    assert abs(seen["v1"] / 2000 - 0.7) <= 0.03, seen
    assert abs(seen["v2"] / 2000 - 0.3) <= 0.03, seen


def test_an_entity_always_lands_on_the_same_version_on_every_route(
    two_versions: str, admin_token: str, client: httpx.Client
) -> None:
    set_weights(client, admin_token, two_versions, {"v1": 0.5, "v2": 0.5})
    arms = {}
    for entity in (f"user-{i}" for i in range(30)):
        versions = set()
        for _ in range(3):
            body = {"model": two_versions, "features": SETOSA, "entity_id": entity}
            versions.add(client.post("/predict", json=body).json()["version"])
        header = client.post(
            "/batch-predict",
            json={"model": two_versions, "features": [SETOSA]},
            headers={"X-Entity-ID": entity},
        ).json()
        versions.add(header["version"])
        assert header["routed_by"] == "sticky"
        api = client.post(
            f"/api/v1/predict/{two_versions}",
            json={"inputs": [SETOSA], "entity_ids": [entity]},
            headers={"Authorization": f"Bearer {admin_token}"},
        ).json()
        versions.update(api["versions"])
        assert len(versions) == 1, (entity, versions)
        arms[entity] = versions.pop()
    assert set(arms.values()) == {"v1", "v2"}  # 30 entities at 50/50 use both arms


def test_an_explicit_version_wins_over_weights(two_versions: str, client: httpx.Client) -> None:
    body = {"model": f"{two_versions}-v2", "features": SETOSA}
    answer = client.post("/predict", json=body).json()
    assert (answer["version"], answer["routed_by"]) == ("v2", "explicit")


def test_seed_s1_model_version_names_a_version_of_the_default_model(
    kinds: Kinds, client: httpx.Client
) -> None:
    answer = client.post(
        "/predict", json={"text": "This product is amazing!", "model_version": "v1"}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == "sentiment-v1"


def test_a_version_outside_the_serving_window_is_a_409_saying_how_to_start_it(
    stack: Stack, two_versions: str, admin_token: str, client: httpx.Client
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    set_weights(client, admin_token, two_versions, {"v1": 0.0, "v2": 1.0})
    assert client.post(f"/api/v1/stop/{two_versions}/v1", headers=auth).status_code == 200
    try:
        answer = client.post("/predict", json={"model": f"{two_versions}-v1", "features": SETOSA})
        assert answer.status_code == 409, answer.text
        assert f"POST /api/v1/start/{two_versions}/v1" in answer.json()["error"]
        routed = client.post("/predict", json={"model": two_versions, "features": SETOSA})
        assert routed.json()["version"] == "v2"
    finally:
        assert client.post(f"/api/v1/start/{two_versions}/v1", headers=auth).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["../sentiment", "/abs/path/to/another/repository/sentiment", "a" * 300, "x/../../etc", ".."],
)
def test_names_that_could_never_exist_are_422_on_every_route(
    name: str, kinds: Kinds, admin_token: str, client: httpx.Client
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    answers = [
        client.post("/predict", json={"text": "a", "model": name}),
        client.post("/batch-predict", json={"texts": ["a"], "model": name}),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert "not a valid model name" in answer.json()["error"]
    api = client.post(f"/api/v1/predict/{name}", json={"inputs": ["a"]}, headers=auth)
    assert api.status_code in (404, 422), api.text
    described = client.get(f"/models/{name}")
    assert described.status_code in (404, 422), described.text


def test_unknown_names_are_404_and_not_remembered(stack: Stack, client: httpx.Client) -> None:
    registry = stack.server.app.state.stack.router.registry
    for i in range(200):
        answer = client.post("/predict", json={"text": "a", "model": f"bogus-{i}"})
        assert answer.status_code == 404
    assert not [n for n in registry._published if n.startswith("bogus-")]


async def test_the_default_route_answers_from_the_last_reads_without_a_coroutine(
    stack: Stack, kinds: Kinds
) -> None:
    triton = TritonClient(stack.triton.grpc_url)
    registry = ModelRegistry(stack.repository, triton, "sentiment")
    try:
        name = kinds.tabular
        assert registry.ready_now(name, None) is None  # nothing read yet: Triton is asked
        newest = await registry.newest_ready(name)
        assert registry.ready_now(name, None) is newest  # the reads of the last second
        assert registry.ready_now(name, newest.version) is newest
        assert registry.ready_now(name, newest.version + 1) is None  # 404 on the slow path
        with pytest.raises(NotFoundError):
            await registry.resolve_version(name, newest.version + 1)
        registry.invalidate(name)  # a publish, load or unload: read again
        assert registry.ready_now(name, None) is None
    finally:
        await triton.close()
