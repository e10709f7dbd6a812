"""CPU per request of the request log wrapper alone (JSON line to a file), in-process.

Drives a trivial ASGI app answering ``{}`` bare and wrapped in
:class:`~mlserve.control_plane.request_log.RequestLog` and prints the CPU µs per request
of each; the difference is what the log line costs every request (the end-to-end figure
is ``benchmarks/request_cost.py`` with ``MLSERVE_LOGGING__REQUESTS=false`` vs ``true``).

    .venv/bin/python benchmarks/request_log_cost.py [--requests 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

from mlserve.control_plane.request_log import RequestLog
from mlserve.settings import LoggingSettings

SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/predict",
    "headers": [(b"content-type", b"application/json")],
}


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}"}


async def send(message: Any) -> None:
    return None


async def cpu_us(app: Any, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await app(SCOPE, receive, send)
    return (time.process_time() - started) / requests * 1e6


async def main(requests: int) -> None:
    with tempfile.TemporaryFile("w") as sink:
        bare = await cpu_us(answer, requests)
        as_json = LoggingSettings(format="json")
        logged = await cpu_us(RequestLog(answer, as_json, stream=sink), requests)
        as_text = LoggingSettings(format="text")
        text = await cpu_us(RequestLog(answer, as_text, stream=sink), requests)
    print(f"bare app: {bare:.2f} µs CPU per request")
    print(f"json log: {logged:.2f} µs (+{logged - bare:.2f})")
    print(f"text log: {text:.2f} µs (+{text - bare:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().requests))
