"""Requests for one model version merged into shared calls (the call is a stand-in here;
tests/serving/test_serving_under_load.py drives the same path through a real Triton)."""

from __future__ import annotations

import asyncio

import pytest

from mlserve.errors import DeadlineExceededError, OverloadedError, ServiceUnavailableError
from mlserve.serving.cache.keys import CachedPrediction
from mlserve.serving.coalescer import CallAnswer, CallCoalescer, SentCall
from mlserve.serving.deadline import Deadline


class RecordingCalls:
    """A call that answers each text with the text as its label once its gate opens."""

    def __init__(self, *, fail_with: Exception | None = None) -> None:
        self.sent: list[list[str]] = []
        self.deadlines: list[Deadline] = []
        self.gates: list[asyncio.Event] = []
        self.open_all = False
        self.fail_with = fail_with

    async def send(self, texts: list[str], deadline: Deadline) -> SentCall:
        """The coalescer's Sender: one call, with (zero) timings."""
        return SentCall(await self(texts, deadline), 0.0, 0.0)

    async def __call__(self, texts: list[str], deadline: Deadline) -> list[CachedPrediction]:
        self.sent.append(list(texts))
        self.deadlines.append(deadline)
        gate = asyncio.Event()
        self.gates.append(gate)
        if self.open_all:
            gate.set()
        await gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [CachedPrediction(text, 1.0, (1.0,), False) for text in texts]

    def release(self) -> None:
        """Answer every call, sent or still to come."""
        self.open_all = True
        for gate in self.gates:
            gate.set()


def labels(answer: CallAnswer) -> list[str | None]:
    return [p.label for p in answer.predictions]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def answer_a_call_with_one_waiting(
    coalescer: CallCoalescer, calls: RecordingCalls, texts: list[str], *, deadline_ms: int
) -> asyncio.Task[CallAnswer]:
    """Sends ["a"] as the only, busy call, queues ``texts`` behind it, then answers ["a"]:
    the waiting request's task, for a sender task to send."""
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(deadline_ms)))
    await settle()
    waiting = asyncio.create_task(coalescer.predict(texts, Deadline(deadline_ms)))
    await settle()
    calls.gates[0].set()
    await first
    return waiting


async def test_a_lone_request_is_sent_at_once_on_its_own() -> None:
    calls = RecordingCalls()
    calls.release()
    coalescer = CallCoalescer(calls, calls_in_flight=2, max_batch_size=8)

    answer = await coalescer.predict(["a"], Deadline(1_000))

    assert labels(answer) == ["a"]
    assert calls.sent == [["a"]]


async def test_requests_arriving_while_calls_are_busy_share_the_next_call() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    assert coalescer.idle
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(1_000)))
    await settle()
    assert calls.sent == [["a"]]  # the only call is now busy
    assert not coalescer.idle

    later = [
        asyncio.create_task(coalescer.predict(texts, Deadline(1_000)))
        for texts in (["b"], ["c", "d"], ["e"])
    ]
    await settle()
    calls.release()
    answers = await asyncio.gather(first, *later)

    assert calls.sent == [["a"], ["b", "c", "d", "e"]]
    assert [labels(a) for a in answers] == [["a"], ["b"], ["c", "d"], ["e"]]
    assert coalescer.busy_calls == 0
    assert coalescer.idle


async def test_a_shared_call_holds_at_most_max_batch_size_texts() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=3)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(1_000)))
    await settle()
    later = [
        asyncio.create_task(coalescer.predict(texts, Deadline(1_000)))
        for texts in (["b", "c"], ["d", "e"], ["f"])
    ]
    await settle()
    calls.release()
    await asyncio.gather(first, *later)

    # A request's texts are never split across calls; arrival order is kept.
    assert calls.sent == [["a"], ["b", "c"], ["d", "e", "f"]]


async def test_a_call_carries_the_latest_deadline_of_its_members() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(1_000)))
    await settle()
    short, long = Deadline(2_000), Deadline(9_000)
    later = [
        asyncio.create_task(coalescer.predict(["b"], short)),
        asyncio.create_task(coalescer.predict(["c"], long)),
    ]
    await settle()
    calls.release()
    await asyncio.gather(first, *later)

    assert calls.deadlines[1] is long


async def test_a_failed_call_fails_its_members_only() -> None:
    calls = RecordingCalls(fail_with=OverloadedError("Triton's queue is full; retry shortly"))
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(1_000)))
    await settle()
    second = asyncio.create_task(coalescer.predict(["b"], Deadline(1_000)))
    await settle()
    calls.release()

    for task in (first, second):
        with pytest.raises(OverloadedError, match="queue is full"):
            await task
    calls.fail_with = None
    assert labels(await coalescer.predict(["c"], Deadline(1_000))) == ["c"]


async def test_a_request_whose_deadline_passes_while_waiting_gets_a_queue_504() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(5_000)))
    await settle()

    with pytest.raises(DeadlineExceededError, match="20 ms during queue") as caught:
        await coalescer.predict(["b"], Deadline(20))
    assert caught.value.stage == "queue"

    calls.release()
    assert labels(await first) == ["a"]
    await settle()
    assert calls.sent == [["a"]]  # the expired request was never sent


