"""The per-model in-flight bound."""

from __future__ import annotations

import asyncio

import pytest

from mlserve.errors import OverloadedError
from mlserve.serving.limiter import InflightLimiter
from mlserve.settings import LimitsSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_slots_count_in_flight_work_per_model() -> None:
    limiter = InflightLimiter(10)

    with limiter.slot("a", cost=3), limiter.slot("b"):
        assert limiter.inflight("a") == 3
        assert limiter.inflight_counts() == {"a": 3, "b": 1}

    assert limiter.inflight_counts() == {"a": 0, "b": 0}
    assert limiter.inflight("never seen") == 0


def test_a_slot_is_a_plain_context_manager_released_on_errors() -> None:
    limiter = InflightLimiter(2)
    with limiter.slot("m", cost=2):
        assert limiter.inflight("m") == 2
        with pytest.raises(OverloadedError), limiter.slot("m"):
            pytest.fail("admitted beyond the bound")
    assert limiter.inflight("m") == 0
    with pytest.raises(RuntimeError), limiter.slot("m"):
        raise RuntimeError("inference failed")
    assert limiter.inflight_counts() == {"m": 0}


async def test_the_request_beyond_the_bound_is_refused_at_once() -> None:
    limiter = InflightLimiter(2)
    release = asyncio.Event()
    entered = [asyncio.Event(), asyncio.Event()]

    async def hold(inside: asyncio.Event) -> None:
        with limiter.slot("m"):
            inside.set()
            await release.wait()

    holders = [asyncio.create_task(hold(inside)) for inside in entered]
    for inside in entered:
        await inside.wait()

    with pytest.raises(OverloadedError) as caught, limiter.slot("m"):
        pytest.fail("admitted beyond the bound")
    assert caught.value.status_code == 429
    assert "max_inflight_per_model" in caught.value.message
    assert caught.value.retry_after == 1.0  # nothing finished yet: the default estimate
    assert limiter.rejected_counts() == {"m": 1}

    with limiter.slot("other"):  # other models are not affected
        pass

    release.set()
    await asyncio.gather(*holders)
    with limiter.slot("m", cost=2):
        assert limiter.inflight("m") == 2


async def test_a_refused_request_holds_nothing() -> None:
    limiter = InflightLimiter(3)
    with limiter.slot("m", cost=2):
        with pytest.raises(OverloadedError), limiter.slot("m", cost=2):
            pass
        assert limiter.inflight("m") == 2


async def test_slots_are_released_on_errors_and_cancellation() -> None:
    limiter = InflightLimiter(1)
    with pytest.raises(RuntimeError), limiter.slot("m"):
        raise RuntimeError("inference failed")

    started = asyncio.Event()

    async def slow() -> None:
        with limiter.slot("m"):
            started.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.inflight("m") == 0


async def test_retry_after_follows_how_long_slots_are_held() -> None:
    clock = FakeClock()
    limiter = InflightLimiter(1, clock=clock)
    for _ in range(20):
        with limiter.slot("m"):
            clock.now += 0.4

    with limiter.slot("m"), pytest.raises(OverloadedError) as caught, limiter.slot("m"):
        pass
    assert caught.value.retry_after == pytest.approx(0.4)

    for _ in range(40):
        with limiter.slot("fast"):
            clock.now += 0.0001
    assert limiter.retry_after("fast") == 0.05


async def test_a_batch_larger_than_the_bound_runs_only_when_the_model_is_idle() -> None:
    limiter = InflightLimiter(4)
    with limiter.slot("m", cost=10):
        assert limiter.inflight("m") == 10
        with pytest.raises(OverloadedError), limiter.slot("m"):
            pass
    with limiter.slot("m"), pytest.raises(OverloadedError), limiter.slot("m", cost=10):
        pass


def test_the_bound_comes_from_settings_and_bad_arguments_are_refused() -> None:
    limiter = InflightLimiter.from_settings(LimitsSettings(max_inflight_per_model=7))
    assert limiter.max_inflight == 7
    with pytest.raises(ValueError, match="cost"):
        limiter.slot("m", cost=0)
    with pytest.raises(ValueError, match="max_inflight"):
        InflightLimiter(0)
