"""Per-request bookkeeping after the answer (mlserve/dataplane/bookkeeping.py): queued, run
in order while the loop waits for Triton, never lost and never long."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from mlserve.dataplane.bookkeeping import Bookkeeping, RunsPending
from tests.conftest import Stack


def test_outside_an_event_loop_work_runs_at_once() -> None:
    done: list[int] = []
    Bookkeeping().defer(done.append, 1)
    assert done == [1]


async def test_work_waits_then_runs_in_order_when_asked() -> None:
    book = Bookkeeping(max_delay_s=10)
    done: list[int] = []
    for i in range(3):
        book.defer(done.append, i)
    assert (done, book.pending) == ([], 3)
    book.run_pending()
    assert (done, book.pending) == ([0, 1, 2], 0)
    book.run_pending()  # nothing left: a no-op
    assert done == [0, 1, 2]


async def test_work_runs_within_max_delay_or_once_max_pending_wait() -> None:
    book = Bookkeeping(max_pending=4, max_delay_s=0.05)
    done: list[int] = []
    book.defer(done.append, 1)
    await asyncio.sleep(0.2)  # nobody asked: the timer ran it
    assert done == [1]
    for i in range(4):
        book.defer(done.append, 10 + i)
    assert done == [1, 10, 11, 12, 13]  # the fourth made the queue full: all ran at once


async def test_a_failing_entry_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = Bookkeeping(max_delay_s=10)
    done: list[str] = []

    def broken() -> None:
        raise ValueError("monitoring bug")

    book.defer(done.append, "before")
    book.defer(broken)
    book.defer(done.append, "after")
    with caplog.at_level(logging.ERROR, logger="mlserve.dataplane.bookkeeping"):
        book.run_pending()
    assert done == ["before", "after"]
    assert book.failed == 1
    assert "request bookkeeping failed" in caplog.text


async def test_a_metrics_collection_runs_what_is_pending_first() -> None:
    registry = CollectorRegistry()
    book = Bookkeeping(max_delay_s=10)
    registry.register(RunsPending(book))
    answered = Counter("answered", "requests answered", registry=registry)
    book.defer(answered.inc)
    assert b"answered_total 1.0" in generate_latest(registry)


def test_every_answer_is_in_the_metrics_read_right_after_it(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:

        def predictions() -> float:
            text = client.get("/metrics").text
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith('mlserve_requests_total{endpoint="predict",model="sentiment"')
            )

        before = predictions()
        for i in range(5):
            answer = client.post("/predict", json={"text": f"bookkeeping check {i}"})
            assert answer.status_code == 200, answer.text
        assert predictions() == before + 5
