"""Stages and aliases against the real stack: what requests without a version reach,
seed S2's promote route, refusals that change nothing, and promotions under load."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.conftest import Stack

ReleaseModel = Callable[[int], str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def answered_version(client: httpx.Client, model: str) -> tuple[str, str]:
    answer = client.post("/predict", json={"model": model, "text": "great"})
    assert answer.status_code == 200, answer.text
    return answer.json()["version"], answer.json()["routed_by"]


def promote(
    client: httpx.Client, token: str, name: str, version: int, stage: str = "Production"
) -> httpx.Response:
    return client.post(
        f"/models/{name}/promote",
        params={"version": version, "target_stage": stage, "reason": "test"},
        headers=bearer(token),
    )


def test_requests_without_a_version_follow_the_production_version(
    client: httpx.Client, admin_token: str, release_model: ReleaseModel
) -> None:
    name = release_model(3)
    assert answered_version(client, name) == ("v3", "default")  # no Production: newest

    answer = promote(client, admin_token, name, 1)

    assert answer.status_code == 200, answer.text
    assert answer.json()["production"] == 1
    assert answered_version(client, name) == ("v1", "default")
    assert answered_version(client, f"{name}-v3") == ("v3", "explicit")
    versions = client.get(f"/models/{name}/versions").json()
    assert versions["production"] == 1
    assert [v["stage"] for v in versions["versions"]] == ["Production", "None", "None"]


def test_promoting_archives_the_previous_version_and_unloads_it(
    stack: Stack, client: httpx.Client, admin_token: str, release_model: ReleaseModel
) -> None:
    name = release_model(2)
    assert promote(client, admin_token, name, 1).status_code == 200

    answer = promote(client, admin_token, name, 2)

    assert answer.status_code == 200, answer.text
    assert answer.json()["stages"] == {"1": "Archived", "2": "Production"}
    stopped = client.post("/predict", json={"model": f"{name}-v1", "text": "great"})
    assert stopped.status_code == 409, stopped.text
    rows = {v["version"]: v for v in client.get(f"/models/{name}/versions").json()["versions"]}
    assert rows["v1"]["enabled"] is False
    assert rows["v1"]["state"] != "READY"
    restored = promote(client, admin_token, name, 1, "Staging")
    assert restored.status_code == 200, restored.text
    deadline = time.monotonic() + 20
    while client.post("/predict", json={"model": f"{name}-v1", "text": "x"}).status_code != 200:
        assert time.monotonic() < deadline, "v1 was not served again after its restore"
        time.sleep(0.2)
    history = client.get(f"/models/{name}/history", headers=bearer(admin_token)).json()
    moves = [(t["version"], t["to_stage"], t["by"]) for t in history["transitions"]]
    assert moves[-4:] == [
        (1, "Production", "admin"),
        (1, "Archived", "admin"),
        (2, "Production", "admin"),
        (1, "Staging", "admin"),
    ]
    assert history["transitions"][-1]["reason"] == "test"


def test_aliases_are_model_references_and_champion_is_the_default(
    client: httpx.Client, admin_token: str, release_model: ReleaseModel
) -> None:
    name = release_model(3)
    for alias, version in (("challenger", 3), ("champion", 2)):
        answer = client.put(
            f"/models/{name}/aliases/{alias}",
            params={"version": version},
            headers=bearer(admin_token),
        )
        assert answer.status_code == 200, answer.text

    assert answered_version(client, f"{name}@challenger") == ("v3", "alias")
    assert answered_version(client, name) == ("v2", "default")
    unknown = client.post("/predict", json={"model": f"{name}@nobody", "text": "great"})
    assert unknown.status_code == 404
    assert "challenger (v3)" in unknown.text
    malformed = client.post("/predict", json={"model": f"{name}@No Such!", "text": "great"})
    assert malformed.status_code == 422
    assert "lowercase letters" in malformed.text
    both = client.post("/predict", json={"model": f"{name}@challenger", "version": 1, "text": "x"})
    assert both.status_code == 422
    assert "names an alias" in both.text
    dropped = client.delete(f"/models/{name}/aliases/champion", headers=bearer(admin_token))
    assert dropped.status_code == 200, dropped.text
    assert answered_version(client, name) == ("v3", "default")


def test_bad_release_requests_are_4xx_naming_the_field_and_change_nothing(
    client: httpx.Client, admin_token: str, release_model: ReleaseModel
) -> None:
    name = release_model(2)
    assert promote(client, admin_token, name, 1).status_code == 200
    before = client.get(f"/models/{name}/versions").json()

    cases = [
        (promote(client, admin_token, name, 2, "Live"), 422, "target_stage"),
        (promote(client, admin_token, name, 7), 404, "version 7"),
        (promote(client, admin_token, "no-such-model", 1), 404, "no-such-model"),
        (client.post(f"/models/{name}/promote?version=2&target_stage=Production"), 401, "Bearer"),
        (
            client.put(
                f"/models/{name}/aliases/Not An Alias",
                params={"version": 1},
                headers=bearer(admin_token),
            ),
            422,
            "alias",
        ),
        (
            client.delete(f"/models/{name}/aliases/ghost", headers=bearer(admin_token)),
            404,
            "ghost",
        ),
        (client.get(f"/models/{name}/history"), 401, "Bearer"),
        (
            client.post(
                f"/models/{name}/promote?version=1&version=2&target_stage=Production",
                headers=bearer(admin_token),
            ),
            422,
            "one version is in Production at a time",
        ),
    ]

    for answer, status, words in cases:
        assert answer.status_code == status, answer.text
        assert words in answer.text, answer.text
    assert client.get(f"/models/{name}/versions").json() == before
    assert answered_version(client, name) == ("v1", "default")


def test_no_request_fails_while_the_production_version_changes(
    stack: Stack, admin_token: str, release_model: ReleaseModel
) -> None:
    name = release_model(3)
    stop = threading.Event()
    answers: Counter[str] = Counter()
    failures: list[str] = []

    def hammer() -> None:
        with httpx.Client(base_url=stack.base_url, timeout=30) as http:
            while not stop.is_set():
                answer = http.post("/predict", json={"model": name, "text": "great film"})
                if answer.status_code == 200:
                    answers[answer.json()["version"]] += 1
                else:
                    failures.append(f"{answer.status_code} {answer.text}")

    clients = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in clients:
        thread.start()
    try:
        with httpx.Client(base_url=stack.base_url, timeout=60) as http:
            for version in (1, 2, 3, 1):
                time.sleep(0.5)
                answer = promote(http, admin_token, name, version)
                assert answer.status_code == 200, answer.text
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in clients:
            thread.join()

    assert failures == []
    assert set(answers) == {"v1", "v2", "v3"}
    assert sum(answers.values()) > 100
