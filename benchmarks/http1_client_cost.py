"""Why ``mlserve.http1`` is kept: client CPU per call against maintained HTTP/1.1 clients.

The control plane sends each Triton inference call over HTTP/1.1 keep-alive. This script
measures, for the same small binary POST and response (the size of a coalesced sentiment
call), the *client* process's CPU time per call and its throughput for:

* ``mlserve.http1``: :class:`mlserve.http1.Http1Client`;
* ``httpcore``: ``httpcore.AsyncConnectionPool`` (h11 underneath), the maintained
  low-level client;
* ``httpx``: ``httpx.AsyncClient`` (httpcore + its request/response models).

The server is a raw asyncio HTTP/1.1 responder in a *separate process*, so its CPU is not
counted. The client process's CPU per call (``time.process_time``) is the figure that
matters: on a machine whose cores are shared by the control plane, Triton and the load,
every extra microsecond of client CPU per call is throughput lost on the predict path.
With ``--per-request-us`` (the control plane's total CPU per cold ``/predict``, all
processes; docs/performance.md: ~180 µs) and ``--texts-per-call`` (coalesced call size at
concurrency 16: ~16), it prints the share of a cold request each client would cost.

    .venv/bin/python benchmarks/http1_client_cost.py [--calls 20000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REQUEST_BODY = b"\x00" * 1200
RESPONSE_BODY = b'{"model_name":"sentiment","outputs":[]}' + b"\x00" * 600
RESULTS = Path(__file__).parent / "results" / "http1_client_cost.json"


def serve(port: int, ready: object) -> None:
    """A minimal keep-alive HTTP/1.1 server answering every POST with RESPONSE_BODY."""
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: %d\r\n\r\n"
    )
    answer = head % len(RESPONSE_BODY) + RESPONSE_BODY

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in request_head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(on_connect, "127.0.0.1", port)
        ready.set()  # type: ignore[attr-defined]
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def measure(
    name: str, post: Callable[[], Awaitable[bytes]], calls: int, concurrency: int
) -> dict[str, float]:
    for _ in range(200):
        assert await post() == RESPONSE_BODY
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await post()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us_per_call": cpu / calls * 1e6, "calls_per_s": calls / wall}


async def run_round(url: str, calls: int, concurrency: int) -> dict[str, dict[str, float]]:
    import httpcore
    import httpx

    from mlserve.http1 import Http1Client

    ours = Http1Client(url, content_type="application/octet-stream")
    pool = httpcore.AsyncConnectionPool(max_connections=concurrency)
    client = httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=concurrency))
    headers = [(b"content-type", b"application/octet-stream")]

    async def with_ours() -> bytes:
        return (await ours.post("/v2/models/m/infer", REQUEST_BODY)).body

    async def with_httpcore() -> bytes:
        response = await pool.request(
            "POST", f"{url}/v2/models/m/infer", headers=headers, content=REQUEST_BODY
        )
        return response.content

    async def with_httpx() -> bytes:
        return (await client.post("/v2/models/m/infer", content=REQUEST_BODY)).content

    results = {}
    for name, post in (
        ("mlserve.http1", with_ours),
        ("httpcore", with_httpcore),
        ("httpx", with_httpx),
    ):
        results[name] = await measure(name, post, calls, concurrency)
    await ours.aclose()
    await pool.aclose()
    await client.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-request-us", type=float, default=180.0)
    parser.add_argument("--texts-per-call", type=float, default=16.0)
    args = parser.parse_args()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    try:
        import uvloop

        rounds = [
            uvloop.run(run_round(f"http://127.0.0.1:{port}", args.calls, args.concurrency))
            for _ in range(args.rounds)
        ]
    finally:
        server.terminate()
    summary = {}
    for name in rounds[0]:
        cpu = statistics.median(r[name]["cpu_us_per_call"] for r in rounds)
        rate = statistics.median(r[name]["calls_per_s"] for r in rounds)
        summary[name] = {"cpu_us_per_call": round(cpu, 1), "calls_per_s": round(rate)}
    base = summary["mlserve.http1"]["cpu_us_per_call"]
    print(f"{'client':<15}{'CPU µs/call':>13}{'calls/s':>10}{'+µs/call':>10}{'+% cold req':>13}")
    for name, row in summary.items():
        extra = row["cpu_us_per_call"] - base
        share = extra / args.texts_per_call / args.per_request_us * 100
        row["extra_share_of_cold_request_pct"] = round(share, 1)
        print(
            f"{name:<15}{row['cpu_us_per_call']:>13.1f}{row['calls_per_s']:>10}"
            f"{extra:>10.1f}{share:>12.1f}%"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"args": vars(args), "rounds": rounds, "summary": summary}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
