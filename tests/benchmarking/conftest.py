"""Servers for the benchmark tests.

``predict_server`` is a small real HTTP server (uvicorn, own thread) speaking the control
plane's predict contract: it lets the load generator's counting be checked exactly
(successes, error kinds by status, the ``cached`` field, batch requests) without a model.
Its bodies are checked as strictly as the real ones (unknown fields: 422), so the load
generator cannot drift from the contract. Model names steer it: ``missing`` answers 404,
``flaky`` fails every third text with 503.

``triton_textlen`` is a real tritonserver serving a small Python-backend text model, for the
Triton targets and the server-side breakdown.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.redis_server import free_port

TRITON_MODEL = Path(__file__).parent / "triton_model"


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@dataclass
class PredictServer:
    url: str
    seen: set[str] = field(default_factory=set)
    requests: int = 0
    texts: int = 0

    def answer(self, text: str, model: str | None) -> tuple[int, dict[str, object]]:
        self.texts += 1
        if model == "flaky" and self.texts % 3 == 0:
            return 503, {"error": "Triton is not ready; retry later"}
        cached = text in self.seen
        self.seen.add(text)
        return 200, {"label": "positive", "confidence": 0.9, "cached": cached}


PREDICT_FIELDS = {"text", "model", "version", "timeout_ms"}
BATCH_FIELDS = {"texts", "model", "version", "timeout_ms"}


def _unknown_fields(body: dict[str, object], allowed: set[str]) -> JSONResponse | None:
    """422 for fields the real control plane forbids (its request models are strict)."""
    extra = sorted(set(body) - allowed)
    if extra:
        return JSONResponse({"error": f"unknown fields {extra}"}, 422)
    return None


def _app(server: PredictServer) -> Starlette:
    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        server.requests += 1
        if refused := _unknown_fields(body, PREDICT_FIELDS):
            return refused
        model = body.get("model")
        if model == "missing":
            return JSONResponse({"error": "Unknown model 'missing'; models: sentiment"}, 404)
        await asyncio.sleep(0.002)
        status, answer = server.answer(body["text"], model)
        return JSONResponse({**answer, "model": "sentiment", "version": 1}, status)

    async def batch_predict(request: Request) -> JSONResponse:
        body = await request.json()
        server.requests += 1
        if refused := _unknown_fields(body, BATCH_FIELDS):
            return refused
        await asyncio.sleep(0.002)
        answers = [server.answer(text, body.get("model"))[1] for text in body["texts"]]
        return JSONResponse({"model": "sentiment", "version": 1, "predictions": answers})

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/batch-predict", batch_predict, methods=["POST"]),
        ]
    )


@pytest.fixture
def predict_server() -> Iterator[PredictServer]:
    port = free_port()
    server = PredictServer(url=f"http://127.0.0.1:{port}")
    uv = uvicorn.Server(
        uvicorn.Config(_app(server), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the predict test server did not start")
        time.sleep(0.01)
    try:
        yield server
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@dataclass
class TritonUnderTest:
    http_url: str
    grpc_url: str
    model: str = "textlen"


@pytest.fixture(scope="module")
def triton_textlen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonUnderTest]:
    """A real tritonserver (mlserve's launcher) serving ``textlen``: a Python-backend text
    model taking ``text`` BYTES [n, 1] and returning ``probabilities`` FP32 [n, 3]."""
    from mlserve.triton.launcher import EmbeddedTriton

    root = tmp_path_factory.mktemp("triton")
    version_dir = root / "repository" / "textlen" / "1"
    version_dir.mkdir(parents=True)
    (version_dir.parent / "config.pbtxt").write_text((TRITON_MODEL / "config.pbtxt").read_text())
    (version_dir / "model.py").write_text((TRITON_MODEL / "model.py").read_text())
    triton = EmbeddedTriton(
        root / "repository",
        workdir=root / "work",
        http_port=free_port(),
        grpc_port=free_port(),
        metrics_port=free_port(),
        startup_timeout_s=120,
    )
    try:
        triton.start(["textlen"])
        yield TritonUnderTest(http_url=triton.http_url, grpc_url=triton.grpc_url)
    finally:
        triton.stop()
