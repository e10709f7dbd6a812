"""Native model vs ONNX export on the same rows.

The native model gets the rows as the caller wrote them (float64), the export gets them as
Triton will (float32, exactly what :func:`records_to_inputs` builds): parity measures what a
client sees. (Feeding the native model float32-rounded values instead makes scikit-learn's
HistGradientBoosting disagree on rows that sit exactly on a threshold, although served
predictions for the original values agree.)

Tolerances (absolute differences, checked with :func:`compare_outputs`):

* classification: probabilities within ``PROBA_TOLERANCE`` (1e-4) and the same argmax label;
* regression: relative error ``1e-5`` (``max(1e-5, 1e-5 * max|prediction|)`` over the
  parity rows) — float32 error grows with the magnitude of the summed
  leaves/coefficients, i.e. with the target's scale;
* anomaly detection: scores within ``max(1e-4, 1e-4 * max|score|)`` and identical labels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx

from mlserve.converters.base import PROBA_TOLERANCE, ParityReport, compare_outputs
from mlserve.converters.tabular.inspection import ModelAnatomy
from mlserve.converters.tabular.records import records_to_arrays
from mlserve.converters.tabular.spec import (
    LABEL,
    NUMERIC_INPUT,
    PREDICTION,
    PROBABILITIES,
    SCORES,
    STRING_INPUT,
)
from mlserve.errors import ConversionError, InvalidInputError, MLServeError

PARITY_ROWS = 500
"""Most background rows compared (evenly spaced over what was given)."""
SYNTHETIC_ROWS = 200
"""Rows generated when no background data is given."""
MISSING_PROBE_ROWS = 64
"""Rows given NaN values to find out whether missing values can be served."""
REGRESSION_ABS_TOLERANCE = 1e-5
REGRESSION_RELATIVE_TOLERANCE = 1e-5
RELATIVE_TOLERANCE = 1e-4

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class ParityRows:
    """The rows a parity check runs on: float64 numbers and strings, keyed like the inputs."""

    values: dict[str, Array]
    source: Literal["background", "synthetic", "thresholds"]
    numeric_dtype: Literal["float32", "float64"] = "float32"

    @property
    def inputs(self) -> dict[str, Array]:
        """The tensors the export receives (numbers as the export's input type)."""
        dtype = np.float64 if self.numeric_dtype == "float64" else np.float32
        return {
            name: array.astype(dtype) if name == NUMERIC_INPUT else array
            for name, array in self.values.items()
        }

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.values.values())))

    def take(self, rows: Array | slice) -> ParityRows:
        return ParityRows(
            {k: v[rows] for k, v in self.values.items()}, self.source, self.numeric_dtype
        )


def background_rows(anatomy: ModelAnatomy, records: list[dict[str, Any]]) -> ParityRows:
    """Validate the background records (missing values allowed) and pick parity rows."""
    lenient = replace(anatomy.spec, accepts_missing=True)
    try:
        values = records_to_arrays(records, lenient)
    except InvalidInputError as exc:
        raise InvalidInputError(f"background_data: {exc.message}") from None
    rows = ParityRows(values, "background")
    if rows.n_rows > PARITY_ROWS:
        rows = rows.take(np.linspace(0, rows.n_rows - 1, PARITY_ROWS).round().astype(int))
    return rows


def synthetic_rows(anatomy: ModelAnatomy, n_rows: int = SYNTHETIC_ROWS) -> ParityRows:
    """Rows spanning several numeric scales, categories drawn from the fitted encoders."""
    rng = np.random.default_rng(0)
    spec = anatomy.spec
    scales = np.array([1.0, 10.0, 100.0, 1000.0])[np.arange(n_rows) % 4]
    values: dict[str, Array] = {}
    if spec.numeric_features:
        columns = []
        for name in spec.numeric_features:
            known = anatomy.categories.get(name)
            if known:
                columns.append(rng.choice(np.asarray(known, dtype=np.float64), n_rows))
            else:
                columns.append(rng.standard_normal(n_rows) * scales)
        values[NUMERIC_INPUT] = np.column_stack(columns)
    if spec.string_features:
        strings = np.empty((n_rows, len(spec.string_features)), dtype=object)
        for j, name in enumerate(spec.string_features):
            known = [str(c) for c in anatomy.categories.get(name, [])] or ["unknown"]
            strings[:, j] = [known[i] for i in rng.integers(0, len(known), n_rows)]
        values[STRING_INPUT] = strings
    return ParityRows(values, "synthetic")


