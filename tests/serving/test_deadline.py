"""Request deadlines from ``timeout_ms``."""

from __future__ import annotations

import pytest

from mlserve.errors import DeadlineExceededError, InvalidInputError
from mlserve.serving.deadline import Deadline
from mlserve.settings import LimitsSettings

LIMITS = LimitsSettings(default_timeout_ms=2_000, max_timeout_ms=30_000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_no_timeout_means_the_default() -> None:
    clock = FakeClock()
    deadline = Deadline.from_request(None, LIMITS, clock=clock)

    assert deadline.timeout_ms == 2_000
    assert deadline.remaining_s() == pytest.approx(2.0)


def test_remaining_time_feeds_both_triton_timeouts() -> None:
    clock = FakeClock()
    deadline = Deadline.from_request(500, LIMITS, clock=clock)

    clock.now += 0.2
    assert deadline.client_timeout_s() == pytest.approx(0.3)
    assert deadline.queue_timeout_us() == pytest.approx(300_000, abs=1)


def test_the_cap_itself_is_allowed() -> None:
    assert Deadline.from_request(30_000, LIMITS).timeout_ms == 30_000


@pytest.mark.parametrize("bad", [0, -5, 30_001, float("nan"), float("inf"), True, "100"])
def test_out_of_range_timeouts_are_refused_naming_field_limit_and_fix(bad: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Deadline.from_request(bad, LIMITS)  # type: ignore[arg-type]

    message = caught.value.message
    assert "timeout_ms" in message
    assert "30000" in message
    assert "leave it out" in message
    assert caught.value.status_code == 422


def test_an_expired_deadline_raises_with_the_stage() -> None:
    clock = FakeClock()
    deadline = Deadline.from_request(100, LIMITS, clock=clock)
    deadline.check("preprocessing")

    clock.now += 0.1
    assert deadline.expired
    assert deadline.remaining_s() == 0.0
    with pytest.raises(DeadlineExceededError) as caught:
        deadline.queue_timeout_us(stage="cache lookup")
    assert caught.value.stage == "cache lookup"
    assert caught.value.status_code == 504
    with pytest.raises(DeadlineExceededError):
        deadline.client_timeout_s()
