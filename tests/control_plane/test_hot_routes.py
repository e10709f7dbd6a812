"""HotRoutes as plain ASGI: its own paths answered by handlers, everything else passed on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mlserve.control_plane.hot_routes import HotRoutes
from mlserve.errors import NotFoundError, OverloadedError


async def echo(body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Any:
    return {"echo": orjson.loads(body)}


async def overloaded(body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Any:
    raise OverloadedError("model 'm' is at its limit; retry", retry_after=2.4)


async def unknown(body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Any:
    raise NotFoundError("model 'x' not found; available models: m", detail={"available": ["m"]})


async def broken(body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Any:
    raise RuntimeError("a bug with internals in its message")


def fallback() -> Starlette:
    async def other(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"fallback {request.method} {request.url.path}")

    return Starlette(routes=[Route("/{path:path}", other, methods=["GET", "POST"])])


@pytest.fixture
def client() -> httpx.AsyncClient:
    routes = {"/echo": echo, "/busy": overloaded, "/unknown": unknown, "/broken": broken}
    app = HotRoutes(fallback(), routes=routes, max_body_bytes=1000)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_hot_path_is_answered_by_its_handler_as_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b'{"text": "hi"}')

    assert response.status_code == 200
    assert response.json() == {"echo": {"text": "hi"}}
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)


async def test_other_paths_and_methods_go_to_the_app_behind(client: httpx.AsyncClient) -> None:
    assert (await client.get("/echo")).text == "fallback GET /echo"
    assert (await client.post("/elsewhere", content=b"{}")).text == "fallback POST /elsewhere"


async def test_errors_become_the_usual_error_bodies(client: httpx.AsyncClient) -> None:
    busy = await client.post("/busy", content=b"{}")
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "2"
    assert busy.json() == {"error": "model 'm' is at its limit; retry"}

    missing = await client.post("/unknown", content=b"{}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == {"available": ["m"]}


async def test_an_unexpected_error_is_a_bare_500_and_a_logged_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mlserve.control_plane.hot_routes"):
        response = await client.post("/broken", content=b"{}")

    assert response.status_code == 500
    assert response.json() == {"error": "internal error; the server log has the details"}
    assert "internals" not in response.text
    assert "a bug with internals" in caplog.text


async def test_a_body_over_the_limit_is_a_413_whether_sent_at_once_or_streamed(
    client: httpx.AsyncClient,
) -> None:
    at_once = await client.post("/echo", content=b"x" * 1001)
    assert at_once.status_code == 413
    assert "over 1000 bytes" in at_once.json()["error"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 100

    streamed = await client.post("/echo", content=chunks())
    assert streamed.status_code == 413
    assert "send fewer or shorter texts" in streamed.json()["error"]


async def test_a_body_in_several_parts_is_put_back_together(client: httpx.AsyncClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b'{"text": '
        yield b'"two parts"}'

    response = await client.post("/echo", content=parts())
    assert response.json() == {"echo": {"text": "two parts"}}


async def test_a_client_gone_before_its_body_arrived_gets_nothing_sent() -> None:
    messages = [
        {"type": "http.request", "body": b'{"te', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    app = HotRoutes(fallback(), routes={"/echo": echo}, max_body_bytes=1000)
    await app({"type": "http", "method": "POST", "path": "/echo"}, receive, send)
    assert sent == []