def native_input(anatomy: ModelAnatomy, values: dict[str, Array]) -> Any:
    """The rows as the native model takes them: a DataFrame, or an array."""
    spec = anatomy.spec
    columns: dict[str, Array] = {}
    for j, name in enumerate(spec.numeric_features):
        columns[name] = values[NUMERIC_INPUT][:, j].astype(np.float64)
    for j, name in enumerate(spec.string_features):
        columns[name] = values[STRING_INPUT][:, j]
    if anatomy.model_columns is None:
        return np.column_stack([columns[n] for n in spec.names])
    import pandas as pd

    n_rows = len(next(iter(columns.values())))
    for name in spec.ignored:
        columns[name] = np.zeros(n_rows)
    return pd.DataFrame({name: columns[name] for name in anatomy.model_columns})


def native_outputs(anatomy: ModelAnatomy, values: dict[str, Array]) -> Array:
    """Native scores as a matrix: probabilities, predictions, or (score, label) columns."""
    model = anatomy.model
    features = native_input(anatomy, values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if anatomy.task == "classification":
            result = np.asarray(model.predict_proba(features), dtype=np.float64)
        elif anatomy.task == "regression":
            result = np.asarray(model.predict(features), dtype=np.float64).reshape(
                len(features), -1
            )
        else:
            scores = np.asarray(model.decision_function(features), dtype=np.float64)
            labels = np.asarray(model.predict(features), dtype=np.float64)
            result = np.column_stack([scores.ravel(), labels.ravel()])
    return result


def run_native(anatomy: ModelAnatomy, rows: ParityRows) -> Array:
    """:func:`native_outputs`, with failures explained for the deploy caller."""
    try:
        return native_outputs(anatomy, rows.values)
    except Exception as exc:
        reason = _first_line(exc)
        if rows.source == "synthetic":
            raise ConversionError(
                f"{anatomy.type_name} failed on synthetic rows ({reason}); "
                "pass background_data with real rows"
            ) from exc
        numeric = rows.values.get(NUMERIC_INPUT)
        if numeric is not None and np.isnan(numeric).any():
            raise InvalidInputError(
                f"background_data has missing values but {anatomy.type_name} rejects them "
                f"({reason}): drop or fill those rows"
            ) from exc
        raise InvalidInputError(
            f"{anatomy.type_name} failed on background_data ({reason}): send rows like "
            "those the model was trained on"
        ) from exc


def make_session(model: onnx.ModelProto) -> Any:
    """A single-threaded ONNX Runtime session (parity runs beside serving)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise ConversionError(f"ONNX Runtime cannot load the export: {_first_line(exc)}") from exc


def onnx_outputs(anatomy: ModelAnatomy, session: Any, inputs: dict[str, Array]) -> Array:
    """The export's outputs, shaped like :func:`native_outputs`."""
    if anatomy.task == "classification":
        (result,) = session.run([PROBABILITIES], inputs)
    elif anatomy.task == "regression":
        (result,) = session.run([PREDICTION], inputs)
    else:
        scores, labels = session.run([SCORES, LABEL], inputs)
        result = np.column_stack([scores.ravel(), labels.ravel()])
    return np.asarray(result, dtype=np.float64)


def tolerance_for(anatomy: ModelAnatomy, native: Array) -> float:
    """The absolute tolerance of the task (see the module docstring)."""
    if anatomy.task == "classification":
        return PROBA_TOLERANCE
    values = native[:, 0] if anatomy.task == "anomaly-detection" else native
    scale = float(np.abs(values).max()) if values.size else 0.0
    if anatomy.task == "regression":
        return max(REGRESSION_ABS_TOLERANCE, REGRESSION_RELATIVE_TOLERANCE * scale)
    return max(PROBA_TOLERANCE, RELATIVE_TOLERANCE * scale)


def compare(
    anatomy: ModelAnatomy, rows: ParityRows, native: Array, exported: Array
) -> ParityReport:
    """Compare native and ONNX outputs of ``rows`` under the task's rule."""
    samples = describe_rows(anatomy, rows.values)
    tolerance = tolerance_for(anatomy, native)
    if anatomy.task != "anomaly-detection" or native.shape != exported.shape:
        return compare_outputs(
            samples,
            native,
            exported,
            compare_argmax=anatomy.task == "classification",
            tolerance=tolerance,
        )
    report = compare_outputs(
        samples, native[:, :1], exported[:, :1], compare_argmax=False, tolerance=tolerance
    )
    flipped = np.flatnonzero(native[:, 1] != exported[:, 1])
    report.mismatches.extend(
        {
            "index": int(i),
            "input": str(samples[i])[:200],
            "native": [float(native[i, 1])],
            "onnx": [float(exported[i, 1])],
            "reason": "outlier label differs",
        }
        for i in flipped
        if not any(m.get("index") == int(i) for m in report.mismatches)
    )
    return report


def check_parity(
    anatomy: ModelAnatomy, session: Any, rows: ParityRows, native: Array
) -> ParityReport:
    """Run the export on ``rows`` and compare with the native outputs."""
    try:
        exported = onnx_outputs(anatomy, session, rows.inputs)
    except Exception as exc:
        raise ConversionError(
            f"ONNX Runtime failed on the export of {anatomy.type_name}: {_first_line(exc)}"
        ) from exc
    return compare(anatomy, rows, native, exported)


def probe_missing(anatomy: ModelAnatomy, session: Any, rows: ParityRows) -> tuple[bool, str]:
    """Whether NaN inputs may be served: the native model takes them and ONNX agrees."""
    if NUMERIC_INPUT not in rows.values:
        return False, "the model has no numeric features"
    probe = rows.take(slice(0, MISSING_PROBE_ROWS))
    holes = probe.values[NUMERIC_INPUT].copy()
    n_rows, n_cols = holes.shape
    holes[np.arange(n_rows), np.arange(n_rows) % n_cols] = np.nan
    holes[0, :] = np.nan
    probe = ParityRows({**probe.values, NUMERIC_INPUT: holes}, probe.source, probe.numeric_dtype)
    try:
        native = native_outputs(anatomy, probe.values)
    except Exception as exc:
        return False, f"the native model rejects missing values ({_first_line(exc)})"
    if not np.isfinite(native).all():
        return False, "the native model returns NaN for missing values"
    try:
        exported = onnx_outputs(anatomy, session, probe.inputs)
    except Exception as exc:
        return False, f"the ONNX export fails on missing values ({_first_line(exc)})"
    report = compare(anatomy, probe, native, exported)
    if not report.passed:
        return False, f"the ONNX export disagrees on missing values ({report.summary()})"
    return True, f"native and ONNX agree on {n_rows} rows with missing values"


def describe_rows(anatomy: ModelAnatomy, values: dict[str, Array]) -> list[dict[str, Any]]:
    """Rows back as records (NaN as None), for mismatch reports."""
    spec = anatomy.spec
    numeric = values.get(NUMERIC_INPUT)
    strings = values.get(STRING_INPUT)
    n_rows = len(numeric if numeric is not None else strings)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = [{} for _ in range(n_rows)]
    for j, name in enumerate(spec.numeric_features):
        for i, value in enumerate(numeric[:, j].tolist()):  # type: ignore[index]
            rows[i][name] = None if math.isnan(value) else value
    for j, name in enumerate(spec.string_features):
        for i, value in enumerate(strings[:, j].tolist()):  # type: ignore[index]
            rows[i][name] = value
    return [{name: row[name] for name in spec.names} for row in rows]


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, MLServeError):
        return exc.message
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
