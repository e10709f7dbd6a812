"""Double-precision tabular exports that used to fall back to float32 or fail to load,
found by benchmarks/conversion_zoo.py: an imputer before XGBoost (published, then served
wrong answers near tree thresholds), a ColumnTransformer before HistGradientBoosting
(ONNX Runtime could not load the graph)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from mlserve.converters.loading import export_native_model
from mlserve.converters.tabular import records_to_inputs
from mlserve.converters.tabular.inspection import inspect_model
from mlserve.converters.tabular.onnx_graph import convert_to_onnx
from mlserve.converters.tabular.parity import make_session
from mlserve.converters.tabular.spec import TabularSpec

NUMERIC = ["amount (€)", "months", "age", "income", "ratio"]


def loans(n: int = 700) -> tuple[pd.DataFrame, Any]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "amount (€)": rng.lognormal(9, 0.6, n).round(2),
            "months": rng.choice([12, 24, 36, 48, 60], n).astype(float),
            "age": rng.integers(19, 75, n).astype(float),
            "income": rng.normal(38000, 12000, n).round(0),
            "ratio": rng.random(n).round(4),
            "region": rng.choice(["île-de-france", "bretagne", "occitanie"], n),
        }
    )
    frame.loc[rng.random(n) < 0.08, "income"] = np.nan
    risk = frame["amount (€)"] / 20000 - frame["income"].fillna(38000) / 60000 + frame["ratio"]
    return frame, np.digitize(risk, [0.3, 0.9]).astype(int)


def pipeline(estimator: Any) -> Pipeline:
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", estimator)])


def served(exported: Any, frame: pd.DataFrame) -> Any:
    session = ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]
    feeds = records_to_inputs(records, TabularSpec.from_dict(exported.preprocessing))
    feeds["input"] = feeds["input"].astype(np.float64)
    return session.run(["probabilities"], feeds)[0]


def test_imputer_and_scaler_before_xgboost_are_exported_in_double_and_serve_exactly() -> None:
    frame, classes = loans()
    model = pipeline(XGBClassifier(n_estimators=40, n_jobs=1)).fit(frame[:500], classes[:500])

    exported = export_native_model(model, name="loans")  # no --background: synthetic rows

    ops = [node.op_type for node in exported.onnx_model.graph.node]
    assert "Imputer" not in ops  # float-only in ONNX Runtime: replaced by IsNaN + Where
    assert "IsNaN" in ops
    assert exported.parity.passed, exported.parity.summary()
    held_out = frame[500:]
    np.testing.assert_allclose(
        served(exported, held_out), model.predict_proba(held_out), rtol=0, atol=1e-6
    )


def test_double_trees_after_a_float_concat_load_in_onnx_runtime() -> None:
    frame, classes = loans()
    model = pipeline(HistGradientBoostingClassifier(max_iter=20)).fit(frame, classes)
    anatomy = inspect_model(model, None)

    graph = convert_to_onnx(anatomy, 3, double=True)

    make_session(graph)  # raised "TreeEnsemble could not unpack ... nodes_values_as_tensor"
    casts = [n for n in graph.graph.node if n.name.endswith("_mlserve_float64")]
    assert casts, "the tree input is cast to double"
