"""Exporting tabular models: every supported family, checked against ONNX Runtime here.

Each test exports a small fitted model, then runs the ONNX graph itself on tensors built
by ``records_to_inputs`` and compares with the native model, independently of the
exporter's own parity report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import OneClassSVM
from xgboost import XGBClassifier, XGBRegressor

from mlserve.converters.base import ExportedModel
from mlserve.converters.tabular import (
    LABEL,
    NUMERIC_INPUT,
    PREDICTION,
    PROBABILITIES,
    SCORES,
    STRING_INPUT,
    TabularSpec,
    export_tabular_model,
    records_to_inputs,
)
from mlserve.repository import ModelRepository
from mlserve.triton.model_config import DataType, TensorSpec

FEATURES = [f"f{i}" for i in range(6)]


def classification_frame(n_classes: int = 3) -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    x, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=0
    )
    return pd.DataFrame(x, columns=FEATURES), y


def regression_frame() -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    x, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    return pd.DataFrame(x, columns=FEATURES), y


def customers() -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    """Mixed numeric/categorical rows with gaps, an id column and string labels."""
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "age": rng.normal(45, 12, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "monthly_spend": rng.gamma(2.0, 30.0, n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    frame.loc[::17, "age"] = np.nan
    churn = (frame["plan"] == "basic") & (frame["monthly_spend"] < 60)
    return frame, np.where(churn, "churn", "stay")


def customer_pipeline() -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    columns = ColumnTransformer(
        [
            ("numeric", numeric, ["age", "monthly_spend"]),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ],
        remainder="drop",
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=500))])


def run_onnx(
    exported: ExportedModel, inputs: dict[str, npt.NDArray[Any]]
) -> dict[str, npt.NDArray[Any]]:
    session = ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    assert [i.name for i in session.get_inputs()] == [s.name for s in exported.inputs]
    names = [s.name for s in exported.outputs]
    return dict(zip(names, session.run(names, inputs), strict=True))


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.to_dict(orient="records")
    return rows


CLASSIFIERS = [
    pytest.param(LogisticRegression(max_iter=500), "sklearn", id="logistic-regression"),
    pytest.param(
        RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0),
        "sklearn",
        id="random-forest",
    ),
    pytest.param(
        GradientBoostingClassifier(n_estimators=20, random_state=0),
        "sklearn",
        id="gradient-boosting",
    ),
    pytest.param(HistGradientBoostingClassifier(max_iter=20), "sklearn", id="hist-gradient"),
    pytest.param(XGBClassifier(n_estimators=20, max_depth=4, n_jobs=1), "xgboost", id="xgboost"),
    pytest.param(
        LGBMClassifier(n_estimators=20, num_leaves=15, n_jobs=1, verbose=-1),
        "lightgbm",
        id="lightgbm",
    ),
]


@pytest.mark.parametrize(("model", "framework"), CLASSIFIERS)
def test_classifier_exports_probabilities_matching_the_native_model(
    model: Any, framework: str
) -> None:
    frame, y = classification_frame()
    model.fit(frame, y)
    exported = export_tabular_model(model, background=records_of(frame))

    assert exported.parity.passed, exported.parity.summary()
    assert exported.parity.n_samples == 300
    assert (exported.task, exported.framework, exported.input_kind) == (
        "classification",
        framework,
        "tabular",
    )
    assert exported.labels == ["0", "1", "2"]
    assert exported.features == FEATURES
    # every new version takes float64 (float32 estimators cast inside the graph)
    assert exported.inputs == (TensorSpec(NUMERIC_INPUT, DataType.FP64, (6,)),)
    assert exported.outputs == (TensorSpec(PROBABILITIES, DataType.FP32, (3,)),)
    assert exported.reference_data == [
        {k: float(v) for k, v in row.items()} for row in records_of(frame)
    ]

    spec = TabularSpec.from_dict(exported.preprocessing)
    probabilities = run_onnx(exported, records_to_inputs(records_of(frame), spec))[PROBABILITIES]
    native = model.predict_proba(frame)
    assert np.abs(probabilities - native).max() < 1e-4
    predicted = np.asarray(exported.labels)[probabilities.argmax(axis=1)]
    assert (predicted == model.predict(frame).astype(str)).all()


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(XGBClassifier(n_estimators=20, n_jobs=1), id="xgboost"),
        pytest.param(LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1), id="lightgbm"),
        pytest.param(LogisticRegression(), id="logistic-regression"),
    ],
)
def test_binary_classifier_has_two_probability_columns(model: Any) -> None:
    frame, y = classification_frame(n_classes=2)
    model.fit(frame, y)
    exported = export_tabular_model(model, background=records_of(frame))
    assert exported.parity.passed, exported.parity.summary()
    assert exported.outputs == (TensorSpec(PROBABILITIES, DataType.FP32, (2,)),)
    inputs = records_to_inputs(records_of(frame[:5]), TabularSpec.from_dict(exported.preprocessing))
    probabilities = run_onnx(exported, inputs)[PROBABILITIES]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


REGRESSORS = [
    pytest.param(LinearRegression(), "sklearn", id="linear-regression"),
    pytest.param(Ridge(alpha=0.5), "sklearn", id="ridge"),
    pytest.param(RandomForestRegressor(n_estimators=10, random_state=0), "sklearn", id="forest"),
    pytest.param(HistGradientBoostingRegressor(max_iter=20), "sklearn", id="hist-gradient"),
    pytest.param(XGBRegressor(n_estimators=20, n_jobs=1), "xgboost", id="xgboost"),
    pytest.param(LGBMRegressor(n_estimators=20, n_jobs=1, verbose=-1), "lightgbm", id="lightgbm"),
]


@pytest.mark.parametrize(("model", "framework"), REGRESSORS)
def test_regressor_exports_predictions_matching_the_native_model(
    model: Any, framework: str
) -> None:
    frame, y = regression_frame()
    model.fit(frame, y)
    exported = export_tabular_model(model, background=records_of(frame))

    assert exported.parity.passed, exported.parity.summary()
    assert (exported.task, exported.framework, exported.labels) == ("regression", framework, [])
    assert exported.outputs == (TensorSpec(PREDICTION, DataType.FP32, (1,)),)
    spec = TabularSpec.from_dict(exported.preprocessing)
    prediction = run_onnx(exported, records_to_inputs(records_of(frame), spec))[PREDICTION]
    native = model.predict(frame)
    tolerance = max(1e-3, 1e-4 * np.abs(native).max())
    assert prediction.shape == (300, 1)
    assert np.abs(prediction[:, 0] - native).max() <= tolerance


def test_pipeline_with_categorical_columns_takes_numeric_and_string_tensors() -> None:
    frame, y = customers()
    pipeline = customer_pipeline().fit(frame, y)
    exported = export_tabular_model(pipeline, background=records_of(frame))

    assert exported.parity.passed, exported.parity.summary()
    assert exported.features == ["age", "plan", "monthly_spend", "region"]
    assert exported.inputs == (
        TensorSpec(NUMERIC_INPUT, DataType.FP64, (2,)),
        TensorSpec(STRING_INPUT, DataType.STRING, (2,)),
    )
    assert exported.labels == ["churn", "stay"]
    spec = TabularSpec.from_dict(exported.preprocessing)
    assert spec.numeric_features == ["age", "monthly_spend"]
    assert spec.string_features == ["plan", "region"]
    assert spec.ignored == ("customer_id",)
    assert spec.accepts_missing, exported.extra["missing_values"]

    inputs = records_to_inputs(records_of(frame), spec)
    assert inputs[STRING_INPUT][0].tolist() == [frame["plan"][0], frame["region"][0]]
    probabilities = run_onnx(exported, inputs)[PROBABILITIES]
    native = pipeline.predict_proba(frame)
    assert np.abs(probabilities - native).max() < 1e-4

    gap = {"customer_id": "new", "age": None, "plan": "pro", "monthly_spend": 10.0, "region": "x"}
    served = run_onnx(exported, records_to_inputs([gap], spec))[PROBABILITIES]
    expected = pipeline.predict_proba(pd.DataFrame([gap]).astype({"age": float}))
    assert np.abs(served - expected).max() < 1e-4


def test_categorical_pipeline_without_background_checks_parity_on_synthetic_rows() -> None:
    frame, y = customers()
    exported = export_tabular_model(customer_pipeline().fit(frame, y))
    assert exported.parity.passed, exported.parity.summary()
    assert exported.parity.n_samples == 200
    assert exported.extra["parity_data"] == "synthetic"
    assert exported.reference_data is None


@pytest.mark.parametrize(
    "detector",
    [
        pytest.param(IsolationForest(n_estimators=30, random_state=0), id="isolation-forest"),
        pytest.param(OneClassSVM(nu=0.1), id="one-class-svm"),
    ],
)
def test_outlier_detector_exports_scores_and_labels(detector: Any) -> None:
    frame, _ = classification_frame()
    detector.fit(frame)
    exported = export_tabular_model(detector, background=records_of(frame))

    assert exported.parity.passed, exported.parity.summary()
    assert exported.task == "anomaly-detection"
    assert exported.outputs == (
        TensorSpec(SCORES, DataType.FP32, (1,)),
        TensorSpec(LABEL, DataType.INT64, (1,)),
    )
    spec = TabularSpec.from_dict(exported.preprocessing)
    served = run_onnx(exported, records_to_inputs(records_of(frame), spec))
    native = frame
    assert served[LABEL].dtype == np.int64
    assert set(np.unique(served[LABEL])) == {-1, 1}
    np.testing.assert_array_equal(served[LABEL][:, 0], detector.predict(native))
    assert np.abs(served[SCORES][:, 0] - detector.decision_function(native)).max() < 1e-4


def test_models_trained_on_arrays_take_their_feature_names_from_the_caller() -> None:
    frame, y = classification_frame()
    model = LogisticRegression(max_iter=500).fit(frame.to_numpy(), y)
    names = ["a", "b", "c", "d", "e", "f"]
    renamed = frame.set_axis(names, axis=1)
    exported = export_tabular_model(model, features=names, background=records_of(renamed))
    assert exported.parity.passed, exported.parity.summary()
    assert exported.features == names


def test_features_in_another_order_follow_the_training_order() -> None:
    frame, y = classification_frame()
    model = XGBClassifier(n_estimators=10, n_jobs=1).fit(frame, y)
    exported = export_tabular_model(model, features=list(reversed(FEATURES)))
    assert exported.features == FEATURES
    assert exported.parity.passed, exported.parity.summary()


def test_missing_values_are_accepted_only_where_native_and_onnx_agree() -> None:
    frame, y = classification_frame()
    holes = frame.copy()
    holes.loc[::5, "f0"] = np.nan
    boosted = export_tabular_model(HistGradientBoostingClassifier(max_iter=20).fit(holes, y))
    linear = export_tabular_model(LogisticRegression().fit(frame, y))
    assert boosted.preprocessing["accepts_missing"] is True
    assert linear.preprocessing["accepts_missing"] is False
    assert "rejects missing values" in linear.extra["missing_values"]["reason"]


def test_forest_trained_with_missing_values_fails_parity_and_cannot_be_published(
    tmp_path: Any,
) -> None:
    """scikit-learn trees route NaN through learned branches; skl2onnx's trees do not."""
    frame, y = classification_frame()
    frame.loc[::3, "f0"] = np.nan
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, y)
    exported = export_tabular_model(forest, background=records_of(frame))

    assert not exported.parity.passed
    assert exported.parity.max_abs_diff > 1e-2
    assert exported.parity.mismatches
    assert exported.preprocessing["accepts_missing"] is False
    from mlserve.errors import ParityError

    with pytest.raises(ParityError, match="parity FAILED"):
        ModelRepository(tmp_path / "models").publish_version(exported, "forest")


def test_published_version_keeps_features_task_labels_and_spec(tmp_path: Any) -> None:
    frame, y = customers()
    exported = export_tabular_model(customer_pipeline().fit(frame, y), background=records_of(frame))
    repository = ModelRepository(tmp_path / "models")
    metadata = repository.publish_version(exported, "churn")

    stored = repository.metadata("churn", metadata.version)
    assert stored.task == "classification"
    assert stored.input_kind == "tabular"
    assert stored.labels == ["churn", "stay"]
    assert stored.features == ["age", "plan", "monthly_spend", "region"]
    assert [(t.name, t.datatype, t.dims) for t in stored.inputs] == [
        (NUMERIC_INPUT, "FP64", [2]),
        (STRING_INPUT, "STRING", [2]),
    ]
    spec = TabularSpec.from_dict(stored.preprocessing)
    assert spec == TabularSpec.from_dict(exported.preprocessing)
    config = (tmp_path / "models" / "churn" / "config.pbtxt").read_text()
    assert 'name: "input_str"' in config
    assert "TYPE_STRING" in config
    assert 'label_filename: "labels.txt"' in config
