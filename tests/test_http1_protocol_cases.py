"""Each HTTP/1.1 case the hand-written client once got wrong (issue 19), against a real
socket server: answers without a length, bad lengths and chunk sizes, chunk terminators,
IPv6 hosts, back-pressure, the idle pool's bounds, and no re-send once the head arrived."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mlserve.http1 import Http1Client, HttpProtocolError
from tests.test_http1 import Handler, raw_server, read_request


def answering(*responses: bytes, close: bool = False) -> Handler:
    """A handler answering each request on a connection with the next raw response."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(response)
            await writer.drain()
        if not close:
            await reader.read()

    return handler


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
async def test_204_and_304_without_a_length_do_not_wait_for_eof(status: bytes) -> None:
    handler = answering(
        b"HTTP/1.1 " + status + b"\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    )
    async with raw_server(handler) as (url, connections):
        client = Http1Client(url, timeout_s=2)
        first = await client.post("/x", b"{}")
        second = await client.post("/x", b"{}")
        await client.aclose()
    assert (first.status, first.body) == (int(status[:3]), b"")
    assert (second.status, second.body) == (200, b"ok")
    assert len(connections) == 1, "the connection stays usable after a bodiless answer"


async def test_interim_1xx_answers_are_skipped() -> None:
    handler = answering(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone"
    )
    async with raw_server(handler) as (url, _):
        client = Http1Client(url, timeout_s=2)
        response = await client.post("/x", b"{}")
        await client.aclose()
    assert (response.status, response.body) == (200, b"done")


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"content-length: \xd9\xa3\r\n", "content-length is not a number"),
        (b"content-length: \xc2\xb2\r\n", "content-length is not a number"),
        (b"content-length: -1\r\n", "content-length is not a number"),
        (b"content-length: 99999999999\r\n", "exceeds"),
    ],
    ids=["arabic-indic-digit", "superscript-two", "negative", "too-large"],
)
async def test_bad_content_lengths_are_protocol_errors(head: bytes, message: str) -> None:
    handler = answering(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n")
    async with raw_server(handler) as (url, _):
        client = Http1Client(url, timeout_s=2, max_body_bytes=1 << 20)
        with pytest.raises(HttpProtocolError, match=message):
            await client.post("/x", b"{}")
        await client.aclose()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"-5\r\nabcde\r\n0\r\n\r\n", "not a chunk size"),
        (b"+5\r\nabcde\r\n0\r\n\r\n", "not a chunk size"),
        (b"0x5\r\nabcde\r\n0\r\n\r\n", "not a chunk size"),
        (b"\r\n", "not a chunk size"),
        (b"5\r\nabcdeXY0\r\n\r\n", "does not end with CRLF"),
        (b"fffffffff\r\n", "exceeds"),
    ],
    ids=["negative", "plus-sign", "0x-prefix", "empty", "bad-terminator", "too-large"],
)
async def test_bad_chunks_are_protocol_errors(body: bytes, message: str) -> None:
    handler = answering(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body)
    async with raw_server(handler) as (url, _):
        client = Http1Client(url, timeout_s=2, max_body_bytes=1 << 20)
        with pytest.raises(HttpProtocolError, match=message):
            await client.post("/x", b"{}")
        await client.aclose()


async def test_an_ipv6_host_is_bracketed_in_the_host_header() -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()

    server = await asyncio.start_server(handler, "::1", 0, family=socket.AF_INET6)
    port = server.sockets[0].getsockname()[1]
    try:
        client = Http1Client(f"http://[::1]:{port}", timeout_s=2)
        assert (await client.post("/x", b"{}")).body == b"ok"
        await client.aclose()
    finally:
        server.close()
        await server.wait_closed()
    assert f"host: [::1]:{port}\r\n".encode() in heads[0]


async def test_a_large_request_to_a_stalled_server_waits_in_drain() -> None:
    """Back-pressure: past the transport's high-water mark the client awaits ``drain()``
    (and a dead peer surfaces there) instead of piling up writes."""
    release = asyncio.Event()

    async def stalled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()
        while await reader.read(1 << 20):
            if reader.at_eof():
                break
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    async with raw_server(stalled) as (url, _):
        client = Http1Client(url, timeout_s=20)
        task = asyncio.ensure_future(client.post("/x", b"x" * (64 * 1024 * 1024)))
        await asyncio.sleep(0.3)
        waiting_in = awaiting(task)
        assert "drain" in waiting_in, waiting_in
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()


def awaiting(task: asyncio.Future[object]) -> set[str]:
    """Names of the coroutines ``task`` is suspended in, outermost to innermost."""
    names: set[str] = set()
    step: object = task.get_coro()  # type: ignore[attr-defined]
    while step is not None and hasattr(step, "cr_code"):
        names.add(step.cr_code.co_name)
        step = step.cr_await
    return names


async def test_the_idle_pool_is_bounded_and_expires() -> None:
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
        client = Http1Client(url, max_idle=3, idle_timeout_s=0.2)
        await asyncio.gather(*(client.post("/x", b"{}") for _ in range(8)))
        assert len(client._idle) == 3, "idle connections beyond max_idle are closed"
        await asyncio.sleep(0.3)
        await client.post("/x", b"{}")
        assert len(connections) == 9, "expired idle connections are not reused"
        assert len(client._idle) == 1
        await client.aclose()


async def test_no_resend_once_the_response_head_arrived() -> None:
    requests: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            requests.append(1)
            if len(requests) == 1:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
                continue
            # head of the answer, then the connection dies before the body
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
            await writer.drain()
            return

    async with raw_server(handler) as (url, connections):
        client = Http1Client(url, timeout_s=2)
        assert (await client.post("/x", b"{}")).body == b"ok"
        with pytest.raises(asyncio.IncompleteReadError):
            await client.post("/x", b"{}")
        await client.aclose()
    assert len(requests) == 2, "the POST was not sent a third time"
    assert len(connections) == 1
