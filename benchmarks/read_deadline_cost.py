"""What the read deadlines (:mod:`mlserve.control_plane.slow_clients`) cost per request.

Serves the ASGI floor (:class:`mlserve.benchmarking.asgi_floor.FixedAnswer`: a real
``/predict`` answer, no work) with uvicorn in a subprocess, once with uvicorn's plain
httptools protocol and once with the guarded one, alternating over rounds, and loads it
with :class:`mlserve.http1.Http1Client` at a fixed concurrency. Reports the *server*
process's CPU µs per request (from ``/proc/<pid>/stat``) and its requests/s. The floor is
where a per-request protocol cost weighs the most; a cold ``/predict`` costs ~10x more.

    .venv/bin/python benchmarks/read_deadline_cost.py [--requests 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from mlserve.http1 import Http1Client

RESULTS = Path(__file__).parent / "results" / "read_deadline_cost.json"
ANSWER = b'{"label":"positive","confidence":0.97,"model":"sentiment","version":1,"cached":false}'
SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from mlserve.benchmarking.asgi_floor import FixedAnswer
    from mlserve.control_plane.slow_clients import GuardedHttpToolsProtocol, with_deadlines
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    port, variant, answer = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
    protocol = (
        with_deadlines(GuardedHttpToolsProtocol, header_timeout_s=10, body_timeout_s=120)
        if variant == "guarded" else HttpToolsProtocol
    )
    uvicorn.run(FixedAnswer(answer), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, lifespan="off", loop="uvloop", http=protocol)
    """
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, requests: int, concurrency: int) -> None:
    client = Http1Client(url)
    body = b'{"text": "great product"}'
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            response = await client.post("/predict", body)
            assert response.status == 200

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await client.aclose()


def measure(variant: str, requests: int, concurrency: int, answer_file: str) -> dict[str, float]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), variant, answer_file],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(load(url, 200, 4))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        cpu, wall = cpu_seconds(server.pid), time.perf_counter()
        asyncio.run(load(url, requests, concurrency))
        cpu, wall = cpu_seconds(server.pid) - cpu, time.perf_counter() - wall
    finally:
        server.terminate()
        server.wait(10)
    return {"server_cpu_us_per_request": cpu / requests * 1e6, "requests_per_s": requests / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".json") as answer:
        answer.write(ANSWER)
        answer.flush()
        rounds = [
            {
                v: measure(v, args.requests, args.concurrency, answer.name)
                for v in ("plain", "guarded")
            }
            for _ in range(args.rounds)
        ]
    summary: dict[str, dict[str, float]] = {
        variant: {
            key: round(statistics.median(r[variant][key] for r in rounds), 1)
            for key in ("server_cpu_us_per_request", "requests_per_s")
        }
        for variant in ("plain", "guarded")
    }
    paired = [
        r["guarded"]["server_cpu_us_per_request"] - r["plain"]["server_cpu_us_per_request"]
        for r in rounds
    ]
    summary["guarded_minus_plain_us"] = {"median": round(statistics.median(paired), 1)}
    print(f"{'protocol':<10}{'server CPU µs/req':>20}{'req/s':>10}")
    for variant in ("plain", "guarded"):
        row = summary[variant]
        print(f"{variant:<10}{row['server_cpu_us_per_request']:>20}{row['requests_per_s']:>10}")
    print(f"median paired difference (guarded - plain): {statistics.median(paired):+.1f} µs/req")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"args": vars(args), "rounds": rounds, "summary": summary}, indent=2)
    )


if __name__ == "__main__":
    main()
