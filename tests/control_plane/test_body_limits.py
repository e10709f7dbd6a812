"""Every JSON route bounds its body before reading it all and its nesting before parsing.

Against the real control plane (``stack``): a 2 KB body nested 1,000 deep (which raised
``RecursionError`` -> 500 on ``/api/v1/register``, no auth needed) and 60 MB bodies, with and
without ``Content-Length`` (which raised RSS by ~514 MB before a 422 on ``/api/v1/feedback``).
The server runs in this process, so its peak RSS is this process's ``VmHWM``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.support.raw_http import send_streamed

DEEP = b"[" * 1000 + b"]" * 1000
SIXTY_MB = 60 * 1000 * 1000
ITEM = b'{"prediction_id": "p", "true_value": 1}, '
"""1.5 million of these make a valid 60 MB feedback document (F9's case: parsed in full)."""
MAX_RSS_GROWTH = 100 * 2**20
"""Far below the 60 MB body and the ~514 MB that parsing it cost."""


@pytest.fixture(scope="module")
def token(stack: Stack) -> str:
    answer = httpx.post(
        f"{stack.base_url}/api/v1/token",
        data={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
    )
    assert answer.status_code == 200, answer.text
    access_token: str = answer.json()["access_token"]
    return access_token


@pytest.fixture
def client(stack: Stack, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        yield http


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> int:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS, which is returned."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


@pytest.mark.parametrize(
    ("path", "needs_token"),
    [
        ("/api/v1/register", False),
        ("/api/v1/feedback", True),
        ("/api/v1/webhook", True),
        ("/api/v1/abtest/sentiment", True),
        ("/api/v1/team/1/role", True),
        ("/api/v1/predict/sentiment", True),
    ],
)
def test_deeply_nested_json_is_a_422_naming_the_limit(
    client: httpx.Client, token: str, path: str, needs_token: bool
) -> None:
    headers = {"content-type": "application/json"}
    if needs_token:
        headers["authorization"] = f"Bearer {token}"
    method = "PUT" if path.endswith("/role") else "POST"
    answer = client.request(method, path, content=DEEP, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "1000 levels deep; the limit is 64 levels" in answer.json()["error"]


def test_json_nested_within_the_limit_still_gets_field_errors(client: httpx.Client) -> None:
    answer = client.post("/api/v1/register", json={"full_name": [[[["Ada"]]]]})
    assert answer.status_code == 422
    assert "full_name: Input should be a valid string" in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "needs_token", "limit"),
    [
        ("/api/v1/feedback", True, "16 MiB"),
        ("/api/v1/predict/sentiment", True, "16 MiB"),
        ("/api/v1/register", False, "64 KiB"),
        ("/api/v1/webhook", True, "1 MiB"),
    ],
)
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_sixty_megabyte_bodies_are_refused_before_they_are_read(
    stack: Stack, token: str, path: str, needs_token: bool, limit: str, declare_length: bool
) -> None:
    headers = {"Content-Type": "application/json"}
    if needs_token:
        headers["Authorization"] = f"Bearer {token}"
    gc.collect()
    before = _reset_peak_rss()
    answer = send_streamed(
        stack.base_url,
        "POST",
        path,
        prefix=b'{"feedback": [',
        filler=ITEM,
        suffix=b'{"prediction_id": "p", "true_value": 1}]}',
        total_bytes=SIXTY_MB,
        headers=headers,
        declare_length=declare_length,
    )
    grown = _status_bytes("VmHWM") - before
    assert answer.status, answer
    assert answer.status == 413, answer.body[:300]
    assert f"request body is over {limit}, the limit for POST {path}" in answer.body.decode()
    assert grown < MAX_RSS_GROWTH, f"peak RSS grew {grown / 2**20:.0f} MiB"
    if declare_length:
        assert answer.bytes_sent < SIXTY_MB  # refused on Content-Length, not read to the end
