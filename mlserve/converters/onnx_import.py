"""Publishing an existing ONNX file with its metadata (e.g. a version copied from another
mlserve repository).

There is no native model to compare with, so instead of parity the import runs the graph on
sample inputs and checks that it takes the declared inputs and returns one probability row
per input over the declared labels; the report says it was an import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from pydantic import ValidationError

from mlserve.converters.base import ExportedModel, ParityReport
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.repository.metadata import METADATA_FILE, ModelMetadata, TensorInfo
from mlserve.triton.model_config import DataType, TensorSpec


def metadata_path_for(model_file: Path) -> Path:
    """``model.onnx`` → ``model.metadata.json`` beside it, else ``metadata.json`` there."""
    sidecar = model_file.with_suffix(".metadata.json")
    return sidecar if sidecar.is_file() else model_file.parent / METADATA_FILE


def import_onnx(
    model_file: Path, sample_texts: Sequence[str], *, user_texts: bool = True
) -> ExportedModel:
    """Read ``model_file`` and its metadata, check the graph, return it ready to publish.

    ``sample_texts`` smoke-test the graph; they become the drift reference only when
    ``user_texts`` (the user gave them), not when they are built-in texts."""
    meta_file = metadata_path_for(model_file)
    if not meta_file.is_file():
        raise ConversionError(
            f"{model_file.name} has no metadata: put {model_file.stem}.metadata.json or "
            f"{METADATA_FILE} (as written by mlserve) beside it"
        )
    try:
        raw = json.loads(meta_file.read_text())
        raw.setdefault("name", "imported")
        raw.setdefault("version", 1)
        raw.setdefault("published_at", "1970-01-01T00:00:00Z")
        meta = ModelMetadata.model_validate(raw)
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConversionError(f"{meta_file.name} is not valid mlserve metadata: {first}") from None
    try:
        model = onnx.load(str(model_file))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ...
        raise ConversionError(f"{model_file.name} is not a valid ONNX model: {exc}") from None
    if meta.input_kind != "text":
        raise ConversionError(
            f"importing ONNX is supported for text models (input_kind 'text'); "
            f"{meta_file.name} declares {meta.input_kind!r}: load the native model instead"
        )
    report = _smoke_test(model, meta, list(sample_texts))
    return ExportedModel(
        onnx_model=model,
        framework=meta.framework,
        input_kind="text",
        inputs=tuple(_spec(t) for t in meta.inputs),
        outputs=tuple(_spec(t) for t in meta.outputs),
        parity=report,
        task=meta.task,  # type: ignore[arg-type]
        labels=meta.labels,
        features=meta.features,
        preprocessing=PreprocessingConfig.from_metadata(meta.preprocessing).model_dump(),
        metrics=meta.metrics,
        training={**meta.training, "imported_from": str(model_file)},
        reference_data=list(sample_texts) if user_texts else None,
        extra=meta.extra,
    )


def _smoke_test(model: onnx.ModelProto, meta: ModelMetadata, texts: list[str]) -> ParityReport:
    import onnxruntime as ort

    declared = [i.name for i in meta.inputs]
    graph_inputs = [i.name for i in model.graph.input]
    if graph_inputs != declared:
        raise ConversionError(
            f"the graph takes inputs {graph_inputs}, metadata declares {declared}"
        )
    output = meta.outputs[0].name
    try:
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        batch = np.asarray(texts, dtype=object).reshape(-1, 1)
        (result,) = session.run([output], {declared[0]: batch})
    except Exception as exc:  # ORT errors have many types
        raise ConversionError(f"the graph fails on sample texts: {exc}") from None
    probabilities: Any = np.asarray(result)
    expected = (len(texts), len(meta.labels))
    mismatches = []
    if probabilities.shape != expected:
        mismatches.append({"reason": f"output shape {probabilities.shape}, expected {expected}"})
    elif not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        mismatches.append({"reason": "output rows are not probabilities (do not sum to 1)"})
    return ParityReport(
        n_samples=len(texts), max_abs_diff=0.0, tolerance=1e-4, mismatches=mismatches
    )


def _spec(info: TensorInfo) -> TensorSpec:
    return TensorSpec(name=info.name, data_type=DataType[info.datatype], dims=tuple(info.dims))
