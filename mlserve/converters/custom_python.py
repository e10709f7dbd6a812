"""A Python file with a ``predict(records)`` to a custom-model version (kind ``custom``).

The file is the model: Triton's Python backend runs it (:mod:`mlserve.kinds.custom`), so
nothing is converted. What it declares, as module-level names (or given by the caller):

* the entry point: a function ``predict(records) -> labels or values``, or a class with a
  ``predict`` method (and optionally ``predict_proba``), built without arguments;
* ``FEATURES``: feature names (numeric), or ``{name: "numeric" | "string"}``;
* ``LABELS``: the classes (classification), in the order ``predict_proba`` uses;
* ``TASK``: ``"classification"`` (default) or ``"regression"``.

Records are dicts of feature name to value, missing numbers ``None``. Before publishing,
the code runs on sample records (``background``, else zeros and empty strings): every
answer must be one of ``LABELS`` (or a number, for regressors). Loading the file runs it:
only load code you trust (``mlserve load`` is an operator command; the server never
accepts Python uploads).
"""

from __future__ import annotations

import importlib.util
import math
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlserve.converters.base import ExportedModel, ParityReport
from mlserve.converters.tabular.spec import (
    PREDICTION,
    PROBABILITIES,
    TabularFeature,
    TabularSpec,
)
from mlserve.errors import ConversionError
from mlserve.triton.model_config import DataType, TensorSpec

PYTHON_SUFFIX = ".py"
PREDICTOR_FILE = "predictor.py"


def export_custom_python(
    path: Path,
    *,
    features: Sequence[str] | None = None,
    background: Sequence[Mapping[str, Any]] | None = None,
    entry_point: str | None = None,
) -> ExportedModel:
    """The version for the model in ``path``; ConversionError names what is missing."""
    module = _load(path)
    entry_name, entry = _entry(module, entry_point, path)
    spec = _spec(getattr(module, "FEATURES", None) or features, path)
    task = str(getattr(module, "TASK", "classification"))
    if task not in ("classification", "regression"):
        raise ConversionError(f"{path.name}: TASK is {task!r}; use classification or regression")
    labels = [str(label) for label in getattr(module, "LABELS", [])]
    if task == "classification" and not labels:
        raise ConversionError(
            f"{path.name}: a classifier must list its classes in LABELS, e.g. "
            'LABELS = ["setosa", "versicolor", "virginica"]'
        )
    records = [dict(r) for r in background] if background else [_blank(spec)]
    _smoke_test(entry, records, task, labels, path)
    if task == "classification":
        outputs = (TensorSpec(PROBABILITIES, DataType.FP32, (len(labels),)),)
    else:
        outputs = (TensorSpec(PREDICTION, DataType.FP32, (1,)),)
    return ExportedModel(
        onnx_model=None,
        framework="python",
        input_kind="custom",
        inputs=spec.input_specs(),
        outputs=outputs,
        parity=ParityReport(n_samples=len(records), max_abs_diff=0.0, tolerance=0.0),
        task=task,  # type: ignore[arg-type]
        labels=labels,
        features=spec.names,
        preprocessing=spec.to_dict(),
        extra={"entry_point": entry_name, "source": path.name},
        extra_files={PREDICTOR_FILE: path},
        reference_data=list(background) if background else None,
    )


def _load(path: Path) -> Any:
    if path.suffix != PYTHON_SUFFIX or not path.is_file():
        raise ConversionError(f"{path} is not a Python file (.py)")
    spec = importlib.util.spec_from_file_location(f"mlserve_custom_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ConversionError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConversionError(
            f"{path.name} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    return module


def _entry(module: Any, name: str | None, path: Path) -> tuple[str, Any]:
    if name is not None:
        if not hasattr(module, name):
            raise ConversionError(f"{path.name} defines no {name!r}")
        candidates = [name]
    elif callable(getattr(module, "predict", None)):
        candidates = ["predict"]
    else:
        candidates = [
            n
            for n, value in vars(module).items()
            if isinstance(value, type)
            and value.__module__ == module.__name__
            and callable(getattr(value, "predict", None))
        ]
    if len(candidates) != 1:
        raise ConversionError(
            f"{path.name}: define one predict(records) function or one class with a predict "
            f"method (found {candidates or 'none'}), or name the entry point"
        )
    entry = getattr(module, candidates[0])
    try:
        built = entry() if isinstance(entry, type) else entry
    except Exception as exc:
        raise ConversionError(f"{path.name}: {candidates[0]}() failed: {exc}") from None
    return candidates[0], built


def _spec(declared: Any, path: Path) -> TabularSpec:
    if not declared:
        raise ConversionError(
            f"{path.name}: declare the features, e.g. FEATURES = ['sepal_length', ...] "
            "(or pass --features)"
        )
    if isinstance(declared, Mapping):
        items = [(str(k), str(v)) for k, v in declared.items()]
    else:
        items = [(str(name), "numeric") for name in declared]
    for name, kind in items:
        if kind not in ("numeric", "string"):
            raise ConversionError(f"{path.name}: feature {name!r} has kind {kind!r}")
    return TabularSpec(
        features=tuple(TabularFeature(name, kind) for name, kind in items),  # type: ignore[arg-type]
        accepts_missing=True,
    )


def _blank(spec: TabularSpec) -> dict[str, Any]:
    return {f.name: ("" if f.kind == "string" else 0.0) for f in spec.features}


def _smoke_test(
    entry: Any, records: list[dict[str, Any]], task: str, labels: list[str], path: Path
) -> None:
    predict = entry.predict if hasattr(entry, "predict") else entry
    try:
        answers = list(predict(records))
        proba = getattr(entry, "predict_proba", None)
        matrix = np.asarray(proba(records), dtype=np.float64) if proba else None
    except Exception as exc:
        raise ConversionError(
            f"{path.name}: predict failed on sample records: {type(exc).__name__}: {exc}"
        ) from None
    if len(answers) != len(records):
        raise ConversionError(
            f"{path.name}: predict returned {len(answers)} answers for {len(records)} records"
        )
    if task == "classification":
        unknown = sorted({str(a) for a in answers} - set(labels))
        if unknown:
            raise ConversionError(
                f"{path.name}: predict answered {unknown}, which are not in LABELS {labels}"
            )
        if matrix is not None and matrix.shape != (len(records), len(labels)):
            raise ConversionError(
                f"{path.name}: predict_proba gave shape {matrix.shape}; expected "
                f"({len(records)}, {len(labels)}), columns in LABELS order"
            )
    elif not all(isinstance(a, int | float) and math.isfinite(a) for a in answers):
        raise ConversionError(f"{path.name}: a regressor's predict must return finite numbers")
