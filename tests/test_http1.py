"""The keep-alive HTTP/1.1 client (Triton calls, load generation) against real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
import pytest

from mlserve.http1 import Http1Client, HttpProtocolError, error_kind
from tests.support.redis_server import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server running ``handler`` per connection; yields its URL and a connection log."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


async def test_posts_with_headers_and_reuses_one_connection() -> None:
    seen: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            seen.append(head)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Echo-Length: %d"
                b"\r\ncontent-length: %d\r\n\r\n%s" % (len(body), len(body), body)
            )
            await writer.drain()

    async with raw_server(echo) as (url, connections):
        client = Http1Client(url, content_type="application/octet-stream")
        answers = [
            await client.post("/infer", orjson.dumps({"i": i}), headers={"x-part": str(i)})
            for i in range(5)
        ]
        await client.aclose()

    assert [a.status for a in answers] == [200] * 5
    assert orjson.loads(answers[3].body) == {"i": 3}
    assert answers[0].headers["x-echo-length"] == str(len(answers[0].body))
    assert answers[0].headers["content-type"] == "application/json"
    assert b"x-part: 3\r\n" in seen[3]
    assert b"content-type: application/octet-stream\r\n" in seen[0]
    assert len(connections) == 1
    assert len(client._idle) == 0  # closed by aclose


async def test_keep_alive_pool_grows_to_the_concurrency_only() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            await asyncio.sleep(0.01)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    async with raw_server(handler) as (url, connections):
        client = Http1Client(url)
        for _ in range(5):
            results = await asyncio.gather(*(client.post("/x", b"{}") for _ in range(4)))
            assert [(r.status, r.body) for r in results] == [(200, b"ok")] * 4
        await client.aclose()
    assert len(connections) == 4


async def test_chunked_bodies_and_connection_close() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n"
            b"connection: close\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n"
        )
        await writer.drain()

    async with raw_server(handler) as (url, connections):
        client = Http1Client(url)
        for _ in range(2):
            response = await client.post("/x", b"{}")
            assert (response.status, response.body) == (503, b"abcdefg")
        await client.aclose()
    assert len(connections) == 2  # connection: close is honoured


async def test_a_kept_alive_connection_the_server_closed_is_retried_once() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        # then close without saying so, like an idle keep-alive timeout

    async with raw_server(handler) as (url, connections):
        client = Http1Client(url)
        assert (await client.post("/x", b"{}")).body == b"ok"
        await asyncio.sleep(0.05)
        assert (await client.post("/x", b"{}")).body == b"ok"
        await client.aclose()
    assert len(connections) == 2


async def test_timeouts_refusals_and_garbage_are_error_kinds(closed_port: int) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()

    async with raw_server(silent) as (url, _):
        client = Http1Client(url, timeout_s=0.2)
        with pytest.raises(TimeoutError) as timed_out:
            await client.post("/x", b"{}")
        await client.aclose()
        patient = Http1Client(url, timeout_s=30)
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            await patient.post("/x", b"{}", timeout_s=0.2)  # this call's own deadline
        assert time.perf_counter() - started < 2
        await patient.aclose()
    assert error_kind(timed_out.value) == "timeout"

    refused = Http1Client(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ConnectionRefusedError) as not_listening:
        await refused.post("/x", b"{}")
    assert error_kind(not_listening.value) == "connection"

    async with raw_server(garbage) as (url, _):
        client = Http1Client(url)
        with pytest.raises(HttpProtocolError) as bad:
            await client.post("/x", b"{}")
        await client.aclose()
    assert error_kind(bad.value) == "bad_response"


async def test_a_broken_chunked_body_is_a_protocol_error() -> None:
    async def bad_chunk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n")
        await writer.drain()

    async with raw_server(bad_chunk) as (url, _):
        client = Http1Client(url)
        with pytest.raises(HttpProtocolError, match="not a chunk size"):
            await client.post("/x", b"{}")
        await client.aclose()


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError, match="only http://"):
        Http1Client("https://example.org")
