"""A/B weights: validation, weighted and sticky routing."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from mlserve.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.platform.abtest import (
    ABTestService,
    fingerprint,
    parse_weights,
    pick_version,
    sticky_point,
)
from mlserve.platform.store import StateStore

STATES = {1: True, 2: True, 3: False}


class Versions:
    """Which versions exist and are active (the catalog's answer), changeable per test."""

    def __init__(self, states: dict[str, dict[int, bool]]) -> None:
        self.states = states

    async def __call__(self, model: str) -> dict[int, bool]:
        return dict(self.states.get(model, {}))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "non-empty JSON object"),
        ([0.5, 0.5], "non-empty JSON object"),
        ({"v9": 1}, "has no version v9; versions: v1, v2, v3 \\(stopped\\)"),
        ({"banana": 1}, "'banana' is not a version"),
        ({"v1": -0.1, "v2": 1}, "weight for 'v1' is -0.1: weights must be >= 0"),
        ({"v1": "lots"}, "weight for 'v1' must be a number"),
        ({"v1": True}, "weight for 'v1' must be a number"),
        ({"v1": float("nan")}, "weight for 'v1' must be a number"),
        ({"v1": 0, "v2": 0}, "sum to 0"),
        ({"v3": 1}, "v3 is stopped; start it \\(POST /api/v1/start/churn/v3\\)"),
        ({"v1": 1, "1": 1}, "name v1 twice"),
    ],
)
def test_bad_weights_name_the_version_and_the_fix(weights: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_weights(weights, STATES, "churn")


def test_weights_need_not_sum_to_one_and_stopped_versions_may_have_zero() -> None:
    assert parse_weights({"v1": 7, "2": 3, "v3": 0}, STATES, "churn") == {1: 7.0, 2: 3.0, 3: 0.0}


def test_pick_version_walks_the_cumulative_weights() -> None:
    weights = [(1, 0.7), (2, 0.0), (3, 0.3)]
    assert pick_version(weights, 0.0) == 1
    assert pick_version(weights, 0.6999) == 1
    assert pick_version(weights, 0.7001) == 3
    assert pick_version(weights, 0.999999) == 3


def test_sticky_points_are_stable_uniform_and_config_dependent() -> None:
    fp = fingerprint({1: 0.7, 2: 0.3})
    assert fp == fingerprint({2: 0.3, 1: 0.7})
    assert sticky_point("churn", fp, "customer-42") == sticky_point("churn", fp, "customer-42")
    points = [sticky_point("churn", fp, f"c{i}") for i in range(4000)]
    assert all(0 <= p < 1 for p in points)
    assert 0.45 < sum(points) / len(points) < 0.55
    other = fingerprint({1: 0.5, 2: 0.5})
    moved = sum(
        sticky_point("churn", fp, f"c{i}") != sticky_point("churn", other, f"c{i}")
        for i in range(100)
    )
    assert moved == 100


async def test_routing_is_sticky_per_entity_and_follows_the_weights(store: StateStore) -> None:
    service = ABTestService(store, Versions({"churn": {1: True, 2: True}}), random.Random(7))
    config = await service.set_weights("churn", {"v1": 0.7, "v2": 0.3}, updated_by="root")
    assert config.weights == {"v1": 0.7, "v2": 0.3}
    entities = [f"customer-{i}" for i in range(3000)]
    first = await service.route("churn", entities, len(entities))
    again = await service.route("churn", list(reversed(entities)), len(entities))
    assert first == list(reversed(again))
    share_v1 = Counter(first)[1] / len(first)
    assert 0.66 < share_v1 < 0.74
    unsticky = await service.route("churn", None, 3000)
    assert 0.66 < Counter(unsticky)[1] / 3000 < 0.74


async def test_stopped_versions_drop_out_and_no_config_means_newest(store: StateStore) -> None:
    versions = Versions({"churn": {1: True, 2: True, 3: True}})
    service = ABTestService(store, versions)
    assert await service.route("churn", None, 3) == [3, 3, 3]
    await service.set_weights("churn", {"v1": 1, "v2": 1})
    versions.states["churn"][2] = False
    assert set(await service.route("churn", [f"e{i}" for i in range(50)], 50)) == {1}
    versions.states["churn"][1] = False
    assert await service.route("churn", ["e1"], 1) == [3]
    versions.states["churn"] = {1: False, 2: False, 3: False}
    with pytest.raises(ServiceUnavailableError, match="no active version"):
        await service.route("churn", None, 1)
    with pytest.raises(NotFoundError, match="unknown model 'nope'"):
        await service.route("nope", None, 1)
    with pytest.raises(NotFoundError, match="deploy it before"):
        await service.set_weights("nope", {"v1": 1})
