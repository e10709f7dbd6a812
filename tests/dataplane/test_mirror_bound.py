"""The mirror's own logic, without a server: the in-flight bound drops and counts, a
failure is reported and never raised, agreement is counted per item. (Against the real
Triton: tests/dataplane/test_mirror.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from mlserve.dataplane.mirror import Mirror, agreement
from mlserve.errors import ServiceUnavailableError
from mlserve.kinds import TextInputs
from mlserve.serving.cache.keys import CachedPrediction
from mlserve.serving.coalescer import CallAnswer
from mlserve.settings import LimitsSettings


def label(name: str) -> CachedPrediction:
    return CachedPrediction(name, 0.9, (0.1, 0.9), False)


def value(number: float) -> CachedPrediction:
    return CachedPrediction(None, None, None, False, number)


class Served:
    def items(self, inputs: TextInputs) -> list[Any]:
        return list(inputs.texts)


class Resolved:
    served = Served()


class Registry:
    async def resolve_version(self, name: str, version: int) -> Resolved:
        return Resolved()


class Calls:
    """Answers each item with label ``answer`` once ``release`` is set, or raises."""

    def __init__(self, answer: str = "positive", error: Exception | None = None) -> None:
        self.release = asyncio.Event()
        self.answer = answer
        self.error = error

    async def infer(self, model: Any, items: list[Any], deadline: Any) -> CallAnswer:
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return CallAnswer([label(self.answer) for _ in items], 0.0, 0.0, 0.0)


class Sink:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int, int, int]] = []

    def observe_mirror(
        self, model: str, version: int, status: int, seconds: float, agreed: int, compared: int
    ) -> None:
        self.seen.append((model, version, status, agreed, compared))


class Counter:
    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def observe_mirror_copy(self, model: str, outcome: str) -> None:
        self.outcomes.append(outcome)


def mirror(calls: Calls, in_flight: int = 2) -> tuple[Mirror, Sink, Counter]:
    counter = Counter()
    limits = LimitsSettings(mirror_in_flight=in_flight)
    m = Mirror(Registry(), calls, limits, counter)  # type: ignore[arg-type]
    sink = Sink()
    m.sink = sink
    return m, sink, counter


async def test_copies_beyond_the_bound_are_dropped_at_once_and_counted() -> None:
    calls = Calls()
    m, sink, counter = mirror(calls, in_flight=2)
    primary = [label("positive"), label("negative")]
    taken = [m.copy("s", 2, TextInputs(["a", "b"]), primary) for _ in range(5)]

    assert taken == [True, True, False, False, False]
    assert counter.outcomes == ["dropped"] * 3
    assert m.in_flight == 2
    calls.release.set()
    await m.drain()
    assert m.in_flight == 0
    assert sink.seen == [("s", 2, 200, 1, 2), ("s", 2, 200, 1, 2)]
    assert sorted(counter.outcomes) == ["answered", "answered", *["dropped"] * 3]
    assert m.copy("s", 2, TextInputs(["a"]), primary[:1])  # room again


async def test_a_failing_mirror_is_reported_and_never_raised() -> None:
    calls = Calls(error=ServiceUnavailableError("triton down"))
    m, sink, counter = mirror(calls)
    assert m.copy("s", 3, TextInputs(["a"]), [label("positive")])
    calls.release.set()
    await m.drain()
    assert sink.seen == [("s", 3, 503, 0, 0)]
    assert counter.outcomes == ["failed"]

    crash = Calls(error=RuntimeError("bug"))
    m, sink, counter = mirror(crash)
    m.copy("s", 3, TextInputs(["a"]), [label("positive")])
    crash.release.set()
    await m.drain()
    assert sink.seen == [("s", 3, 500, 0, 0)]


async def test_drain_cancels_copies_that_outlive_it() -> None:
    m, sink, _ = mirror(Calls())
    m.copy("s", 2, TextInputs(["a"]), [label("positive")])
    await m.drain(timeout_s=0.05)
    assert m.in_flight == 0
    assert sink.seen == []


def test_agreement_compares_labels_or_values_item_by_item() -> None:
    assert agreement([label("a"), label("b")], [label("a"), label("c")]) == (1, 2)
    assert agreement([value(1.0), value(2.0)], [value(1.0 + 1e-9), value(2.5)]) == (1, 2)
    assert agreement([label("a")], []) == (0, 0)
