"""Slow clients (slowloris) are dropped: connections that do not finish their request head
or body within the bounds get 408 and are closed, while normal requests are still served."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlserve.control_plane.slow_clients import GuardedH11Protocol, GuardedHttpToolsProtocol
from tests.conftest import stack_settings
from tests.support.control_plane import ControlPlaneServer
from tests.support.redis_server import free_port
from tests.support.triton_server import TritonServer

SLOW_HEADS, SLOW_BODIES = 30, 10


async def trickle(host: str, port: int, first: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send ``first``, then ``drip`` every 0.2 s until the server closes; (seconds, answer)."""
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(first)
    answer = b""
    try:
        while time.monotonic() - started < 30:
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.2)
            except TimeoutError:
                writer.write(drip)
                continue
            if not chunk:
                break
            answer += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, answer


async def normal_requests(base_url: str, until: asyncio.Event) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while not until.is_set():
            response = await client.post("/predict", json={"text": f"great {len(statuses)}"})
            statuses.append(response.status_code)
            await asyncio.sleep(0.02)
    return statuses


@pytest.fixture(scope="module", params=["httptools", "h11"])
def guarded_control_plane(
    request: pytest.FixtureRequest, triton_server: TritonServer
) -> Iterator[ControlPlaneServer]:
    """The control plane with 1 s / 1.5 s read deadlines, on either HTTP parser."""
    protocol = GuardedHttpToolsProtocol if request.param == "httptools" else GuardedH11Protocol
    settings = stack_settings(
        triton_server,
        Path(tempfile.mkdtemp(prefix="mlserve-slow-")),
        server={
            "host": "127.0.0.1",
            "port": free_port(),
            "header_timeout_s": 1.0,
            "body_timeout_s": 1.5,
        },
    )
    with ControlPlaneServer(settings, protocol=protocol) as server:
        yield server


async def test_slow_heads_and_bodies_are_dropped_while_others_are_served(
    guarded_control_plane: ControlPlaneServer,
) -> None:
    host, port = "127.0.0.1", guarded_control_plane.settings.server.port
    head_start = b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    body_start = head_start + b"content-length: 1000\r\n\r\n{"
    done = asyncio.Event()
    served = asyncio.ensure_future(normal_requests(guarded_control_plane.base_url, done))
    slow = await asyncio.gather(
        *(trickle(host, port, head_start, b"x-a: b\r\n") for _ in range(SLOW_HEADS)),
        *(trickle(host, port, body_start, b" ") for _ in range(SLOW_BODIES)),
        trickle(host, port, b"", b""),
    )
    done.set()
    statuses = await served
    heads, bodies, silent = slow[:SLOW_HEADS], slow[SLOW_HEADS:-1], slow[-1]
    assert all(seconds < 4.0 for seconds, _ in heads), [round(s, 1) for s, _ in heads]
    assert all(seconds < 4.5 for seconds, _ in bodies), [round(s, 1) for s, _ in bodies]
    assert silent[0] < 4.0
    assert all(answer.startswith(b"HTTP/1.1 408 ") for _, answer in heads + bodies)
    assert len(statuses) >= 20
    assert set(statuses) == {200}


async def test_a_complete_request_is_unaffected_on_a_kept_alive_connection(
    guarded_control_plane: ControlPlaneServer,
) -> None:
    async with httpx.AsyncClient(base_url=guarded_control_plane.base_url, timeout=5) as client:
        for i in range(3):
            response = await client.post("/predict", json={"text": f"fine {i}"})
            assert response.status_code == 200
            await asyncio.sleep(1.2)  # idle longer than the head deadline, within keep-alive
