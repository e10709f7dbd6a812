"""A downloaded MLflow model folder to an :class:`ExportedModel`, by its flavor.

The ``MLmodel`` file lists the flavors a model was logged with; the first of
:data:`~mlserve.converters.mlflow_source.SUPPORTED_FLAVORS` it holds picks the loader. The
signature's input names become the features; the input example becomes the parity and
reference rows (or, for a text pipeline, its texts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlserve.converters.base import ExportedModel
from mlserve.errors import ConversionError

_PICKLE_FORMATS = ("pickle", "cloudpickle")
MAX_EXAMPLE_ROWS = 1000


PickledExport = Callable[[bytes, list[str] | None, list[dict[str, Any]] | None], ExportedModel]
"""Exports a pickled model's bytes (with features and background rows) in a sandboxed
child process: how an untrusted (HTTP API) import loads a pickle."""


def export_model_folder(
    path: Path, *, name: str, trusted: bool, pickled_export: PickledExport | None = None
) -> tuple[str, ExportedModel]:
    """``(flavor, exported)`` for the MLflow model folder at ``path``. Untrusted folders
    (``trusted=False``, the HTTP API) never unpickle here: a pickled scikit-learn model goes
    to ``pickled_export`` (refused without one), pickled PyTorch models are refused."""
    from mlflow.models import Model

    from mlserve.converters.mlflow_source import SUPPORTED_FLAVORS

    try:
        model = Model.load(str(path))
    except Exception as exc:
        raise ConversionError(
            f"the artifact is not an MLflow model folder (no readable MLmodel file: "
            f"{type(exc).__name__}); point the URI at the folder mlflow.<flavor>.log_model wrote"
        ) from None
    flavors: Mapping[str, Any] = model.flavors
    flavor = next((f for f in SUPPORTED_FLAVORS if f in flavors), None)
    if flavor is None:
        raise ConversionError(
            f"MLflow model has flavor(s) {', '.join(sorted(flavors))}, which mlserve cannot "
            f"convert to ONNX: log it with one of {', '.join(SUPPORTED_FLAVORS)}"
        )
    features = _signature_features(model)
    example = _input_example(model, path)
    records = _records(example, features)
    if flavor == "transformers":
        from mlserve.converters.transformer import export_transformer_folder

        folder = path / str(flavors[flavor].get("model_binary", "model"))
        return flavor, export_transformer_folder(folder, parity_texts=_texts(example))
    conf = flavors[flavor]
    if flavor == "sklearn" and not trusted and conf.get("serialization_format") in _PICKLE_FORMATS:
        if pickled_export is None:
            raise ConversionError(
                "this MLflow model is a pickle, which the HTTP API only loads in its sandbox; "
                "import it with `mlserve load models:/...` from a trusted shell"
            )
        pickled = path / str(conf.get("pickled_model", "model.pkl"))
        return flavor, pickled_export(pickled.read_bytes(), features, records)
    obj = _load_native(flavor, conf, path, trusted=trusted)
    from mlserve.converters.loading import export_native_model
    from mlserve.converters.sklearn_text import is_text_pipeline

    if is_text_pipeline(obj):
        exported = export_native_model(obj, name=name, sample_texts=_texts(example))
    else:
        exported = export_native_model(obj, name=name, features=features, background=records)
    return flavor, exported


def _load_native(flavor: str, conf: Mapping[str, Any], path: Path, *, trusted: bool) -> Any:
    if flavor == "sklearn":
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(path))
    if flavor == "xgboost":
        import mlflow.xgboost

        return mlflow.xgboost.load_model(str(path))
    if flavor == "lightgbm":
        import mlflow.lightgbm

        return mlflow.lightgbm.load_model(str(path))
    if not trusted:
        raise ConversionError(
            "pickled PyTorch models are not loaded by the HTTP API (unpickling runs code): "
            "import it with `mlserve load models:/...` from a trusted shell"
        )
    import mlflow.pytorch

    return mlflow.pytorch.load_model(str(path), map_location="cpu")


def _signature_features(model: Any) -> list[str] | None:
    signature = getattr(model, "signature", None)
    if signature is None or signature.inputs is None:
        return None
    names = signature.inputs.input_names()
    if names and all(isinstance(n, str) and n for n in names):
        return [str(n) for n in names]
    return None


def _input_example(model: Any, path: Path) -> Any:
    try:
        return model.load_input_example(str(path))
    except (OSError, ValueError):
        return None


def _records(example: Any, features: list[str] | None) -> list[dict[str, Any]] | None:
    if example is None:
        return None
    to_dict = getattr(example, "to_dict", None)
    if callable(to_dict) and hasattr(example, "columns"):
        rows: list[dict[str, Any]] = to_dict(orient="records")
        return rows[:MAX_EXAMPLE_ROWS]
    if features and hasattr(example, "ndim") and example.ndim == 2:
        return [dict(zip(features, row, strict=False)) for row in example.tolist()][
            :MAX_EXAMPLE_ROWS
        ]
    return None


def _texts(example: Any) -> list[str] | None:
    if example is None:
        return None
    if hasattr(example, "columns"):
        values = example.iloc[:, 0].tolist()
    elif isinstance(example, Mapping):
        values = next(iter(example.values()), [])
        values = values if isinstance(values, list) else [values]
    elif isinstance(example, list | tuple):
        values = list(example)
    else:
        values = getattr(example, "tolist", lambda: [])()
    texts = [v for v in values if isinstance(v, str) and v.strip()]
    return texts[:MAX_EXAMPLE_ROWS] or None
