"""Tabular items: the plain path (no arrays) gives exactly what the full checks give."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from mlserve.converters.tabular.spec import TabularFeature, TabularSpec
from mlserve.errors import InvalidInputError
from mlserve.kinds import RecordInputs
from mlserve.kinds.tabular import ServedTabular
from mlserve.repository.metadata import ModelMetadata, TensorInfo

NAMES = ("age", "plan", "income", "visits")


def served(*, accepts_missing: bool = False, ignored: tuple[str, ...] = ()) -> ServedTabular:
    spec = TabularSpec(
        (
            TabularFeature("age", "numeric"),
            TabularFeature("plan", "string"),
            TabularFeature("income", "numeric"),
            TabularFeature("visits", "numeric"),
        ),
        accepts_missing=accepts_missing,
        ignored=ignored,
    )
    metadata = ModelMetadata(
        name="churn",
        version=1,
        framework="sklearn",
        input_kind="tabular",
        inputs=[TensorInfo(name="input", datatype="FP32", dims=[-1, 3])],
        outputs=[TensorInfo(name="probabilities", datatype="FP32", dims=[-1, 2])],
        labels=["stay", "leave"],
        preprocessing=spec.to_dict(),
        published_at=datetime.now(UTC),
    )
    return ServedTabular(metadata)


def test_plain_records_give_the_items_the_full_checks_give() -> None:
    model = served()
    rng = random.Random(7)
    for _ in range(500):
        values: list[Any] = [
            rng.choice([rng.randint(-(2**60), 2**60), rng.randint(0, 99), rng.uniform(-1e6, 1e6)]),
            rng.choice(["basic", "pro", "", "é"]),
            rng.choice([rng.uniform(0, 1), rng.randint(0, 10), 3.4e38]),
            rng.randint(0, 5),
        ]
        record = dict(zip(NAMES, values, strict=True))
        for inputs in (RecordInputs([record]), RecordInputs([values])):
            assert model.items(inputs) == model._checked_items(inputs.records)
    assert model._plain_item(dict(zip(NAMES, [31, "pro", 4.5, 2], strict=True))) == (
        31.0,
        "pro",
        4.5,
        2.0,
    )


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ({"age": 31, "plan": "pro", "income": 4.5}, "missing feature(s) 'visits'"),
        ({"age": 31, "plan": "pro", "income": 4.5, "visits": 1, "x": 0}, "unknown feature"),
        ({"age": "31", "plan": "pro", "income": 4.5, "visits": 1}, "records[1].age"),
        ({"age": 31, "plan": 3, "income": 4.5, "visits": 1}, "records[1].plan"),
        ({"age": 31, "plan": "pro", "income": math.inf, "visits": 1}, "records[1].income"),
        ({"age": 31, "plan": "pro", "income": 1e39, "visits": 1}, "float32 range"),
        ({"age": True, "plan": "pro", "income": None, "visits": 1}, "records[1].income"),
        ([31, "pro", 4.5], "has 3 values"),
    ],
)
def test_records_the_plain_path_leaves_get_the_checks_error(record: Any, named: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(named)):
        served().items(RecordInputs([{"age": 1, "plan": "a", "income": 1.0, "visits": 1}, record]))


def test_missing_values_and_ignored_columns_take_the_checked_path() -> None:
    nullable = served(accepts_missing=True)
    record = {"age": None, "plan": "pro", "income": math.nan, "visits": True}
    assert nullable.items(RecordInputs([record])) == [(None, "pro", None, 1.0)]
    dropping = served(ignored=("note",))
    record = {"age": 1, "plan": "pro", "income": 2.0, "visits": 3, "note": "x"}
    assert dropping.items(RecordInputs([record])) == [(1.0, "pro", 2.0, 3.0)]


def test_drift_names_are_the_names_of_every_items_drift_input() -> None:
    """Monitoring reads a version's feature names off ``drift_names`` instead of building
    the first item's mapping per request: they must be that mapping's keys, in order."""
    model = served(accepts_missing=True)
    records: list[Any] = [
        dict(zip(NAMES, [31, "pro", 4.5, 2], strict=True)),
        [40.0, "basic", None, 0],
        {"age": 22, "plan": "pro", "income": 1.0, "visits": 1},
    ]
    assert model.drift_names == NAMES
    for item in model.items(RecordInputs(records)):
        assert tuple(model.drift_input(item)) == model.drift_names
