"""The FastAPI ``/predict`` and ``/batch-predict`` routes, which HotRoutes answers ahead of in
the running app: they document the API in OpenAPI and answer whenever the app is served
without its hot routes, so they must give the same answers and errors."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mlserve.control_plane.app import create_app
from tests.conftest import stack_settings
from tests.support.triton_server import TritonServer


@pytest.fixture
async def fastapi_only(triton_server: TritonServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app's FastAPI routes alone (HotRoutes bypassed), started and stopped
    with its lifespan against the session's real Triton."""
    state_dir = Path(tempfile.mkdtemp(prefix="mlserve-state-"))
    app = create_app(stack_settings(triton_server, state_dir))
    transport = httpx.ASGITransport(app=partial(FastAPI.__call__, app))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://cp") as client,
    ):
        yield client


async def test_the_predict_route_answers_like_the_hot_route(
    fastapi_only: httpx.AsyncClient,
) -> None:
    response = await fastapi_only.post("/predict", json={"text": "This product is amazing!"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == "positive"
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["model"] == "sentiment"
    assert body["triton_ms"] > 0


async def test_the_batch_predict_route_keeps_input_order(
    fastapi_only: httpx.AsyncClient,
) -> None:
    texts = ["I love the app, it is brilliant.", "The battery is awful."]

    response = await fastapi_only.post("/batch-predict", json={"texts": texts})

    assert response.status_code == 200, response.text
    assert [p["label"] for p in response.json()["predictions"]] == ["positive", "negative"]


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/predict", {}, "carries no input"),
        ("/predict", {"text": "ok", "timeout_ms": 0}, "timeout_ms"),
        ("/batch-predict", {"texts": []}, "between 1 and 100"),
    ],
)
async def test_bad_input_gets_the_same_clear_422(
    fastapi_only: httpx.AsyncClient, path: str, body: dict[str, object], fragment: str
) -> None:
    response = await fastapi_only.post(path, json=body)

    assert response.status_code == 422
    assert fragment in response.json()["error"]
