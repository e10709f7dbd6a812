"""An :class:`~mlserve.converters.base.ExportedModel` as ONNX bytes plus a JSON document.

The upload sandbox's child hands its result to the server this way, so the server parses
only protobuf and JSON from it, never a pickle. Only tabular exports cross (no extra files).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from mlserve.converters.base import ExportedModel, ParityReport
from mlserve.errors import ConversionError
from mlserve.triton.model_config import DataType, TensorSpec


def encode(exported: ExportedModel) -> tuple[bytes, bytes]:
    """``(onnx bytes, metadata JSON bytes)``."""
    if exported.extra_files:
        raise ValueError("an export with extra files cannot leave the sandbox")
    document = {
        "framework": exported.framework,
        "input_kind": exported.input_kind,
        "inputs": [_tensor(t) for t in exported.inputs],
        "outputs": [_tensor(t) for t in exported.outputs],
        "parity": {
            "n_samples": exported.parity.n_samples,
            "max_abs_diff": exported.parity.max_abs_diff,
            "tolerance": exported.parity.tolerance,
            "mismatches": exported.parity.mismatches,
        },
        "task": exported.task,
        "labels": exported.labels,
        "features": exported.features,
        "preprocessing": exported.preprocessing,
        "metrics": exported.metrics,
        "training": exported.training,
        "reference_data": exported.reference_data,
        "extra": exported.extra,
        "vocabulary": exported.vocabulary,
    }
    if exported.onnx_model is None:
        raise ConversionError(
            "custom Python models are code: publish them with `mlserve load`, never by upload"
        )
    return exported.onnx_model.SerializeToString(), json.dumps(document, default=_plain).encode()


def decode(onnx_bytes: bytes, metadata: bytes) -> ExportedModel:
    """The export back from :func:`encode`'s output (parsing only protobuf and JSON)."""
    import onnx

    doc = json.loads(metadata)
    return ExportedModel(
        onnx_model=onnx.load_model_from_string(onnx_bytes),
        framework=str(doc["framework"]),
        input_kind=doc["input_kind"],
        inputs=tuple(_spec(t) for t in doc["inputs"]),
        outputs=tuple(_spec(t) for t in doc["outputs"]),
        parity=ParityReport(**doc["parity"]),
        task=doc["task"],
        labels=list(doc["labels"]),
        features=list(doc["features"]),
        preprocessing=dict(doc["preprocessing"]),
        metrics={str(k): float(v) for k, v in doc["metrics"].items()},
        training=dict(doc["training"]),
        reference_data=doc["reference_data"],
        extra=dict(doc["extra"]),
        vocabulary=doc["vocabulary"],
    )


def _tensor(spec: TensorSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["data_type"] = DataType(spec.data_type).value
    return data


def _spec(data: dict[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=str(data["name"]),
        data_type=DataType(data["data_type"]),
        dims=tuple(int(d) for d in data["dims"]),
        label_filename=data.get("label_filename"),
        allow_ragged_batch=bool(data.get("allow_ragged_batch", False)),
    )


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (from background records) as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
