"""``auth.require_token_for``: the plain API's groups closed to requests without a valid
bearer token (an account's or the static ``admin_token``), on the real stack."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, stack_settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.redis_server import free_port
from tests.support.triton_server import TritonServer

API_KEY = "prometheus-key-0123456789"


@pytest.fixture(scope="module")
def closed(triton_server: TritonServer) -> Iterator[tuple[str, int]]:
    """A control plane with every group closed and /metrics also on a port of its own."""
    metrics_port = free_port()
    settings = stack_settings(
        triton_server,
        Path(tempfile.mkdtemp(prefix="mlserve-access-")),
        auth={"require_token_for": ["predict", "metrics", "monitoring", "docs"]},
        admin_token=API_KEY,
        monitoring={"port": metrics_port, "triton_poll_seconds": 1.0},
    )
    with ControlPlaneServer(settings) as server:
        yield server.base_url, metrics_port


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/predict", {"text": "great"}),
        ("POST", "/batch-predict", {"texts": ["great"]}),
        ("POST", "/v2/models/sentiment/infer", {"inputs": []}),
        ("GET", "/v2/models/sentiment", None),
        ("GET", "/metrics", None),
        ("GET", "/monitoring/alerts", None),
        ("GET", "/docs", None),
        ("GET", "/openapi.json", None),
    ],
)
def test_closed_groups_refuse_requests_without_a_valid_token(
    closed: tuple[str, int], method: str, path: str, body: object
) -> None:
    base, _ = closed
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        answer = httpx.request(method, base + path, json=body, headers=headers, timeout=30)
        assert answer.status_code == 401, (path, headers, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "error" in answer.json()


def test_an_account_token_and_the_api_key_open_them(closed: tuple[str, int]) -> None:
    base, _ = closed
    login = httpx.post(
        f"{base}/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    token = login.json()["access_token"]
    for key in (token, API_KEY):
        auth = {"Authorization": f"Bearer {key}"}
        answer = httpx.post(f"{base}/predict", json={"text": "great"}, headers=auth, timeout=30)
        assert answer.status_code == 200, answer.text
        assert httpx.get(f"{base}/metrics", headers=auth).status_code == 200
        assert httpx.get(f"{base}/docs", headers=auth).status_code == 200


def test_health_probes_and_the_metrics_port_stay_open(closed: tuple[str, int]) -> None:
    base, metrics_port = closed
    assert httpx.get(f"{base}/health").status_code == 200
    assert httpx.get(f"{base}/v2/health/live").status_code == 200
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert scraped.status_code == 200
    assert "mlserve_requests_total" in scraped.text
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/other").status_code == 404


def test_a_logout_closes_the_gate_and_the_api_at_once(closed: tuple[str, int]) -> None:
    """The token just used (so remembered as verified) stops working on this replica as
    soon as it logs out: on a gated route and on the hot ``online_predict`` route alike."""
    base, _ = closed
    login = httpx.post(
        f"{base}/api/v1/token", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    body = {"inputs": [{"age": 1.0}]}
    assert httpx.post(f"{base}/predict", json={"text": "great"}, headers=auth).status_code == 200
    online = httpx.post(f"{base}/api/v1/online_predict/nope/v1", json=body, headers=auth)
    assert online.status_code == 404  # past the token check
    assert httpx.post(f"{base}/api/v1/logout", headers=auth).status_code == 200
    refused = httpx.post(f"{base}/predict", json={"text": "great"}, headers=auth)
    assert refused.status_code == 401
    assert "expired or revoked" in refused.json()["error"]
    online = httpx.post(f"{base}/api/v1/online_predict/nope/v1", json=body, headers=auth)
    assert online.status_code == 401
