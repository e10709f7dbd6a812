"""The online policy routes over ASGI (real SQLite store, real HTTP handling): configure,
predict, feedback, metrics; and that rejected feedback leaves the learning state alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.platform.conftest import Harness

CONTRACT = {
    "features": [
        {"name": "age", "type": "continuous"},
        {"name": "income", "type": "continuous"},
        {"name": "loyalty_score", "type": "continuous"},
    ],
    "actions": ["show_discount", "show_premium", "no_action"],
}
ROW = {"age": 30, "income": 52_000.0, "loyalty_score": 0.4}
BASE = "/api/v1"


async def configure(h: Harness, version: str = "v1", contract: Any = None) -> dict[str, Any]:
    response = await h.client.post(
        f"{BASE}/model_config",
        headers=h.admin,
        data={
            "name": "promo-policy",
            "version": version,
            "task_type": "policy_next",
            "feature_contract": json.dumps(contract or CONTRACT),
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def state(h: Harness) -> dict[str, Any]:
    response = await h.client.get(f"{BASE}/metrics/rl/promo-policy/v1", headers=h.admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_configure_predict_feedback_metrics(harness: Harness) -> None:
    h = harness
    configured = await configure(h)
    assert [p["type"] for p in configured["policies"]] == ["epsilon_greedy", "linucb", "thompson"]
    deployment = await h.client.get(
        f"{BASE}/deployments/{configured['deployment_id']}", headers=h.admin
    )
    assert deployment.json()["status"] == "success"
    again = await configure(h)
    assert again["deployment_id"] == configured["deployment_id"]
    assert again["status"] == "already configured with this contract"

    predicted = await h.client.post(
        f"{BASE}/online_predict/promo-policy/v1", headers=h.admin, json={"inputs": [ROW] * 30}
    )
    assert predicted.status_code == 200, predicted.text
    body = predicted.json()
    assert len(body["predictions"]) == len(body["prediction_ids"]) == 30
    for choice in body["predictions"]:
        assert choice["action"] in CONTRACT["actions"]
        assert choice["mode"] in ("explore", "exploit")
        assert choice["policy_id"] in (0, 1, 2)
        assert 0.0 <= choice["epsilon"] <= 1.0
    assert {c["policy_id"] for c in body["predictions"]} == {0, 1, 2}

    feedback = [
        {"features": ROW, "action": c["action"], "reward": 1.0, "policy_id": c["policy_id"]}
        for c in body["predictions"][:10]
    ]
    learned = await h.client.post(
        f"{BASE}/online_feedback/promo-policy/v1", headers=h.admin, json={"feedback": feedback}
    )
    assert learned.status_code == 200, learned.text
    assert learned.json()["accepted"] == 10
    assert learned.json()["avg_reward"] == 1.0

    metrics = await state(h)
    assert metrics["n_predictions"] == 30
    assert metrics["n_feedback"] == 10
    policies = metrics["metrics"]["policies"]
    assert sum(p["pulls"] for p in policies) == 30
    assert sum(p["n_feedback"] for p in policies) == 10
    assert metrics["metrics"]["cumulative_reward"] == 10.0
    series = metrics["series"]
    assert series["epsilon"][0].keys() >= {"t", "epsilon_mean"}
    assert series["reward"][0]["reward_mean"] == 1.0
    assert sum(series["policy_selection"][0]["counts"].values()) == 30
    assert {p["policy_id"] for p in series["policy_rewards"]} == {0, 1, 2}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"policy_id": 7}, "feedback[1].policy_id 7 is not a policy"),
        ({"action": "free_lunch"}, "feedback[1].action: unknown action 'free_lunch'"),
        ({"action": 3}, "unknown action 3"),
        ({"features": {**ROW, "age": "thirty"}}, "feedback[1].features.age must be a number"),
        ({"features": {**ROW, "age": True}}, "feedback[1].features.age must be a number"),
        ({"features": {"age": 1, "income": 2}}, "missing feature 'loyalty_score'"),
        ({"features": {**ROW, "agee": 1}}, "unknown features ['agee']"),
        ({"reward": "1"}, "feedback[1].reward must be a number"),
        ({"reward": None}, "feedback[1].reward must be a number"),
        ({"policy_id": None}, "feedback[1].policy_id None is not a policy"),
    ],
)
async def test_rejected_feedback_names_the_problem_and_changes_nothing(
    harness: Harness, row: dict[str, Any], message: str
) -> None:
    h = harness
    await configure(h)
    good = {"features": ROW, "action": "show_discount", "reward": 1.0, "policy_id": 0}
    accepted = await h.client.post(
        f"{BASE}/online_feedback/promo-policy/v1", headers=h.admin, json={"feedback": [good]}
    )
    assert accepted.status_code == 200
    before = await state(h)
    served = await h.api.services.online._get("promo-policy", "v1")
    a_before = served.ledger.state.stats.a.copy()

    response = await h.client.post(
        f"{BASE}/online_feedback/promo-policy/v1",
        headers=h.admin,
        json={"feedback": [good, {**good, **row}]},
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]
    after = await state(h)
    assert after["n_feedback"] == before["n_feedback"] == 1
    assert after["metrics"]["cumulative_reward"] == before["metrics"]["cumulative_reward"]
    assert (served.ledger.state.stats.a == a_before).all()


async def test_bad_calls_get_clear_answers(harness: Harness) -> None:
    h = harness
    await configure(h)
    cases: list[tuple[str, str, Any, int, str]] = [
        (
            "post",
            "/online_predict/nope/v1",
            {"inputs": [ROW]},
            404,
            "no online policy model nope/v1",
        ),
        ("post", "/online_feedback/nope/v1", {"feedback": []}, 404, "configure it first"),
        ("get", "/metrics/rl/promo-policy/v9", None, 404, "promo-policy/v9"),
        (
            "post",
            "/online_predict/promo-policy/v1",
            {"inputs": []},
            422,
            "inputs must be a non-empty",
        ),
        (
            "post",
            "/online_predict/promo-policy/v1",
            {"inputs": [{**ROW, "income": "rich"}]},
            422,
            "inputs[0].income must be a number",
        ),
        ("post", "/online_predict/promo-policy/v1", {"inputs": [ROW] * 1001}, 422, "limit is 1000"),
        (
            "post",
            "/online_predict/promo-policy/vX",
            {"inputs": [ROW]},
            422,
            "'vX' is not a version",
        ),
    ]
    for method, path, body, status, message in cases:
        response = await getattr(h.client, method)(
            BASE + path, headers=h.admin, **({"json": body} if body is not None else {})
        )
        assert response.status_code == status, (path, response.text)
        assert message in response.json()["error"], (path, response.text)
    granularity = await h.client.get(
        f"{BASE}/metrics/rl/promo-policy/v1?granularity=week", headers=h.admin
    )
    assert granularity.status_code == 422
    assert "granularity must be one of hour, day" in granularity.json()["error"]

    changed = {**CONTRACT, "actions": ["a", "b"]}
    conflict = await h.client.post(
        f"{BASE}/model_config",
        headers=h.admin,
        data={
            "name": "promo-policy",
            "version": "v1",
            "task_type": "policy_next",
            "feature_contract": json.dumps(changed),
        },
    )
    assert conflict.status_code == 409
    assert "configure a new version" in conflict.json()["error"]
    wrong_task = await h.client.post(
        f"{BASE}/model_config",
        headers=h.admin,
        data={
            "name": "p2",
            "version": "v1",
            "task_type": "classification",
            "feature_contract": json.dumps(CONTRACT),
        },
    )
    assert wrong_task.status_code == 422
    assert "task_type 'classification' is not an online policy type" in wrong_task.json()["error"]
    _, user_token = await h.make_user("plain-user")
    forbidden = await h.client.post(
        f"{BASE}/model_config",
        headers=h.auth(user_token),
        data={
            "name": "p3",
            "version": "v1",
            "task_type": "policy_next",
            "feature_contract": json.dumps(CONTRACT),
        },
    )
    assert forbidden.status_code == 403
    anonymous = await h.client.post(
        f"{BASE}/online_predict/promo-policy/v1", json={"inputs": [ROW]}
    )
    assert anonymous.status_code == 401


async def test_the_hot_route_answers_as_the_fastapi_route(harness: Harness) -> None:
    """``create_app`` answers ``online_predict`` ahead of FastAPI (a hot route): the same
    answers and errors as the documented FastAPI route, and its own for bodies that never
    reach a handler there (not JSON, too large, a path of the wrong shape)."""
    from functools import partial

    import httpx

    from mlserve.control_plane.hot_routes import HotRoutes
    from mlserve.control_plane.routes.api_v1.online import (
        BODY_LIMIT,
        PREDICT_PREFIX,
        OnlinePredictAnswer,
        online_predict_answer,
    )
    from tests.platform.conftest import error_app

    h = harness
    await configure(h)
    services = h.api.services
    hot_app = HotRoutes(
        error_app(h.api),
        routes={},
        max_body_bytes=2 * BODY_LIMIT,
        prefix_routes={
            (PREDICT_PREFIX, ""): partial(online_predict_answer, services.online, services.users)
        },
    )
    transport = httpx.ASGITransport(app=hot_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as hot:
        ok = await hot.post(
            f"{BASE}/online_predict/promo-policy/v1", headers=h.admin, json={"inputs": [ROW] * 5}
        )
        assert ok.status_code == 200, ok.text
        answer = OnlinePredictAnswer.model_validate(ok.json())
        assert len(answer.predictions) == 5
        assert answer.model_dump().keys() == ok.json().keys()

        shared: list[tuple[dict[str, str], str, Any, int, str]] = [
            ({}, "promo-policy/v1", {"inputs": [ROW]}, 401, "missing bearer token"),
            ({"authorization": "Basic abc"}, "promo-policy/v1", {"inputs": [ROW]}, 401, "Bearer"),
            (h.auth("not-a-token"), "promo-policy/v1", {"inputs": [ROW]}, 401, "log in again"),
            (h.admin, "nope/v1", {"inputs": [ROW]}, 404, "no online policy model nope/v1"),
            (h.admin, "promo-policy/v1", {"inputs": []}, 422, "inputs must be a non-empty"),
            (
                h.admin,
                "promo-policy/v1",
                {"inputs": [{**ROW, "income": "rich"}]},
                422,
                "inputs[0].income must be a number",
            ),
            (h.admin, "promo-policy/v1", {"inputs": [ROW] * 1001}, 422, "limit is 1000"),
            (h.admin, "promo-policy/vX", {"inputs": [ROW]}, 422, "'vX' is not a version"),
            (h.admin, "promo-policy/v1", {"inputs": [ROW], "extra": 1}, 422, "extra"),
        ]
        for headers, where, body, status, message in shared:
            for client in (hot, h.client):
                response = await client.post(
                    f"{BASE}/online_predict/{where}", headers=headers, json=body
                )
                assert response.status_code == status, (where, client is hot, response.text)
                assert message in response.json()["error"], (where, client is hot, response.text)

        own: list[tuple[str, bytes, int, str]] = [
            ("promo-policy/v1", b"{not json", 400, "not valid JSON"),
            ("promo-policy/v1", b"  ", 400, "request body is empty"),
            ("promo-policy/v1", b"[" * 200 + b"]" * 200, 422, "nest"),
            ("promo-policy/v1", b" " * (BODY_LIMIT + 1), 413, "limit"),
            ("promo-policy", b'{"inputs": []}', 404, "/api/v1/online_predict/{name}/{version}"),
            ("promo-policy/v1/x", b'{"inputs": []}', 404, "/api/v1/online_predict/{name}"),
        ]
        for where, raw, status, message in own:
            response = await hot.post(
                f"{BASE}/online_predict/{where}",
                headers={**h.admin, "content-type": "application/json"},
                content=raw,
            )
            assert response.status_code == status, (where, response.text)
            assert message in response.json()["error"], (where, response.text)
    # Only the accepted call's 5 rows were counted: refused calls change nothing.
    metrics = await state(h)
    assert metrics["n_predictions"] == 5
