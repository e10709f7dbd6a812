"""One write per response (mlserve/control_plane/response_writes.py): the head of a
response with a body leaves with it; everything else is written as uvicorn writes it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from mlserve.control_plane.response_writes import HeadWithBody
from tests.conftest import Stack

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


@dataclass
class Transport:
    writes: list[bytes] = field(default_factory=list)
    closed: bool = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else None


@dataclass
class Cycle:
    """The attributes of uvicorn's RequestResponseCycle that HeadWithBody reads."""

    method: str = "POST"
    response_started: bool = False
    response_complete: bool = False
    expected_content_length: int = 0
    chunked_encoding: bool | None = None
    scope: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.scope = {"method": self.method}

    def start(self, content_length: int | None) -> None:
        """As uvicorn's send does for ``http.response.start`` before writing the head."""
        self.response_started = True
        if content_length is None:
            self.chunked_encoding = True
        else:
            self.expected_content_length = content_length


def test_a_head_leaves_with_the_body_in_one_write() -> None:
    transport, cycle = Transport(), Cycle()
    writes = HeadWithBody(cycle, transport)  # type: ignore[arg-type]
    cycle.start(content_length=2)
    writes.write(HEAD)
    assert transport.writes == []
    writes.write(b"{}")
    assert transport.writes == [HEAD + b"{}"]
    writes.write(b"later")  # anything after goes straight through
    assert transport.writes[-1] == b"later"


def test_heads_without_a_body_to_follow_are_written_at_once() -> None:
    for cycle, length in ((Cycle(method="HEAD"), 2), (Cycle(), 0), (Cycle(), None)):
        transport = Transport()
        writes = HeadWithBody(cycle, transport)  # type: ignore[arg-type]
        cycle.start(content_length=length)
        writes.write(HEAD)
        assert transport.writes == [HEAD], (cycle, length)


def test_a_100_continue_is_not_held_and_a_close_sends_a_held_head_first() -> None:
    transport, cycle = Transport(), Cycle()
    writes = HeadWithBody(cycle, transport)  # type: ignore[arg-type]
    writes.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response starts
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle.start(content_length=2)
    writes.write(HEAD)
    writes.close()  # the app failed after its head: the head still goes out, then the close
    assert transport.writes[-1] == HEAD
    assert transport.closed
    assert writes.get_extra_info("peername") == ("127.0.0.1", 1234)


async def exchange(stack: Stack, request: bytes, then: bytes = b"") -> bytes:
    """``request`` on a raw connection to the running control plane; with ``then``, wait
    for the server's ``100 Continue`` first, then send ``then``. The whole answer."""
    url = urlsplit(stack.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(request)
        if then:
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
            writer.write(then)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        is_head = request.startswith(b"HEAD ")
        body = b"" if is_head else await asyncio.wait_for(reader.readexactly(length), 5)
        return head + body
    finally:
        writer.close()


async def test_a_client_that_expects_100_continue_gets_it_then_its_answer(stack: Stack) -> None:
    body = orjson.dumps({"text": "great product, works well"})
    request = (
        b"POST /predict HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body)
    )
    answer = await exchange(stack, request, then=body)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["label"]


async def test_head_requests_get_their_head_and_predict_answers_one_piece(stack: Stack) -> None:
    # FastAPI answers HEAD on a GET route 405 with a content-length and, for HEAD, no body:
    # the head must still leave (not wait for a body that never comes)
    answer = await exchange(stack, b"HEAD /v2/health/live HTTP/1.1\r\nhost: test\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405")
    assert answer.endswith(b"\r\n\r\n")
    body = orjson.dumps({"text": "terrible, broke in a day"})
    request = (
        b"POST /predict HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % len(body)
    )
    answer = await exchange(stack, request + body)
    head, payload = answer.split(b"\r\n\r\n", 1)
    assert b"server:" not in head.lower()  # no `server: uvicorn` (ANSWER_OPTIONS)
    assert orjson.loads(payload)["label"]
