"""Recommenders: declared options, request parsing, and a published one on the real stack
(tritonserver + control plane), ranked as the native estimator scores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from mlserve.converters.loading import export_native_model
from mlserve.converters.tabular.decisions import RecommenderOptions, check_features, parse_task
from mlserve.errors import InvalidInputError
from mlserve.kinds.recommender import parse_ranking
from tests.conftest import Stack
from tests.dataplane.conftest import publish, wait_served
from tests.support.decision_models import (
    ITEM_FEATURES,
    RECOMMENDER_OPTIONS,
    USER_FEATURES,
    native_scores,
    recommender_model,
)

NAME = "shop-ranker"
USER = {"age": 62.0, "budget": 80.0}
CANDIDATES = [
    {"item_id": "lamp", "price": 40.0, "premium": 0.0},
    {"item_id": "sofa", "price": 220.0, "premium": 1.0},
    {"item_id": "rug", "price": 75.0, "premium": 1.0},
    {"item_id": "vase", "price": 12.0, "premium": 1.0},
    {"item_id": 17, "price": 160.0, "premium": 0.0},
]


# --- declared options and request parsing (pure logic) ----------------------------------


def test_options_declare_user_and_item_features() -> None:
    task, options = parse_task(json.dumps(RECOMMENDER_OPTIONS))
    assert task == "recommender"
    assert isinstance(options, RecommenderOptions)
    assert options.item_id == "item_id"
    check_features(options, USER_FEATURES + ITEM_FEATURES)
    with pytest.raises(InvalidInputError, match=r"not declared \['colour'\]"):
        check_features(options, [*USER_FEATURES, *ITEM_FEATURES, "colour"])
    with pytest.raises(InvalidInputError, match="listed as user and as item features"):
        parse_task("recommender", json.dumps({"user_features": ["a"], "item_features": ["a"]}))


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"user": USER, "candidates": []}, "candidates is empty"),
        ({"user": USER}, "candidates must be a list"),
        ({"candidates": CANDIDATES}, "user must be an object"),
        ({"user": USER, "candidates": CANDIDATES, "top_k": 0}, "top_k must be an integer >= 1"),
        ({"user": USER, "candidates": CANDIDATES, "top_k": True}, "top_k must be an integer"),
        ({"user": USER, "candidates": CANDIDATES * 3}, "at most 10"),
    ],
)
def test_bad_ranking_requests_name_the_field(body: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_ranking(body, max_candidates=10)
    assert named in caught.value.message


# --- a published recommender on the real stack -------------------------------------------


@pytest.fixture(scope="module")
def native(stack: Stack) -> Any:
    model, background = recommender_model()
    if NAME not in stack.repository.model_names():
        exported = export_native_model(
            model, name=NAME, background=background, task_type=json.dumps(RECOMMENDER_OPTIONS)
        )
        assert exported.parity.passed, exported.parity.summary()
        publish(stack, exported, NAME)
    wait_served(stack.base_url, {"model": NAME, "user": USER, "candidates": CANDIDATES[:1]})
    return model


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        yield http


def expected_order(model: Any, candidates: list[dict[str, Any]]) -> tuple[list[Any], Any]:
    scores = native_scores(model, USER, candidates)
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    return [candidates[i]["item_id"] for i in order], scores[order]


def test_predict_ranks_the_candidates_by_the_estimators_score(
    native: Any, client: httpx.Client
) -> None:
    answer = client.post("/predict", json={"model": NAME, "user": USER, "candidates": CANDIDATES})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    ids, scores = expected_order(native, CANDIDATES)
    assert [c["id"] for c in body["ranking"]] == ids
    assert np.allclose([c["score"] for c in body["ranking"]], scores, atol=1e-5)
    assert [c["rank"] for c in body["ranking"]] == [1, 2, 3, 4, 5]
    assert body["candidates"] == 5
    assert len(set(ids[:2])) == 2
    assert ids != [c["item_id"] for c in CANDIDATES]  # the order is the model's, not the input's


def test_top_k_answers_the_best_k(native: Any, client: httpx.Client) -> None:
    body = {"model": NAME, "user": USER, "candidates": CANDIDATES, "top_k": 2}
    answer = client.post("/predict", json=body).json()
    assert [c["id"] for c in answer["ranking"]] == expected_order(native, CANDIDATES)[0][:2]


def test_all_candidates_go_to_triton_in_one_call(
    stack: Stack, native: Any, client: httpx.Client
) -> None:
    rng = np.random.default_rng()
    fresh = [
        {"item_id": f"n{i}", "price": float(rng.uniform(5, 250)), "premium": float(i % 2)}
        for i in range(7)
    ]

    def counts() -> tuple[int, int]:
        stats = httpx.get(f"{stack.triton.http_url}/v2/models/{NAME}/stats", timeout=30).json()
        model = stats["model_stats"][0]
        return int(model["inference_count"]), int(model["execution_count"])

    before = counts()
    answer = client.post("/predict", json={"model": NAME, "user": USER, "candidates": fresh})
    assert answer.status_code == 200, answer.text
    assert counts() == (before[0] + 7, before[1] + 1)
    again = client.post("/predict", json={"model": NAME, "user": USER, "candidates": fresh})
    assert all(c["cached"] for c in again.json()["ranking"])
    assert counts() == (before[0] + 7, before[1] + 1)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"candidates": []}, "candidates is empty"),
        ({"candidates": [{"item_id": "x", "price": 3.0}]}, "candidates[0] lacks the item features"),
        ({"candidates": [{"price": 3.0, "premium": 0.0}]}, "candidates[0] has no 'item_id'"),
        ({"user": {"age": 30.0}}, "user lacks the user features ['budget']"),
        ({"top_k": 0}, "top_k must be an integer >= 1"),
    ],
)
def test_bad_ranking_requests_are_422(
    native: Any, client: httpx.Client, change: dict[str, Any], named: str
) -> None:
    body = {"model": NAME, "user": USER, "candidates": CANDIDATES, **change}
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"]


def test_other_routes_say_how_to_ask_a_recommender(native: Any, client: httpx.Client) -> None:
    records = client.post("/predict", json={"model": NAME, "features": {**USER, "price": 3.0}})
    assert records.status_code == 422
    assert "is a recommender" in records.text
    batch = client.post("/batch-predict", json={"model": NAME, "user": USER, "candidates": []})
    assert batch.status_code == 422
    assert "send one user's candidates to /predict" in batch.text
    v2 = client.post(
        f"/v2/models/{NAME}/infer",
        json={"inputs": [{"name": "age", "datatype": "FP64", "shape": [1], "data": [30.0]}]},
    )
    assert v2.status_code == 422
    assert "is a recommender model" in v2.text
    assert client.get(f"/v2/models/{NAME}").status_code == 422


def test_a_ranking_body_for_another_kind_is_422_saying_what_it_takes(
    native: Any, client: httpx.Client
) -> None:
    body = {"model": "sentiment", "user": USER, "candidates": CANDIDATES}
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422
    assert "takes text, not a user and candidates" in answer.json()["error"]
