"""The OpenAPI document is complete and the server keeps to it where a client can see it:
bodies of every POST/PUT, the bearer scheme on authenticated operations, the 4xx answers
with the error schema, ``WWW-Authenticate`` on 401s and true ``Allow`` headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack

OPEN_OPERATIONS = {
    ("POST", "/api/v1/token"),
    ("POST", "/api/v1/register"),
    ("GET", "/api/v1/verify-email"),
    ("POST", "/api/v1/verify-email"),
    ("GET", "/api/v1/accept-invite"),
    ("POST", "/api/v1/accept-invite"),
    ("POST", "/api/v1/password-reset-request/"),
    ("GET", "/api/v1/password-reset/confirm"),
    ("POST", "/api/v1/password-reset/confirm"),
    ("GET", "/api/v1/auth/{provider}"),
    ("GET", "/api/v1/auth/{provider}/callback"),
}
"""The ``/api/v1`` operations that need no token (the e-mail link pages and their forms
prove who is asking with the link's one-time token, OpenID Connect with the provider)."""
BODILESS = {
    ("POST", "/api/v1/logout"),
    ("POST", "/api/v1/team/{user_id}/activate"),
    ("POST", "/api/v1/stop/{name}/{version}"),
    ("POST", "/api/v1/start/{name}/{version}"),
    ("POST", "/experiments/{experiment_id}/stop"),
    ("POST", "/models/{name}/promote"),  # seed S2: ?version=N&target_stage=Production
    ("PUT", "/models/{name}/aliases/{alias}"),  # ?version=N
    ("POST", "/models/{name}/train/{job_id}/cancel"),
}
"""POST/PUT operations that take no body (everything is in the path and query)."""
LEAD_OWNED: set[tuple[str, str]] = set()
"""Operations exempt from the body check (none: the predict routes document theirs)."""


@pytest.fixture(scope="module")
def document(stack: Stack) -> dict[str, Any]:
    answer = httpx.get(f"{stack.base_url}/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        yield http


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_post_and_put_documents_its_body(document: dict[str, Any]) -> None:
    missing = [
        (method, path)
        for method, path, operation in _operations(document)
        if method in ("POST", "PUT")
        and "requestBody" not in operation
        and (method, path) not in BODILESS | LEAD_OWNED
    ]
    assert missing == []


def test_authenticated_operations_declare_the_bearer_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in _operations(document):
        if not path.startswith("/api/v1/"):
            continue
        if (method, path) in OPEN_OPERATIONS:
            assert "security" not in operation, (method, path)
        else:
            assert operation.get("security") == [{"bearer": []}], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_error_answers_are_documented_with_the_error_schema(document: dict[str, Any]) -> None:
    error_ref = "#/components/schemas/ErrorBody"
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("4") and "content" in response:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, (method, path, status)
    admin_only = document["paths"]["/api/v1/abtest/{name}"]["post"]["responses"]
    assert {"401", "403", "404", "413", "422"} <= set(admin_only)


def test_a_401_says_which_scheme_to_use(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        answer = client.get("/api/v1/user_role", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "error" in answer.json()
    bad_login = client.post("/api/v1/token", data={"username": "nobody", "password": "wrong-pw"})
    assert bad_login.status_code == 401
    assert bad_login.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/abtest/sentiment", "GET, OPTIONS, POST"),
        ("/api/v1/webhook", "GET, OPTIONS, POST"),
        ("/api/v1/team/1/role", "OPTIONS, PUT"),
        ("/health", "GET, OPTIONS"),
        ("/openapi.json", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_and_405_name_every_allowed_method(
    client: httpx.Client, path: str, allowed: str
) -> None:
    options = client.options(path)
    assert options.status_code == 204
    assert options.headers["allow"] == allowed
    refused = client.patch(path, json={})
    assert refused.status_code == 405
    assert refused.headers["allow"] == allowed
    assert f"allowed: {allowed}" in refused.json()["error"]


def test_validation_errors_name_the_field(client: httpx.Client, stack: Stack) -> None:
    token = client.post(
        "/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    missing = client.post("/api/v1/token", data={"username": ADMIN_USER})
    assert (missing.status_code, missing.json()["error"]) == (422, "password is required")
    role = client.put("/api/v1/team/1/role", json={"role": "root"}, headers=auth)
    assert role.status_code == 422
    assert "role: Input should be 'admin' or 'user'" in role.json()["error"]
    limit = client.get("/api/v1/webhook/deliveries", params={"limit": 5000}, headers=auth)
    assert limit.status_code == 422
    assert "limit: Input should be less than or equal to 1000" in limit.json()["error"]
    huge_id = client.post(f"/api/v1/team/{10**30}/activate", headers=auth)
    assert huge_id.status_code == 422
    assert "user_id" in huge_id.json()["error"]


PATH_VALUES = {
    "name": "sentiment",
    "model": "sentiment",
    "version": "v1",
    "user_id": "1",
    "deployment_id": "1",
    "provider": "google",
    "job_id": "t1",
    "alias": "production",
    "experiment_id": "1",
}


def test_every_documented_path_refuses_other_methods_with_a_true_allow(
    client: httpx.Client, document: dict[str, Any]
) -> None:
    checked = 0
    for path, item in document["paths"].items():
        url = path.format(**PATH_VALUES)
        allowed = ", ".join(sorted({m.upper() for m in item} | {"OPTIONS"}))
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method.lower() in item:
                continue
            answer = client.request(method, url)
            assert (answer.status_code, answer.headers.get("allow")) == (405, allowed), (
                method,
                url,
            )
            checked += 1
        options = client.options(url)
        assert (options.status_code, options.headers.get("allow")) == (204, allowed), url
    assert checked > 100
