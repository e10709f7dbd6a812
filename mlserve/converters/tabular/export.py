"""Export a fitted tabular model (scikit-learn, XGBoost, LightGBM, CatBoost) to a checked ONNX
model."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from mlserve.converters.base import ExportedModel
from mlserve.converters.tabular.catboost_export import (
    catboost_to_onnx,
    inspect_catboost,
    is_catboost,
)
from mlserve.converters.tabular.inspection import ModelAnatomy, inspect_model
from mlserve.converters.tabular.onnx_graph import (
    TARGET_OPSET,
    convert_to_onnx,
    has_nonfinite_thresholds,
    widen_numeric_input,
)
from mlserve.converters.tabular.parity import (
    ParityRows,
    background_rows,
    check_parity,
    make_session,
    probe_missing,
    run_native,
    synthetic_rows,
)
from mlserve.converters.tabular.spec import LABEL, PREDICTION, PROBABILITIES, SCORES
from mlserve.converters.tabular.threshold_rows import combine, threshold_rows
from mlserve.errors import ConversionError, InvalidInputError
from mlserve.triton.model_config import DataType, TensorSpec

REFERENCE_ROWS = 1000
"""Background rows kept as reference data (and the most that are validated and compared)."""

DOUBLE_FRAMEWORKS = ("sklearn", "xgboost", "lightgbm")
"""Libraries whose exports are tried with float64 input first."""

Background = Sequence[Mapping[str, Any]] | Any
"""Records (``[{"feature": value}, ...]``, as the SDK's ``background_data``) or a DataFrame."""


def export_tabular_model(
    model: Any,
    *,
    features: Sequence[str] | None = None,
    background: Background | None = None,
    input_dtype: Literal["float32", "float64"] = "float64",
) -> ExportedModel:
    """Export ``model`` to ONNX, check parity, and describe it for publishing.

    Features come from ``features``, else the model's ``feature_names_in_``, else a
    :class:`ConversionError` asks for them. When both exist they must name the same columns;
    the training order wins (it fixes the tensor layout). Parity runs on up to 500 of the
    first 1000 background rows, or without background on synthetic rows plus rows at and
    one float32 step around every tree threshold; a
    failed check is returned in ``parity`` (publishing refuses it) rather than raised.

    ``input_dtype`` is the type of the ``input`` tensor: float64 for new models; float32
    when earlier versions of the same model take float32 (Triton keeps one input type per
    model), at the cost of exactness where float32 rounds before preprocessing.

    Raises :class:`ConversionError` for unsupported or unconvertible models and
    :class:`InvalidInputError` for background rows that do not fit the model. The result's
    ``preprocessing`` is the :class:`TabularSpec` (``TabularSpec.from_dict``) the predict
    path needs for :func:`records_to_inputs`.
    """
    anatomy = (
        inspect_catboost(model, features) if is_catboost(model) else inspect_model(model, features)
    )
    records = _records(background, REFERENCE_ROWS) if background is not None else []
    if records:
        rows = background_rows(anatomy, records)
    else:
        base = synthetic_rows(anatomy)
        rows = combine(base, threshold_rows(anatomy, base))
    native = run_native(anatomy, rows)
    width = native.shape[1] if anatomy.task == "regression" else 1
    onnx_model, session, rows = _convert(anatomy, width, rows, input_dtype)
    report = check_parity(anatomy, session, rows, native)
    if not report.passed and input_dtype == "float32":
        report.likely_cause = (
            "float32 rounding before preprocessing or at tree thresholds: earlier versions of "
            "this model take float32 input, so this one must too; publish it under a new "
            "name to get an exact float64 export"
        )
    if report.passed:
        accepts_missing, missing_reason = probe_missing(anatomy, session, rows)
    else:
        accepts_missing, missing_reason = False, "parity failed"
    spec = replace(anatomy.spec, accepts_missing=accepts_missing, numeric_dtype=rows.numeric_dtype)
    return ExportedModel(
        onnx_model=onnx_model,
        framework=anatomy.framework,
        input_kind="tabular",
        inputs=spec.input_specs(),
        outputs=_outputs(anatomy, width),
        parity=report,
        task=anatomy.task,
        labels=list(anatomy.labels),
        features=spec.names,
        preprocessing=spec.to_dict(),
        reference_data=[_reference_row(r, spec.names) for r in records] or None,
        extra={
            "model_type": anatomy.type_name,
            "parity_data": rows.source,
            "missing_values": {"accepted": accepts_missing, "reason": missing_reason},
            "onnx_opset": dict(TARGET_OPSET),
        },
    )


def _convert(
    anatomy: ModelAnatomy, width: int, rows: ParityRows, input_dtype: str = "float64"
) -> tuple[Any, Any, ParityRows]:
    """The double-precision export where it changes a decision (:func:`needs_double`),
    else the float32 one behind a float64 ``input`` (every new version takes float64)."""
    if input_dtype == "float32":  # to match the float32 input of earlier versions
        onnx_model = (
            catboost_to_onnx(anatomy)
            if anatomy.framework == "catboost"
            else convert_to_onnx(anatomy, width)
        )
        return onnx_model, make_session(onnx_model), rows
    double_rows = replace(rows, numeric_dtype="float64")
    if anatomy.framework == "catboost":
        onnx_model = catboost_to_onnx(anatomy)
        widen_numeric_input(onnx_model)
        return onnx_model, make_session(onnx_model), double_rows
    if needs_double(anatomy):
        try:
            onnx_model = convert_to_onnx(anatomy, width, double=True)
            return onnx_model, make_session(onnx_model), double_rows
        except ConversionError:
            pass
    onnx_model = convert_to_onnx(anatomy, width)
    widen_numeric_input(onnx_model)
    return onnx_model, make_session(onnx_model), double_rows


def needs_double(anatomy: ModelAnatomy) -> bool:
    """Whether the export should take float64 input: when preprocessing steps run in
    float64 before the estimator (a float32 input would round before scaling, not after),
    or when the estimator itself compares float64 values (HistGradientBoosting, LightGBM).
    A bare scikit-learn tree or XGBoost model rounds its input to float32 itself, so the
    float32 export (cheaper to convert) is already exact."""
    from sklearn.pipeline import Pipeline

    if not anatomy.spec.numeric_features or anatomy.framework not in DOUBLE_FRAMEWORKS:
        return False
    if has_nonfinite_thresholds(anatomy.model):
        return False
    preprocessed = isinstance(anatomy.model, Pipeline) and len(anatomy.model.steps) > 1
    compares_float64 = anatomy.framework == "lightgbm" or hasattr(anatomy.final, "_predictors")
    return preprocessed or compares_float64


def _outputs(anatomy: ModelAnatomy, width: int) -> tuple[TensorSpec, ...]:
    if anatomy.task == "classification":
        return (TensorSpec(PROBABILITIES, DataType.FP32, (len(anatomy.labels),)),)
    if anatomy.task == "regression":
        return (TensorSpec(PREDICTION, DataType.FP32, (width,)),)
    return (
        TensorSpec(SCORES, DataType.FP32, (1,)),
        TensorSpec(LABEL, DataType.INT64, (1,)),
    )


def _records(background: Background, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` background rows as records."""
    if callable(getattr(background, "to_dict", None)) and hasattr(background, "iloc"):
        records = background.iloc[:limit].to_dict(orient="records")
    elif isinstance(background, Sequence) and not isinstance(background, (str, bytes)):
        records = list(background[:limit])
    else:
        raise InvalidInputError(
            'background_data must be a list of records ({"feature": value} objects), '
            f"got {type(background).__name__}"
        )
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInputError(
                f"background_data: records[{i}] must be an object mapping feature name to "
                f"value, got {type(record).__name__}"
            )
    return [dict(r) for r in records]


def _reference_row(record: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    return {name: clean(record.get(name)) for name in names}
