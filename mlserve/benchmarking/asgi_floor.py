"""The ASGI floor: the control plane's server answering a fixed answer, with no work at all.

A cache hit still costs what serving any HTTP request costs: uvicorn parses the request,
the body is read, an answer is written, and on a small machine the load generator shares
the cores. :class:`FixedAnswer` is that and nothing more: every request gets the same JSON
body (a real ``/predict`` answer, so the bytes on the wire match), on the same uvicorn,
event loop and HTTP parser as ``mlserve up``. Its throughput is the most any cache served
by this stack could reach on the machine, so ``floor / cold`` bounds what ``warm / cold``
can ever be (``benchmarks/compare_serving.py``, scenario ``asgi-floor``).

    python -m mlserve.benchmarking.asgi_floor --port 9000 --answer-file answer.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from starlette.types import Message, Receive, Scope, Send


class FixedAnswer:
    """Answers every HTTP request with ``answer`` (JSON) after reading its body."""

    def __init__(self, answer: bytes) -> None:
        self._start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(answer)),
            ],
        }
        self._body: Message = {"type": "http.response.body", "body": answer}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to start
        message = await receive()
        while message.get("more_body", False):
            message = await receive()
        await send(self._start)
        await send(self._body)


def main(argv: list[str] | None = None) -> None:
    """Serve :class:`FixedAnswer` on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer-file", type=Path, required=True, help="the JSON to answer")
    args = parser.parse_args(argv)
    import uvicorn

    from mlserve.control_plane.uvicorn_options import fastest_loop_and_parser

    loop, http = fastest_loop_and_parser()
    uvicorn.run(
        FixedAnswer(args.answer_file.read_bytes()),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop=loop,
        http=http,
    )


if __name__ == "__main__":
    main()
