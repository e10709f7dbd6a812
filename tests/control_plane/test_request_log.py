"""The one-line request log: fields, request ids, errors, payloads, both formats, and the
real control plane (hot predict routes included)."""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mlserve.control_plane.errors import install_error_handlers
from mlserve.control_plane.request_log import RequestLog
from mlserve.errors import InvalidInputError
from mlserve.monitoring.request_context import current_request
from mlserve.settings import LoggingSettings
from tests.conftest import stack_settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.triton_server import TritonServer


@pytest.fixture
def sink() -> io.StringIO:
    return io.StringIO()


def domain_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/predict")
    async def predict(body: dict[str, Any]) -> dict[str, Any]:
        current_request().update(model="churn", version=2, cached=False, routed_by="abtest")
        current_request().add_timing("triton_ms", 1.25)
        return {"label": "yes"}

    @app.post("/bad")
    async def bad() -> None:
        raise InvalidInputError("text is required\nsecond line")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    return app


def client(sink: io.StringIO, **settings: Any) -> httpx.AsyncClient:
    wrapped = RequestLog(domain_app(), LoggingSettings(**settings), stream=sink)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped, raise_app_exceptions=False),
        base_url="http://test",
    )


def lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


async def test_json_line_has_the_request_fields(sink: io.StringIO) -> None:
    async with client(sink, format="json") as http:
        answer = await http.post(
            "/predict", json={"text": "secret words"}, headers={"X-Request-ID": "req-42"}
        )

    (line,) = lines(sink.getvalue())
    assert answer.headers["x-request-id"] == "req-42"
    assert line["request_id"] == "req-42"
    assert line["route"] == "/predict"
    assert line["method"] == "POST"
    assert line["status"] == 200
    assert line["latency_ms"] > 0
    assert (line["model"], line["version"], line["cached"], line["routed_by"]) == (
        "churn",
        2,
        False,
        "abtest",
    )
    assert line["timings"] == {"triton_ms": 1.25}
    assert line["ts"].endswith("Z")
    assert "secret words" not in json.dumps(line)  # no payloads by default


async def test_request_ids_are_generated_and_hostile_ones_replaced(sink: io.StringIO) -> None:
    async with client(sink, format="json") as http:
        plain = await http.post("/predict", json={})
        hostile = await http.post("/predict", json={}, headers={"X-Request-ID": "a b;<x>" * 30})

    first, second = lines(sink.getvalue())
    assert len(plain.headers["x-request-id"]) == 22  # random prefix + counter
    assert first["request_id"] == plain.headers["x-request-id"]
    assert second["request_id"] == hostile.headers["x-request-id"] != "a b;<x>" * 30


async def test_errors_carry_type_and_first_line(sink: io.StringIO) -> None:
    async with client(sink, format="json") as http:
        await http.post("/bad")
        await http.get("/boom")
        await http.get("/nowhere")

    bad, boom, nowhere = lines(sink.getvalue())
    assert bad["status"] == 422
    assert bad["error"] == {"type": "InvalidInputError", "message": "text is required"}
    assert boom["status"] == 500
    assert boom["error"]["type"] == "RuntimeError"
    assert nowhere["status"] == 404
    assert nowhere["error"]["type"] == "HTTPException"


async def test_payloads_only_when_asked_and_truncated(sink: io.StringIO) -> None:
    async with client(sink, format="json", payloads=True, payload_max_bytes=20) as http:
        await http.post("/predict", json={"text": "a long review text that goes on"})

    (line,) = lines(sink.getvalue())
    assert line["payload"] == '{"text":"a long revi'


async def test_text_format_is_one_readable_line(sink: io.StringIO) -> None:
    async with client(sink, format="text") as http:
        await http.post("/predict", json={}, headers={"X-Request-ID": "abc"})

    out = sink.getvalue().strip()
    assert "\n" not in out
    assert " POST /predict 200 " in out
    assert "id=abc model=churn v2 cached=false routed_by=abtest triton_ms=1.2" in out


@pytest.fixture(scope="module")
def logging_stack(triton_server: TritonServer) -> Iterator[str]:
    """A control plane logging every request as JSON (the session's stack logs none, so
    test output stays readable)."""
    state = Path(tempfile.mkdtemp(prefix="mlserve-log-"))
    settings = stack_settings(triton_server, state, logging={"requests": True, "format": "json"})
    with ControlPlaneServer(settings) as server:
        yield server.base_url


def test_the_control_plane_logs_hot_and_fastapi_routes(
    logging_stack: str, capfd: pytest.CaptureFixture[str]
) -> None:
    base = logging_stack
    predicted = httpx.post(
        f"{base}/predict",
        json={"text": "great battery"},
        headers={"X-Request-ID": "hot-1"},
        timeout=30,
    )
    health = httpx.get(f"{base}/models", timeout=30)
    refused = httpx.post(f"{base}/predict", json={"txt": 1}, timeout=30)

    time.sleep(0.3)  # lines are flushed within 0.1 s
    logged = {line["route"] + str(line["status"]): line for line in lines(capfd.readouterr().out)}
    assert predicted.headers["x-request-id"] == "hot-1"
    assert logged["/predict200"]["request_id"] == "hot-1"
    assert logged["/predict200"]["model"] == "sentiment"
    assert logged["/predict200"]["routed_by"] == "default"
    assert "great battery" not in json.dumps(logged["/predict200"])
    assert health.headers["x-request-id"] == logged["/models200"]["request_id"]
    assert refused.status_code == 422
    assert logged["/predict422"]["error"]["type"] == "InvalidInputError"
