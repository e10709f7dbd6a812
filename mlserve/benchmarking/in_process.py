"""The control plane's own cost per request, without sockets: ASGI calls in this process.

Over HTTP, every path's figures mix the server (uvicorn), the load generator and Triton,
all sharing the machine's cores. :func:`drive` sends ``POST`` bodies straight into the app
(``concurrency`` tasks on this event loop, the app's real Triton behind it) and reads this
process's CPU time, so what it reports is the control plane's handler and what it awaits
on the loop: its coalesced Triton calls, metrics, cache, background monitoring. Under
``valgrind --tool=callgrind --instr-atstart=no``, :func:`callgrind_instructions` counts
only the measured requests: user-space instructions per request, steady whatever the
speed of a shared VM (``benchmarks/request_cost.py``).

    async with app.router.lifespan_context(app):
        cost = await drive(app, "/predict", bodies, concurrency=16)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message

_SCOPE_BASE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"content-type", b"application/json")],
    "server": ("127.0.0.1", 80),
    "client": ("127.0.0.1", 50000),
}


@dataclass(frozen=True)
class Cost:
    """What ``requests`` requests cost this process."""

    requests: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6

    @property
    def wall_us_per_request(self) -> float:
        return self.wall_s / self.requests * 1e6


class UnexpectedAnswerError(Exception):
    """The app answered a request with a status other than 200."""


async def post(app: ASGIApp, path: str, body: bytes) -> tuple[int, bytes]:
    """One ``POST path`` with ``body`` through ``app``: its status and body."""
    messages: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:  # the app asks again only to wait for a disconnect
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app({**_SCOPE_BASE, "path": path}, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, content


async def drive(app: ASGIApp, path: str, bodies: Sequence[bytes], *, concurrency: int) -> Cost:
    """Send every body once, ``concurrency`` at a time; raises UnexpectedAnswerError on the
    first answer that is not a 200 (a cost of failures would mislead)."""
    pending = iter(bodies)

    async def worker() -> None:
        for body in pending:
            status, content = await post(app, path, body)
            if status != 200:
                raise UnexpectedAnswerError(f"{path} answered {status}: {content[:200]!r}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Cost(len(bodies), time.process_time() - cpu, time.perf_counter() - wall)


class InstructionCount:
    """User-space instructions counted by callgrind in a block (None: not under callgrind)."""

    def __init__(self) -> None:
        self.instructions: int | None = None


@contextlib.contextmanager
def callgrind_instructions() -> Iterator[InstructionCount]:
    """Count instructions only inside the block when this process runs under ``valgrind
    --tool=callgrind --instr-atstart=no`` (callgrind_control on its own pid: instrument on,
    zero, read the totals of every thread, off). Outside callgrind it counts nothing."""
    count = InstructionCount()
    tool = shutil.which("callgrind_control")
    pid = str(os.getpid())
    under_valgrind = "vgpreload" in os.environ.get("LD_PRELOAD", "")
    if tool is None or not under_valgrind or not _control(tool, "-i", "on", pid):
        yield count
        return
    try:
        _control(tool, "-z", pid)
        yield count
        totals = subprocess.run([tool, "-e", pid], capture_output=True, text=True).stdout
        per_thread = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", totals, flags=re.MULTILINE)
        count.instructions = sum(int(n.replace(",", "")) for n in per_thread) or None
    finally:
        _control(tool, "-i", "off", pid)


def _control(tool: str, *args: str) -> bool:
    """Run ``callgrind_control``; whether it found this process under callgrind."""
    answer = subprocess.run([tool, *args], capture_output=True, text=True)
    return answer.returncode == 0 and "not detected" not in answer.stdout + answer.stderr
