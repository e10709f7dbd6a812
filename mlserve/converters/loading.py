"""Model files (joblib/pickle, PyTorch files, transformer folders) to an :class:`ExportedModel`.

``POST /api/v1/deploy`` calls :func:`load_model_file` then :func:`export_native_model`;
``mlserve load`` calls :func:`export_file`, which also takes PyTorch files and saved
transformer folders. For a loaded object, :func:`export_native_model` picks the converter:
scikit-learn text pipelines go to :mod:`mlserve.converters.sklearn_text`, PyTorch modules
to :mod:`mlserve.converters.pytorch` (through the tabular bridge), everything else to
:mod:`mlserve.converters.tabular`.

**Unpickling executes code from the file** (joblib/pickle files and pickled PyTorch
modules): loading one is running a program its author wrote. Only admins may load or
deploy models, and only files they would run as programs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from mlserve.converters.base import ExportedModel
from mlserve.errors import (
    ConversionError,
    InvalidInputError,
    MLServeError,
    NotFoundError,
    PayloadTooLargeError,
)

REFERENCE_ROWS = 1000
"""Most reference rows (background records or sample texts) kept with a version."""
ONNX_SUFFIX = ".onnx"
_TASK_WORDS = {
    "classification": ("classif",),
    "regression": ("regress",),
    "anomaly-detection": ("anomal", "outlier"),
}


def load_model_file(path: Path, *, max_bytes: int) -> object:
    """Load the model object stored in a joblib or pickle file.

    **Unpickling executes code from the file**: whoever can upload a model can run
    arbitrary code in the server process. Only admins may upload, and only files they
    would run as programs.

    Raises :class:`PayloadTooLargeError` for a file over ``max_bytes`` (checked before
    reading), :class:`NotFoundError` for a missing file, and :class:`ConversionError` with
    a one-line reason for an empty, corrupt or unreadable file, or one that holds
    something other than a model (an object with ``predict``/``predict_proba``, or a
    ``torch.nn.Module``).
    """
    import joblib

    size = _check_size(path, max_bytes)
    if size == 0:
        raise ConversionError("model file is empty: upload a joblib.dump or pickle file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj = joblib.load(path)
        except ModuleNotFoundError as exc:
            mismatch = _version_mismatch(exc, caught)
            if mismatch:
                raise ConversionError(mismatch) from None
            raise ConversionError(
                f"model file needs the Python module {exc.name!r}, which this server does not "
                "have: export with scikit-learn, xgboost, lightgbm, catboost or torch"
            ) from None
        except Exception as exc:
            mismatch = _version_mismatch(exc, caught)
            if mismatch:
                raise ConversionError(mismatch) from None
            raise ConversionError(
                f"model file is not a readable joblib/pickle file ({type(exc).__name__}: "
                f"{_first_line(exc)}): save it with joblib.dump(model, path)"
            ) from None
    if not _is_model(obj):
        raise ConversionError(
            f"model file holds a {_type_name(obj)}, not a model: upload a fitted estimator "
            "(an object with predict) or a torch.nn.Module"
        )
    return obj


def _version_mismatch(exc: BaseException, caught: list[warnings.WarningMessage]) -> str | None:
    """A one-line reason when unpickling failed inside a library whose version differs from
    the one that pickled the file (scikit-learn says which; numpy's random state and
    internals fail without saying), else None."""
    import traceback
    from importlib.metadata import version

    reason = f"{type(exc).__name__}: {_first_line(exc)}"
    for warning in caught:
        category = warning.category.__name__
        if category == "InconsistentVersionWarning":
            pickled = getattr(warning.message, "original_sklearn_version", "another version")
            return (
                f"model file was pickled with scikit-learn {pickled} and cannot be read by "
                f"this server's scikit-learn {version('scikit-learn')} ({reason}): re-save it "
                f"with scikit-learn {version('scikit-learn')}"
            )
    frames = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    name = getattr(exc, "name", None) or ""
    if name.startswith("numpy") or any("/numpy/" in f for f in frames):
        numpy_version = version("numpy")
        return (
            f"model file was pickled with another numpy version than this server's numpy "
            f"{numpy_version} ({reason}): re-save it with numpy {numpy_version.split('.')[0]}.x "
            f"(pip install 'numpy=={numpy_version}') or retrain it there"
        )
    return None


def existing_input_dtype(repository: Any, name: str) -> Literal["float32", "float64"]:
    """The numeric input type the newest tabular version of ``name`` in ``repository`` (a
    :class:`mlserve.repository.store.ModelRepository`) takes: Triton keeps one input type
    per model, so a new version must match it (float64 for a new model). Pass it as
    ``input_dtype`` to :func:`export_file` / :func:`export_native_model`."""
    try:
        versions = repository.versions(name)
        newest = repository.metadata(name, max(versions)) if versions else None
    except MLServeError:
        return "float64"
    if newest is None or newest.input_kind not in ("tabular", "causal", "recommender"):
        return "float64"
    return "float64" if newest.preprocessing.get("numeric_dtype") == "float64" else "float32"


def export_file(
    path: Path,
    *,
    name: str,
    sample_texts: Sequence[str] | None = None,
    background: Sequence[Mapping[str, Any]] | None = None,
    max_bytes: int,
    features: Sequence[str] | None = None,
    input_dtype: Literal["float32", "float64"] = "float64",
    task_type: str | None = None,
    task_options: str | dict[str, Any] | None = None,
) -> ExportedModel:
    """Export any supported model file or folder; the one entry point of ``mlserve load``.

    Dispatch, by what ``path`` is:

    * a folder: a saved transformer classifier (Hugging Face or mlserve encoder format),
      :func:`mlserve.converters.transformer.export_transformer_folder`, parity on
      ``sample_texts`` (else its built-in texts). Folders are not size-limited: they are
      read from the local disk by an admin, and a base-size transformer exceeds 200 MB;
    * a PyTorch file (``.pt``, ``.pth``, ``.ts``, ``.torchscript``, or any file with a
      ``<stem>.mlserve.json`` sidecar): TorchScript, state dict or pickled module,
      :func:`mlserve.converters.pytorch_file.export_pytorch_file`, declared by the sidecar;
    * a ``.py`` file: a custom Python model (``predict(records)``, run by Triton's Python
      backend), :func:`mlserve.converters.custom_python.export_custom_python`;
    * an ``.onnx`` file with its mlserve metadata beside it (a text model): imported,
      :func:`mlserve.converters.onnx_import.import_onnx`, smoke-tested on sample texts;
    * any other file: a joblib/pickle file read by :func:`load_model_file` and exported by
      :func:`export_native_model` — text pipelines check parity on ``sample_texts``
      (default: texts built from their vocabulary), tabular models on ``background``
      rows (default: rows built from the model), and need ``features`` only when trained
      on an array.

    Files over ``max_bytes`` raise :class:`PayloadTooLargeError`; unsupported, corrupt or
    mismatched files raise :class:`ConversionError` with a one-line reason, so the caller
    publishes nothing. A failed parity check is returned in ``parity`` (publishing refuses
    it). Pickled files execute code when loaded: see the module docstring.
    """
    if path.is_dir():
        from mlserve.converters.transformer import export_transformer_folder

        return export_transformer_folder(path, parity_texts=_texts(sample_texts))
    _check_size(path, max_bytes)
    if path.suffix == ".py":
        from mlserve.converters.custom_python import export_custom_python

        return export_custom_python(path, features=features)
    if path.suffix.lower() == ONNX_SUFFIX:
        from mlserve.converters.onnx_import import import_onnx
        from mlserve.samples import sentiment_data

        given = _texts(sample_texts)
        texts = given or sentiment_data.generate().test_texts
        # the built-in texts only smoke-test the graph; they are no drift reference
        return import_onnx(path, texts[:REFERENCE_ROWS], user_texts=given is not None)
    from mlserve.converters.pytorch_file import export_pytorch_file, looks_like_pytorch_file

    if looks_like_pytorch_file(path):
        return export_pytorch_file(path, sample_texts=_texts(sample_texts), background=background)
    obj = load_model_file(path, max_bytes=max_bytes)
    return export_native_model(
        obj,
        name=name,
        features=features,
        sample_texts=sample_texts,
        background=background,
        input_dtype=input_dtype,
        task_type=task_type,
        task_options=task_options,
    )


def export_native_model(
    obj: Any,
    *,
    name: str,
    features: Sequence[str] | None = None,
    background: Sequence[Mapping[str, Any]] | Any | None = None,
    sample_texts: Sequence[str] | None = None,
    metrics: Mapping[str, Any] | None = None,
    task_type: str | None = None,
    input_dtype: Literal["float32", "float64"] = "float64",
    task_options: str | dict[str, Any] | None = None,
) -> ExportedModel:
    """Export a loaded model with the converter for its kind and attach the deploy metadata.

    ``features``/``background`` (records, as the SDK's ``background_data``) serve tabular
    models and PyTorch modules; ``sample_texts`` serve text pipelines (default: texts built
    from the pipeline's vocabulary, and then no drift reference). ``metrics`` must
    be numbers; ``task_type`` is kept in ``extra`` and, when it names a task, must agree
    with the model's; ``causal`` and ``recommender`` (with ``task_options``, or as a JSON
    ``task_type``: :mod:`mlserve.converters.tabular.decisions`) make a decision model;
    ``input_dtype`` is the numeric input type of tabular exports (see
    :func:`mlserve.converters.tabular.export_tabular_model`). At most 1000 background
    rows (or sample texts) are kept as ``reference_data`` for drift monitoring. Raises
    :class:`ConversionError` for unsupported models and :class:`InvalidInputError` for
    bad metadata; a failed parity check is returned in ``parity`` (publishing refuses it).
    """
    from mlserve.converters.tabular.decisions import apply_decision, parse_task

    clean_metrics = _metrics(metrics)
    task_type, decision = parse_task(task_type, task_options)
    if _is_torch_module(obj):
        from mlserve.converters.tabular.pytorch_tabular import export_tabular_torch_module

        records = _records(background)
        exported = export_tabular_torch_module(obj, features=features, background=records)
    elif _is_text_pipeline(obj):
        exported = _export_text(obj, sample_texts)
    else:
        from mlserve.converters.tabular import export_tabular_model

        exported = export_tabular_model(
            obj, features=features, background=background, input_dtype=input_dtype
        )
    _check_task(exported, task_type, name)
    if decision is not None:
        if exported.input_kind != "tabular":
            raise ConversionError(
                f"{name}: task_type {task_type} needs a tabular estimator; this is a "
                f"{exported.input_kind} model"
            )
        apply_decision(exported, decision)
    exported.metrics = {**exported.metrics, **clean_metrics}
    if task_type is not None:
        exported.extra["task_type"] = task_type
    return exported


def _export_text(pipeline: Any, sample_texts: Sequence[str] | None) -> ExportedModel:
    from mlserve.converters.sklearn_text import export_text_pipeline

    texts = _texts(sample_texts)
    return export_text_pipeline(pipeline, texts[:REFERENCE_ROWS] if texts else None)


def _texts(sample_texts: Sequence[str] | None) -> list[str] | None:
    """Sample texts as a list, refusing a bare string (a common slip for a one-item list)."""
    if sample_texts is None:
        return None
    if isinstance(sample_texts, (str, bytes)) or not all(isinstance(t, str) for t in sample_texts):
        raise InvalidInputError("sample texts must be a list of strings")
    texts = [t for t in sample_texts if t.strip()]
    if not texts:
        raise InvalidInputError("sample texts are empty: give at least one non-blank text")
    return texts


def _check_size(path: Path, max_bytes: int) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(f"model file {str(path)!r} does not exist") from None
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"model file is {_megabytes(size)}, above the {_megabytes(max_bytes)} limit "
            f"({max_bytes} bytes): upload a smaller model or raise the server's limit"
        )
    return size


def _check_task(exported: ExportedModel, task_type: str | None, name: str) -> None:
    if not task_type:
        return
    lowered = task_type.lower()
    for task, words in _TASK_WORDS.items():
        if any(w in lowered for w in words) and exported.task != task:
            raise ConversionError(
                f"task_type {task_type!r} does not match model {name!r}, which is a "
                f"{exported.task} model: fix task_type or upload the right model"
            )


def _metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise InvalidInputError(
            f"metrics must be an object mapping metric name to number, got {type(metrics).__name__}"
        )
    clean: dict[str, float] = {}
    for key, value in metrics.items():
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number):
            raise InvalidInputError(
                f"metrics.{key} is {value!r:.40}: metric values must be finite numbers"
            )
        clean[str(key)] = float(number)
    return clean


def _records(background: Any) -> list[Mapping[str, Any]] | None:
    if background is None:
        return None
    to_dict = getattr(background, "to_dict", None)
    if callable(to_dict) and hasattr(background, "columns"):
        return list(to_dict(orient="records"))
    if isinstance(background, Sequence) and not isinstance(background, (str, bytes)):
        return list(background)
    raise InvalidInputError(
        f"background_data must be a list of records, got {type(background).__name__}"
    )


def _is_torch_module(obj: Any) -> bool:
    """True for ``torch.nn.Module`` instances, without importing torch."""
    return any(
        cls.__module__.startswith("torch.") and cls.__name__ in ("Module", "ScriptModule")
        for cls in type(obj).__mro__
    )


def _is_model(obj: Any) -> bool:
    if _is_torch_module(obj):
        return True
    return any(callable(getattr(obj, m, None)) for m in ("predict", "predict_proba"))


def _is_text_pipeline(obj: Any) -> bool:
    from mlserve.converters.sklearn_text import is_text_pipeline

    return is_text_pipeline(obj)


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB"


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, MLServeError):
        return exc.message
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "no detail")[:200]
