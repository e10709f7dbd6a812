"""Experiments: validation, the traffic split, stickiness, mirrors, durability, the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mlserve.errors import ConflictError, InvalidInputError, NotFoundError
from mlserve.lifecycle.experiments import Experiment, Variant
from tests.lifecycle.experiment_helpers import CATALOG, Parts, spec


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    p = Parts(tmp_path / "state.sqlite3")
    try:
        yield p
    finally:
        await p.close()


async def test_the_split_follows_the_percentages_and_entities_stick(parts: Parts) -> None:
    await parts.experiments.create(spec())
    drawn = Counter([await parts.routing.variant_for("churn", f"user-{i}") for i in range(5000)])
    assert set(drawn) == {1, 2}
    assert 0.67 < drawn[1] / 5000 < 0.73
    for i in range(50):
        first = await parts.routing.variant_for("churn", f"user-{i}")
        assert all(
            [await parts.routing.variant_for("churn", f"user-{i}") == first for _ in range(5)]
        )
    random_draws = Counter([await parts.routing.variant_for("churn", None) for _ in range(5000)])
    assert 0.67 < random_draws[1] / 5000 < 0.73
    assert await parts.routing.variant_for("other-model", "user-1") is None
    assert await parts.routing.mirror_for("churn") is None


async def test_a_model_is_surely_idle_only_when_the_last_read_says_so(parts: Parts) -> None:
    assert not parts.routing.surely_idle("churn")  # nothing read yet: the router must ask
    await parts.experiments.create(spec())
    assert await parts.routing.variant_for("churn", "user-1") in (1, 2)  # reads them
    assert not parts.routing.surely_idle("churn")  # an experiment runs for it
    assert parts.routing.surely_idle("other-model")  # none does, as of that read
    parts.routing.forget()  # e.g. an experiment started or stopped here
    assert not parts.routing.surely_idle("other-model")


async def test_a_mirror_variant_gets_copies_and_no_traffic(parts: Parts) -> None:
    variants = [
        {"name": "control", "version": 1, "traffic_percentage": 100},
        {"name": "shadow", "version": 3, "traffic_percentage": 0, "mirror": True},
    ]
    await parts.experiments.create(spec(variants=variants))
    assert {await parts.routing.variant_for("churn", f"u{i}") for i in range(500)} == {1}
    assert await parts.routing.mirror_for("churn") == 3


async def test_a_mirror_percentage_copies_that_share_of_requests(parts: Parts) -> None:
    variants = [
        {"name": "control", "version": 1, "traffic_percentage": 100},
        {
            "name": "shadow",
            "version": 3,
            "traffic_percentage": 0,
            "mirror": True,
            "mirror_percentage": 25,
        },
    ]
    await parts.experiments.create(spec(variants=variants))
    copied = Counter([await parts.routing.mirror_for("churn") for _ in range(4000)])
    assert set(copied) == {3, None}
    assert 0.22 < copied[3] / 4000 < 0.28


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        (
            {
                "variants": [
                    {"name": "a", "version": "1", "traffic_percentage": 60},
                    {"name": "b", "version": "2", "traffic_percentage": 30},
                ]
            },
            InvalidInputError,
            "sum to 90",
        ),
        ({"model_type": "nope"}, NotFoundError, "model_type"),
        (
            {
                "variants": [
                    {"name": "a", "version": "1", "traffic_percentage": 50},
                    {"name": "b", "version": "9", "traffic_percentage": 50},
                ]
            },
            NotFoundError,
            "variants[1].version",
        ),
        (
            {
                "variants": [
                    {"name": "a", "version": "1", "traffic_percentage": 50},
                    {"name": "b", "version": "4", "traffic_percentage": 50},
                ]
            },
            ConflictError,
            "variants[1].version",
        ),
        (
            {
                "variants": [
                    {"name": "a", "version": "1", "traffic_percentage": 50},
                    {"name": "b", "version": "1", "traffic_percentage": 50},
                ]
            },
            InvalidInputError,
            "own version",
        ),
        ({"success_metrics": {"f1": {"threshold": 0.9}}}, InvalidInputError, "success_metrics.f1"),
        (
            {
                "variants": [
                    {"name": "a", "version": "1", "traffic_percentage": 100},
                    {"name": "m", "version": "2", "traffic_percentage": 10, "mirror": True},
                ]
            },
            InvalidInputError,
            "mirror",
        ),
        (
            {
                "variants": [
                    {
                        "name": "a",
                        "version": "1",
                        "traffic_percentage": 100,
                        "mirror_percentage": 50,
                    },
                    {"name": "m", "version": "2", "traffic_percentage": 0, "mirror": True},
                ]
            },
            InvalidInputError,
            "variants[].mirror_percentage applies to a mirror variant",
        ),
    ],
)
async def test_bad_experiments_are_refused_naming_the_field_and_store_nothing(
    parts: Parts, overrides: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field.replace("[", r"\[").replace("]", r"\]")):
        await parts.experiments.create(spec(**overrides))
    assert await parts.experiments.list() == []
    assert await parts.experiments.running() == {}


async def test_one_running_experiment_per_model(parts: Parts) -> None:
    first = await parts.experiments.create(spec())
    with pytest.raises(ConflictError, match=first.id):
        await parts.experiments.create(spec(name="again"))
    assert [e.id for e in await parts.experiments.list()] == [first.id]
    await parts.supervisor.finish(first, "stopped", "test")
    second = await parts.experiments.create(spec(name="again"))
    assert second.status == "running"


async def test_experiments_and_counts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    before = Parts(path)
    experiment = await before.experiments.create(spec())
    await before.routing.running()
    for _ in range(40):
        before.routing.observe("churn", 2, 200, 0.01)
    before.routing.observe("churn", 2, 503, 0.01)
    await before.supervisor.flush()
    await before.close()

    after = Parts(path)
    try:
        assert (await after.routing.running())["churn"].id == experiment.id
        totals = await after.routing.stats.totals(experiment.id)
        assert (totals[2].requests, totals[2].errors) == (41, 1)
        after.routing.observe("churn", 2, 200, 0.02)
        await after.supervisor.flush()
        assert (await after.routing.stats.totals(experiment.id))[2].requests == 42
    finally:
        await after.close()


async def test_a_failing_variant_is_rolled_back_within_seconds(parts: Parts) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    async def notify(event: str, payload: dict[str, Any]) -> None:
        events.append((event, payload))

    parts.supervisor._notify = notify
    experiment = await parts.experiments.create(spec())
    await parts.routing.running()
    parts.supervisor.start()
    breached_at = time.monotonic()
    for _ in range(30):
        parts.routing.observe("churn", 2, 500, 0.01)
        parts.routing.observe("churn", 1, 200, 0.01)
    while time.monotonic() - breached_at < 10:
        if (await parts.experiments.get(experiment.id)).rolled_back:
            break
        await parts.routing.running()
        await asyncio.sleep(0.05)
    rolled_back_after = time.monotonic() - breached_at
    stored = await parts.experiments.get(experiment.id)
    assert "treatment" in stored.rolled_back
    assert "success rate" in stored.rolled_back["treatment"]
    assert rolled_back_after < 10
    assert {await parts.routing.variant_for("churn", f"user-{i}") for i in range(2000)} == {1}
    assert {await parts.routing.variant_for("churn", None) for _ in range(500)} == {1}
    assert events[0][0] == "experiment.rollback"
    assert events[0][1]["variant"] == "treatment"


async def test_the_control_is_never_rolled_back(parts: Parts) -> None:
    experiment = await parts.experiments.create(spec())
    await parts.routing.running()
    for _ in range(50):
        parts.routing.observe("churn", 1, 500, 0.01)
    await parts.supervisor.check_once()
    assert (await parts.experiments.get(experiment.id)).rolled_back == {}


async def test_a_completed_experiment_auto_promotes_its_winner(tmp_path: Path) -> None:
    promoted: list[tuple[str, str]] = []

    async def promote(experiment: Experiment, winner: Variant) -> str:
        promoted.append((experiment.id, winner.name))
        return f"promoted {winner.name}"

    parts = Parts(tmp_path / "state.sqlite3", promote=promote)
    try:
        body = spec(
            auto_promote=True,
            variants=[
                {"name": "control", "version": "1", "traffic_percentage": 50},
                {"name": "treatment", "version": "2", "traffic_percentage": 50},
            ],
            success_metrics={"success_rate": {"threshold": 0.5, "weight": 1.0}},
        )
        experiment = await parts.experiments.create(body)
        await parts.routing.running()
        for i in range(1000):
            parts.routing.observe("churn", 1, 500 if i % 5 == 0 else 200, 0.01)
            parts.routing.observe("churn", 2, 200, 0.01)
        await parts.supervisor.flush()
        await parts.experiments.save(experiment.model_copy(update={"ends_at": time.time() - 1}))
        parts.routing.forget()
        await parts.supervisor.check_once()
        ended = await parts.experiments.get(experiment.id)
        assert ended.status == "completed"
        assert promoted == [(experiment.id, "treatment")]
        assert ended.promoted == "promoted treatment"
        assert await parts.routing.variant_for("churn", "user-1") is None
    finally:
        await parts.close()


async def test_a_stopped_experiment_never_promotes(tmp_path: Path) -> None:
    promoted: list[str] = []

    async def promote(experiment: Experiment, winner: Variant) -> str:
        promoted.append(winner.name)
        return "promoted"

    parts = Parts(tmp_path / "state.sqlite3", promote=promote)
    try:
        experiment = await parts.experiments.create(spec(auto_promote=True))
        stopped = await parts.supervisor.finish(experiment, "stopped", "by hand")
        assert (stopped.status, stopped.promoted, promoted) == ("stopped", None, [])
    finally:
        await parts.close()


async def test_a_version_removed_under_an_experiment_is_rolled_back_or_stops_it(
    parts: Parts,
) -> None:
    experiment = await parts.experiments.create(spec())
    await parts.routing.running()
    CATALOG["churn"][2] = False
    try:
        await parts.supervisor.check_once()
        rolled = await parts.experiments.get(experiment.id)
        assert "no longer served" in rolled.rolled_back["treatment"]
        assert {await parts.routing.variant_for("churn", f"u{i}") for i in range(300)} == {1}
        CATALOG["churn"][1] = False
        await parts.supervisor.check_once()
        stopped = await parts.experiments.get(experiment.id)
        assert stopped.status == "stopped"
        assert await parts.routing.variant_for("churn", "u1") is None
    finally:
        CATALOG["churn"][1] = CATALOG["churn"][2] = True


async def test_stopping_twice_announces_once(parts: Parts) -> None:
    events: list[str] = []

    async def notify(event: str, payload: Any) -> None:
        events.append(event)

    parts.supervisor._notify = notify
    experiment = await parts.experiments.create(spec())
    first = await parts.supervisor.finish(experiment, "stopped", "by hand")
    again = await parts.supervisor.finish(first, "stopped", "by hand")
    assert again.stopped_at == first.stopped_at
    assert events == ["experiment.ended"]
