"""The memo of request bodies answered before: bounds, expiry, endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlserve.control_plane.repeats import Repeat, RepeatedRequests
from mlserve.dataplane.request import PredictRequest
from mlserve.kinds import TextInputs
from mlserve.kinds.text import TEXT
from mlserve.repository.metadata import ModelMetadata
from mlserve.serving.cache.keys import CachedPrediction
from mlserve.serving.registry import ResolvedModel


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def repeat(label: str = "positive") -> Repeat:
    served: Any = None  # never used by the memo
    metadata = ModelMetadata.model_construct()
    model = ResolvedModel("sentiment", 1, metadata, Path("/nowhere"), TEXT, served)
    prediction = CachedPrediction(label, 0.9, (0.1, 0.9), truncated=False)
    request = PredictRequest(TextInputs(["great"]))
    return Repeat(request, model, "default", ("great",), (prediction,))


def memo(clock: FakeClock, **overrides: float) -> RepeatedRequests:
    options = {"max_entries": 3, "max_body_bytes": 64, "ttl_seconds": 10.0, **overrides}
    return RepeatedRequests(
        max_entries=int(options["max_entries"]),
        max_body_bytes=int(options["max_body_bytes"]),
        ttl_seconds=options["ttl_seconds"],
        clock=clock,
    )


def test_a_body_is_found_again_only_at_the_endpoint_it_was_answered_at() -> None:
    repeats = memo(FakeClock())
    answer = repeat()
    repeats.put("predict", b'{"text": "great"}', answer)

    assert repeats.get("predict", b'{"text": "great"}') is answer
    assert repeats.get("batch-predict", b'{"text": "great"}') is None
    assert repeats.get("predict", b'{"text":"great"}') is None  # other bytes, other body


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    repeats = memo(clock, ttl_seconds=5)
    repeats.put("predict", b"a", repeat())

    clock.now += 4.9
    assert repeats.get("predict", b"a") is not None
    clock.now += 0.2
    assert repeats.get("predict", b"a") is None
    assert len(repeats) == 0


def test_the_least_recently_used_body_goes_first_beyond_max_entries() -> None:
    repeats = memo(FakeClock(), max_entries=2)
    repeats.put("predict", b"a", repeat())
    repeats.put("predict", b"b", repeat())
    repeats.get("predict", b"a")
    repeats.put("predict", b"c", repeat())

    assert repeats.get("predict", b"b") is None
    assert repeats.get("predict", b"a") is not None
    assert repeats.get("predict", b"c") is not None
    assert len(repeats) == 2


def test_bodies_over_the_size_limit_are_not_kept() -> None:
    repeats = memo(FakeClock(), max_body_bytes=4)
    repeats.put("predict", b"12345", repeat())
    repeats.put("predict", b"1234", repeat())

    assert repeats.get("predict", b"12345") is None
    assert repeats.get("predict", b"1234") is not None
    assert len(repeats) == 1


def test_forget_and_clear() -> None:
    repeats = memo(FakeClock())
    repeats.put("predict", b"a", repeat())
    repeats.put("predict", b"b", repeat())
    repeats.forget("predict", b"a")

    assert repeats.get("predict", b"a") is None
    repeats.clear()
    assert len(repeats) == 0
