"""What the tabular exporter says about models and data it cannot take."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xgboost
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.svm import LinearSVC

from mlserve.converters.tabular import PREDICTION, export_tabular_model
from mlserve.errors import ConversionError, InvalidInputError
from mlserve.triton.model_config import DataType, TensorSpec

FEATURES = ["a", "b", "c", "d"]


def data() -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    x, y = make_classification(n_samples=120, n_features=4, random_state=0)
    return pd.DataFrame(x, columns=FEATURES), y


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.to_dict(orient="records")
    return rows


def test_clusterer_is_not_supported_and_the_message_lists_what_is() -> None:
    frame, _ = data()
    with pytest.raises(ConversionError) as caught:
        export_tabular_model(KMeans(n_clusters=2, n_init=1).fit(frame))
    message = caught.value.message
    assert "KMeans is neither a classifier, a regressor nor an outlier detector" in message
    assert "supported:" in message
    assert "XGBClassifier" in message
    assert "\n" not in message
    assert caught.value.status_code == 400


def test_raw_xgboost_booster_is_not_supported() -> None:
    frame, y = data()
    booster = xgboost.train({"max_depth": 2}, xgboost.DMatrix(frame, label=y), 3)
    with pytest.raises(ConversionError, match=r"xgboost\.core\.Booster is not supported"):
        export_tabular_model(booster)


def test_objects_from_other_libraries_are_not_supported() -> None:
    with pytest.raises(ConversionError, match=r"builtins\.dict is not supported; supported:"):
        export_tabular_model({"weights": [1, 2]})


def test_classifier_without_probabilities_is_refused_with_a_fix() -> None:
    frame, y = data()
    with pytest.raises(ConversionError, match=r"LinearSVC has no predict_proba.*Calibrated"):
        export_tabular_model(LinearSVC().fit(frame, y))


def test_unfitted_model_is_refused() -> None:
    with pytest.raises(ConversionError, match="is not fitted: fit it before deploying"):
        export_tabular_model(LogisticRegression(), features=FEATURES)


def test_multi_output_classifier_is_refused() -> None:
    frame, y = data()
    forest = RandomForestClassifier(n_estimators=5).fit(frame, np.column_stack([y, 1 - y]))
    with pytest.raises(ConversionError, match="multi-output classifier"):
        export_tabular_model(forest)


def test_multi_output_regressor_predicts_one_column_per_target() -> None:
    frame, y = data()
    targets = np.column_stack([frame["a"] * 2 + y, frame["b"] - 1])
    exported = export_tabular_model(
        LinearRegression().fit(frame, targets), background=records(frame)
    )
    assert exported.parity.passed, exported.parity.summary()
    assert exported.outputs == (TensorSpec(PREDICTION, DataType.FP32, (2,)),)


def test_step_skl2onnx_cannot_convert_gives_a_one_line_reason() -> None:
    frame, y = data()
    pipeline = Pipeline(
        [("log", FunctionTransformer(np.log1p)), ("model", LogisticRegression())]
    ).fit(frame.abs(), y)
    with pytest.raises(ConversionError) as caught:
        export_tabular_model(pipeline, background=records(frame.abs()))
    assert caught.value.message.startswith("could not convert sklearn.pipeline.Pipeline to ONNX")
    assert "\n" not in caught.value.message


def test_model_failing_on_synthetic_rows_asks_for_background_data() -> None:
    frame, y = data()
    pipeline = Pipeline(
        [("log", FunctionTransformer(np.log1p)), ("model", LogisticRegression())]
    ).fit(frame.abs(), y)
    with pytest.raises(ConversionError, match=r"failed on synthetic rows .*pass background_data"):
        export_tabular_model(pipeline)


def test_model_trained_on_an_array_needs_feature_names() -> None:
    frame, y = data()
    model = LogisticRegression().fit(frame.to_numpy(), y)
    with pytest.raises(ConversionError) as caught:
        export_tabular_model(model)
    assert "pass `features` with its 4 column names in training order" in caught.value.message


def test_feature_count_must_match_an_array_trained_model() -> None:
    frame, y = data()
    model = LogisticRegression().fit(frame.to_numpy(), y)
    with pytest.raises(ConversionError, match=r"lists 3 names but .* takes 4 columns"):
        export_tabular_model(model, features=["a", "b", "c"])


def test_features_must_match_the_training_columns() -> None:
    frame, y = data()
    model = LogisticRegression().fit(frame, y)
    with pytest.raises(ConversionError) as caught:
        export_tabular_model(model, features=["a", "b", "c", "x"])
    assert "missing ['d'], unknown ['x']" in caught.value.message


@pytest.mark.parametrize(
    ("features", "expected"),
    [(["a", "a", "b", "c"], r"lists \['a'\] more than once"), ([], "non-empty list")],
)
def test_feature_lists_must_be_valid(features: list[str], expected: str) -> None:
    frame, y = data()
    with pytest.raises(ConversionError, match=expected):
        export_tabular_model(LogisticRegression().fit(frame, y), features=features)


def test_background_with_a_text_value_in_a_numeric_column_names_the_cell() -> None:
    frame, y = data()
    rows = records(frame)
    rows[2]["b"] = "n/a"
    with pytest.raises(InvalidInputError) as caught:
        export_tabular_model(LogisticRegression().fit(frame, y), background=rows)
    assert caught.value.message.startswith("background_data: records[2].b must be a number")


def test_background_missing_a_feature_is_refused() -> None:
    frame, y = data()
    with pytest.raises(InvalidInputError, match=r"background_data: records\[0\] is missing .*'d'"):
        export_tabular_model(
            LogisticRegression().fit(frame, y), background=records(frame.drop(columns="d"))
        )


def test_background_with_gaps_the_model_cannot_take_is_refused() -> None:
    frame, y = data()
    holes = frame.copy()
    holes.loc[3, "a"] = np.nan
    with pytest.raises(InvalidInputError) as caught:
        export_tabular_model(LogisticRegression().fit(frame, y), background=records(holes))
    assert "background_data has missing values" in caught.value.message
    assert "drop or fill those rows" in caught.value.message


def test_background_with_categories_the_model_never_saw_is_refused() -> None:
    frame = pd.DataFrame({"colour": ["red", "blue"] * 30, "size": np.arange(60.0)})
    y = np.arange(60) % 2
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("colour", OneHotEncoder(handle_unknown="error"), ["colour"])],
                    remainder="passthrough",
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, y)
    rows = records(frame)
    rows[5]["colour"] = "green"
    with pytest.raises(InvalidInputError, match=r"failed on background_data .*green"):
        export_tabular_model(pipeline, background=rows)


def test_background_must_be_records() -> None:
    frame, y = data()
    with pytest.raises(InvalidInputError, match="background_data must be a list of records"):
        export_tabular_model(LogisticRegression().fit(frame, y), background="a,b,c,d")
