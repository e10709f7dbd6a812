"""records_to_inputs: how the predict path turns feature records into tabular tensors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mlserve.converters.tabular import (
    NUMERIC_INPUT,
    STRING_INPUT,
    TabularFeature,
    TabularSpec,
    records_to_inputs,
)
from mlserve.errors import InvalidInputError
from mlserve.triton.model_config import DataType, TensorSpec

SPEC = TabularSpec(
    features=(
        TabularFeature("age", "numeric"),
        TabularFeature("city", "string"),
        TabularFeature("income", "numeric"),
    ),
    accepts_missing=False,
    ignored=("customer_id",),
)
RECORD = {"age": 41, "city": "Lyon", "income": 52000.5}


def test_numeric_and_string_features_fill_their_tensors_in_spec_order() -> None:
    records = [
        {"income": 1.5, "city": "Paris", "age": 30},
        {"city": "Lyon", "age": 50.25, "income": 2},
    ]
    inputs = records_to_inputs(records, SPEC)
    assert set(inputs) == {NUMERIC_INPUT, STRING_INPUT}
    assert inputs[NUMERIC_INPUT].dtype == np.float32
    np.testing.assert_array_equal(inputs[NUMERIC_INPUT], [[30, 1.5], [50.25, 2]])
    assert inputs[STRING_INPUT].dtype == object
    assert inputs[STRING_INPUT].tolist() == [["Paris"], ["Lyon"]]


def test_all_numeric_spec_builds_only_the_numeric_tensor() -> None:
    spec = TabularSpec(features=(TabularFeature("a", "numeric"), TabularFeature("b", "numeric")))
    records: list[dict[str, Any]] = [
        {"a": 1, "b": True},
        {"a": np.float64(2.5), "b": np.int64(3)},
    ]
    inputs = records_to_inputs(records, spec)
    assert list(inputs) == [NUMERIC_INPUT]
    np.testing.assert_array_equal(inputs[NUMERIC_INPUT], np.array([[1, 1], [2.5, 3]]))


def test_ignored_columns_are_accepted_and_discarded() -> None:
    inputs = records_to_inputs([{**RECORD, "customer_id": "c-17"}], SPEC)
    np.testing.assert_array_equal(inputs[NUMERIC_INPUT], [[41, 52000.5]])


def test_missing_feature_names_the_feature_and_lists_the_expected_ones() -> None:
    with pytest.raises(InvalidInputError) as caught:
        records_to_inputs([RECORD, {"age": 3, "city": "Nice"}], SPEC)
    message = caught.value.message
    assert "records[1]" in message
    assert "'income'" in message
    assert "'age', 'city', 'income'" in message
    assert caught.value.status_code == 422


def test_missing_feature_hint_mentions_null_when_the_model_takes_missing_values() -> None:
    spec = TabularSpec(features=SPEC.features, accepts_missing=True)
    with pytest.raises(InvalidInputError, match="send null"):
        records_to_inputs([{"age": 3, "city": "Nice"}], spec)


def test_unknown_feature_is_rejected_with_the_accepted_names() -> None:
    with pytest.raises(InvalidInputError) as caught:
        records_to_inputs([{**RECORD, "agee": 4}], SPEC)
    assert "unknown feature(s) 'agee'" in caught.value.message
    assert "check their spelling" in caught.value.message


def test_null_becomes_nan_when_the_model_accepts_missing_values() -> None:
    spec = TabularSpec(features=SPEC.features, accepts_missing=True)
    inputs = records_to_inputs([{**RECORD, "age": None, "income": math.nan}], spec)
    assert np.isnan(inputs[NUMERIC_INPUT]).all()


def test_null_is_rejected_when_the_model_does_not_accept_missing_values() -> None:
    with pytest.raises(InvalidInputError) as caught:
        records_to_inputs([{**RECORD, "income": None}], SPEC)
    assert "records[0].income" in caught.value.message
    assert "does not accept missing values" in caught.value.message


def test_string_features_cannot_be_missing_even_when_numbers_can() -> None:
    spec = TabularSpec(features=SPEC.features, accepts_missing=True)
    with pytest.raises(InvalidInputError, match=r"records\[0\]\.city is missing"):
        records_to_inputs([{**RECORD, "city": None}], spec)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("age", "41", r"records\[0\]\.age must be a number, got str '41'"),
        ("age", [1], r"records\[0\]\.age must be a number, got list"),
        ("city", 3, r'records\[0\]\.city must be a string, got int 3.*"3"'),
        ("age", math.inf, r"records\[0\]\.age is inf: numbers must be finite"),
        ("income", 1e39, r"within float32 range"),
        ("income", 10**400, r"within float32 range"),
    ],
)
def test_wrong_types_and_out_of_range_numbers_are_rejected(
    field: str, value: object, expected: str
) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        records_to_inputs([{**RECORD, field: value}], SPEC)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], "records is empty"),
        ({"age": 1}, "must be a list of objects"),
        ("age=1", "must be a list of objects"),
        ([RECORD, ["age", 1]], r"records\[1\] must be an object"),
    ],
)
def test_malformed_record_lists_are_rejected(records: object, expected: str) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        records_to_inputs(records, SPEC)  # type: ignore[arg-type]


def test_spec_round_trips_through_its_metadata_form() -> None:
    stored = SPEC.to_dict()
    assert stored["kind"] == "tabular"
    assert stored["numeric_input"] == NUMERIC_INPUT
    assert stored["string_input"] == STRING_INPUT
    assert TabularSpec.from_dict(stored) == SPEC


def test_spec_declares_one_tensor_per_kind() -> None:
    assert SPEC.input_specs() == (
        TensorSpec(NUMERIC_INPUT, DataType.FP32, (2,)),
        TensorSpec(STRING_INPUT, DataType.STRING, (1,)),
    )


def test_text_model_metadata_is_not_a_tabular_spec() -> None:
    with pytest.raises(InvalidInputError, match="does not take feature records"):
        TabularSpec.from_dict({"tokenizer": {"kind": "none"}})
