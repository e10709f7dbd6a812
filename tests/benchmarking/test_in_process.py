"""The in-process driver against the real app and Triton (benchmarks/request_cost.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from fastapi import FastAPI

from mlserve.benchmarking.in_process import (
    UnexpectedAnswerError,
    callgrind_instructions,
    drive,
    post,
)
from mlserve.control_plane.app import create_app
from tests.conftest import stack_settings
from tests.support.triton_server import TritonServer


@pytest.fixture
def app(triton_server: TritonServer) -> FastAPI:
    return create_app(stack_settings(triton_server, Path(tempfile.mkdtemp())))


async def test_drive_sends_every_body_and_reads_this_processs_cpu(app: FastAPI) -> None:
    texts = [f"in-process review {i}: the battery is great" for i in range(40)]

    async with app.router.lifespan_context(app):
        cost = await drive(
            app, "/predict", [orjson.dumps({"text": t}) for t in texts], concurrency=4
        )
        status, content = await post(app, "/predict", orjson.dumps({"text": texts[0]}))

    assert cost.requests == 40
    assert cost.cpu_us_per_request > 0
    assert status == 200
    assert orjson.loads(content)["cached"] is True  # the drive reached the real cache


async def test_an_answer_other_than_200_stops_the_drive_naming_it(app: FastAPI) -> None:
    async with app.router.lifespan_context(app):
        with pytest.raises(UnexpectedAnswerError, match="/predict answered 422"):
            await drive(app, "/predict", [b'{"text": ""}'], concurrency=1)


def test_outside_callgrind_nothing_is_counted() -> None:
    with callgrind_instructions() as counted:
        sum(range(1000))

    assert counted.instructions is None
