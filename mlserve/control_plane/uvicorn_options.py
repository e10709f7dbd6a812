"""How the control plane's uvicorn runs: the fastest event loop and HTTP parser installed."""

from __future__ import annotations

import importlib.util


def fastest_loop_and_parser() -> tuple[str, str]:
    """uvicorn's ``loop`` and ``http`` options: uvloop and httptools where installed (the
    ``uvicorn[standard]`` extra brings both), else asyncio and h11."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http
