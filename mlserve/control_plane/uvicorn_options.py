"""How the control plane's uvicorn runs: the fastest event loop and HTTP parser installed,
with read deadlines for request heads and bodies (:mod:`mlserve.control_plane.slow_clients`)."""

from __future__ import annotations

import importlib.util
from typing import Any

ANSWER_OPTIONS: dict[str, Any] = {"server_header": False}
"""uvicorn options for every answer: no ``server: uvicorn`` header (it tells a scanner what
runs, and costs every answer a header's bytes and uvicorn's two checks of it)."""


def fastest_loop_and_parser() -> tuple[str, type[Any]]:
    """uvicorn's ``loop`` and ``http`` options: uvloop and httptools where installed (the
    ``uvicorn[standard]`` extra brings both), else asyncio and h11; the HTTP protocol class
    drops clients that do not send their request within ``server.header_timeout_s`` /
    ``server.body_timeout_s``."""
    from mlserve.control_plane.slow_clients import GuardedH11Protocol, GuardedHttpToolsProtocol

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = GuardedHttpToolsProtocol or GuardedH11Protocol
    return loop, http