async def test_a_request_whose_client_went_away_is_not_sent() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(5_000)))
    await settle()
    gone = asyncio.create_task(coalescer.predict(["b"], Deadline(5_000)))
    stays = asyncio.create_task(coalescer.predict(["c"], Deadline(5_000)))
    await settle()

    gone.cancel()
    await settle()
    calls.release()

    assert labels(await stays) == ["c"]
    await first
    assert calls.sent == [["a"], ["c"]]


async def test_a_member_whose_deadline_passes_in_its_call_gets_an_inference_504() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(5_000)))
    await settle()
    tight = asyncio.create_task(coalescer.predict(["b"], Deadline(100)))
    roomy = asyncio.create_task(coalescer.predict(["c"], Deadline(5_000)))
    await settle()
    calls.gates[0].set()  # "a" answers; "b" and "c" leave together and hang
    await first
    await settle()
    assert calls.sent == [["a"], ["b", "c"]]

    with pytest.raises(DeadlineExceededError, match="100 ms during inference") as caught:
        await tight
    assert caught.value.stage == "inference"
    calls.release()
    assert labels(await roomy) == ["c"]


async def test_waiting_members_each_expire_at_their_own_deadline_in_any_order() -> None:
    """One timer watches every member: a later arrival with an earlier deadline moves it
    earlier, and once it fired it is armed again for the deadlines left."""
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    first = asyncio.create_task(coalescer.predict(["a"], Deadline(5_000)))
    await settle()
    loop = asyncio.get_running_loop()
    expired_at: dict[str, float] = {}

    async def timed(text: str, deadline_ms: int) -> None:
        with pytest.raises(DeadlineExceededError, match=f"{deadline_ms} ms during queue"):
            await coalescer.predict([text], Deadline(deadline_ms))
        expired_at[text] = loop.time()

    started = loop.time()
    late = asyncio.create_task(timed("late", 120))
    await settle()
    early = asyncio.create_task(timed("early", 40))  # arrives later, expires first
    roomy = asyncio.create_task(coalescer.predict(["c"], Deadline(5_000)))
    await asyncio.gather(late, early)

    assert expired_at["early"] - started >= 0.04
    assert expired_at["late"] - started >= 0.12
    assert expired_at["early"] < expired_at["late"]  # not held back to the later deadline
    calls.release()
    assert labels(await roomy) == ["c"]
    await first
    assert calls.sent == [["a"], ["c"]]  # the expired ones were never sent
    assert coalescer._timer is None  # nobody waits: no timer left behind


async def test_a_request_with_no_time_left_is_refused_before_waiting() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    deadline = Deadline(0.001)
    await asyncio.sleep(0.002)

    with pytest.raises(DeadlineExceededError) as caught:
        await coalescer.predict(["a"], deadline)

    assert caught.value.stage == "preprocessing"
    assert calls.sent == []


async def test_shutting_down_answers_members_of_a_sent_call_with_a_503() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8)
    waiting = await answer_a_call_with_one_waiting(coalescer, calls, ["b"], deadline_ms=5_000)
    await settle()
    assert calls.sent == [["a"], ["b"]]  # sent by a sender task, which now stops

    for sender in list(coalescer._senders):
        sender.cancel()

    with pytest.raises(ServiceUnavailableError, match="shutting down"):
        await waiting
    await settle()
    assert coalescer.busy_calls == 0


async def test_gather_turns_let_requests_arriving_meanwhile_join_the_next_call() -> None:
    async def arrive_late(coalescer: CallCoalescer) -> CallAnswer:
        await asyncio.sleep(0)  # its client sends a turn after the first call returned
        return await coalescer.predict(["c"], Deadline(1_000))

    sent_per_turns = []
    for turns in (0, 4):
        calls = RecordingCalls()
        coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8, gather_turns=turns)
        waiting = await answer_a_call_with_one_waiting(coalescer, calls, ["b"], deadline_ms=1_000)
        late = asyncio.create_task(arrive_late(coalescer))
        calls.release()
        await asyncio.gather(waiting, late)
        sent_per_turns.append(calls.sent)

    assert sent_per_turns[0] == [["a"], ["b"], ["c"]]
    assert sent_per_turns[1] == [["a"], ["b", "c"]]


async def test_a_full_call_is_sent_without_waiting_for_turns() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=2, gather_turns=50)
    waiting = await answer_a_call_with_one_waiting(coalescer, calls, ["b", "c"], deadline_ms=1_000)
    await settle()  # far fewer than 50 turns

    assert calls.sent == [["a"], ["b", "c"]]
    calls.release()
    assert labels(await waiting) == ["b", "c"]


async def test_shutting_down_while_gathering_answers_the_waiting_with_a_503() -> None:
    calls = RecordingCalls()
    coalescer = CallCoalescer(calls, calls_in_flight=1, max_batch_size=8, gather_turns=50)
    waiting = await answer_a_call_with_one_waiting(coalescer, calls, ["b"], deadline_ms=5_000)
    await settle()
    assert calls.sent == [["a"]]  # the sender is still letting turns pass

    for sender in list(coalescer._senders):
        sender.cancel()

    with pytest.raises(ServiceUnavailableError, match="shutting down"):
        await waiting
    await settle()
    assert coalescer.idle


def test_calls_in_flight_and_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CallCoalescer(RecordingCalls(), calls_in_flight=0, max_batch_size=8)
    with pytest.raises(ValueError, match="negative"):
        CallCoalescer(RecordingCalls(), calls_in_flight=1, max_batch_size=8, gather_turns=-1)
