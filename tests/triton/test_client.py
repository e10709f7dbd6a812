"""TritonClient's two inference transports against a real tritonserver: same answers, and
Triton's failures as MLServeErrors with the status a client should see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from mlserve.errors import DeadlineExceededError, ServiceUnavailableError, TritonError
from mlserve.triton.client import TritonClient
from tests.support.redis_server import free_port
from tests.support.triton_server import TritonServer

TEXTS = np.array([["I love it, brilliant"], ["awful, broken on arrival"]], dtype=object)


@pytest.fixture(params=["http", "grpc"])
async def client(
    request: pytest.FixtureRequest, triton_server: TritonServer
) -> AsyncIterator[TritonClient]:
    http_url = triton_server.http_url if request.param == "http" else None
    triton = TritonClient(triton_server.grpc_url, http_url=http_url, timeout_s=30)
    try:
        yield triton
    finally:
        await triton.close()


async def test_both_transports_give_the_same_probabilities(triton_server: TritonServer) -> None:
    over_http = TritonClient(triton_server.grpc_url, http_url=triton_server.http_url)
    over_grpc = TritonClient(triton_server.grpc_url)
    try:
        args = ("sentiment", 1, {"text": TEXTS}, ["probabilities"])
        http_answer = await over_http.infer(*args, queue_timeout_us=2_000_000)
        grpc_answer = await over_grpc.infer(*args, queue_timeout_us=2_000_000)
    finally:
        await over_http.close()
        await over_grpc.close()

    assert http_answer["probabilities"].shape == (2, 3)
    assert http_answer["probabilities"].dtype == np.float32
    np.testing.assert_array_equal(http_answer["probabilities"], grpc_answer["probabilities"])


async def test_an_unknown_model_is_503_not_loaded_yet(client: TritonClient) -> None:
    with pytest.raises(ServiceUnavailableError, match="not loaded in Triton yet"):
        await client.infer("no-such-model", None, {"text": TEXTS}, ["probabilities"])


async def test_a_wrong_input_is_a_triton_error(client: TritonClient) -> None:
    with pytest.raises(TritonError, match="Triton failed on model 'sentiment' version 1"):
        await client.infer("sentiment", 1, {"not_text": TEXTS}, ["probabilities"])


async def test_no_answer_before_the_client_deadline_is_a_504_of_stage_inference(
    client: TritonClient,
) -> None:
    # Work Triton cannot finish within the deadline: with a tiny one and a small request,
    # gRPC's millisecond timers sometimes let the answer arrive first.
    slow = np.array([["great value, works as described " * 200]] * 32, dtype=object)
    with pytest.raises(DeadlineExceededError) as exceeded:
        await client.infer("sentiment", 1, {"text": slow}, ["probabilities"], timeout_s=0.002)
    assert exceeded.value.stage == "inference"
    assert "raise timeout_ms or retry" in exceeded.value.message


async def test_triton_not_listening_is_a_503(triton_server: TritonServer) -> None:
    port = free_port()
    triton = TritonClient(f"127.0.0.1:{port}", http_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ServiceUnavailableError, match="Triton is unavailable"):
            await triton.infer("sentiment", 1, {"text": TEXTS}, ["probabilities"])
    finally:
        await triton.close()


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops", "oops"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "could not be read"),
    ],
    ids=["error without a JSON body", "not HTTP"],
)
async def test_an_http_answer_that_is_not_tritons_is_a_triton_error(
    answer: bytes, fragment: str
) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    triton = TritonClient(f"127.0.0.1:{free_port()}", http_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(TritonError, match=fragment):
            await triton.infer("sentiment", 1, {"text": TEXTS}, ["probabilities"])
    finally:
        await triton.close()
        server.close()
        await server.wait_closed()


async def test_a_reason_to_hold_back_answers_503_without_sending(
    triton_server: TritonServer,
) -> None:
    reason: list[str | None] = ["the embedded Triton exited (code -9) and is restarting"]
    triton = TritonClient(
        triton_server.grpc_url, http_url=triton_server.http_url, unavailable=lambda: reason[0]
    )
    try:
        before = await requests_seen(triton)
        with pytest.raises(ServiceUnavailableError, match=r"is restarting.*retry shortly"):
            await triton.infer("sentiment", 1, {"text": TEXTS}, ["probabilities"])
        assert await requests_seen(triton) == before
        reason[0] = None
        answer = await triton.infer("sentiment", 1, {"text": TEXTS}, ["probabilities"])
        # >=: the session's Triton is shared, another client's request may land meanwhile.
        assert await requests_seen(triton) >= before + 1
    finally:
        await triton.close()
    assert answer["probabilities"].shape == (2, 3)


async def requests_seen(triton: TritonClient) -> int:
    """Inference requests Triton counted for sentiment v1, answered or failed, once the count
    stops moving: Triton books a request just after answering it, so a read right after an
    earlier test's last answer can miss that one."""
    seen = await _requests_counted(triton)
    for _ in range(20):
        await asyncio.sleep(0.05)
        again = await _requests_counted(triton)
        if again == seen:
            break
        seen = again
    return seen


async def _requests_counted(triton: TritonClient) -> int:
    models = (await triton.statistics("sentiment"))["model_stats"]
    [counts] = [m["inference_stats"] for m in models if m["version"] == "1"]
    return sum(int(counts[kind].get("count", 0)) for kind in ("success", "fail"))
