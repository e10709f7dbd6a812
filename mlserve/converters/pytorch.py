"""PyTorch classifiers -> ONNX, checked against the native module.

A model arrives in one of three forms (see :func:`load_pytorch_module`):

- :class:`TorchScriptFile`: ``torch.jit.save`` output; loading runs no Python code.
- :class:`StateDictFile`: weights (``torch.save(model.state_dict())``, loaded with
  ``weights_only=True``) plus a factory reference ``"package.module:callable"`` that builds
  the empty module. Importing the factory runs that package's code, as any import does.
- :class:`PickledModuleFile`: a whole pickled module (``torch.save(model)``). Loading it is
  ``torch.load(weights_only=False)``, which **executes arbitrary code** from the file: use
  it only for files you would run as a program.

The caller declares the inputs (names, dtypes, dims without the batch dim, ``-1`` for
dynamic) and the labels, and says whether the module emits ``logits`` (a softmax is added
to the graph) or ``probabilities``. :func:`export_pytorch` checks the module against that
declaration (forward parameters, sample inputs, output shape), raising
:class:`ConversionError` on any mismatch, so nothing mismatched reaches the repository.
The export itself and the parity run are :mod:`mlserve.converters.torch_export`'s.

:func:`export_pytorch_file` is the one entry point for a file on disk (``mlserve load``):
the declaration comes from a :class:`PyTorchFileSpec`, by default the JSON sidecar
``<stem>.mlserve.json`` next to the file.
"""

from __future__ import annotations

import importlib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlserve.converters.base import ExportedModel
from mlserve.converters.torch_export import (
    NUMPY_DTYPES,
    PROBABILITIES,
    TOKEN_INPUTS,
    OutputKind,
    check_sample_inputs,
    export_classifier_module,
)
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.triton.model_config import DataType, TensorSpec

SPEC_SUFFIX = ".mlserve.json"
"""``model.pt`` is declared by ``model.mlserve.json`` beside it."""
PYTORCH_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript")
_TOKENIZER_DIR = "tokenizer"
_GENERATED_ROWS = 8


@dataclass(frozen=True)
class TorchScriptFile:
    """A ``torch.jit.save`` archive."""

    path: Path


@dataclass(frozen=True)
class StateDictFile:
    """Weights plus the factory that builds the module they belong to."""

    path: Path
    factory: str
    """``"package.module:callable"``; called with ``factory_kwargs``, returns an nn.Module."""
    factory_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PickledModuleFile:
    """A ``torch.save(model)`` file; loading it executes code from the file."""

    path: Path


PyTorchSource = TorchScriptFile | StateDictFile | PickledModuleFile


def load_pytorch_module(source: PyTorchSource) -> Any:
    """The ``nn.Module`` a source describes, on the CPU in eval mode."""
    import torch

    if not source.path.is_file():
        raise ConversionError(f"model file {source.path} does not exist")
    if isinstance(source, TorchScriptFile):
        try:
            module = torch.jit.load(str(source.path), map_location="cpu")  # type: ignore[no-untyped-call]
        except (RuntimeError, ValueError) as exc:
            raise ConversionError(
                f"{source.path} is not a TorchScript archive ({exc}); save one with "
                "torch.jit.save(torch.jit.script(model), path)"
            ) from exc
    elif isinstance(source, StateDictFile):
        module = _build_from_state_dict(source)
    else:
        try:
            module = torch.load(str(source.path), map_location="cpu", weights_only=False)
        except Exception as exc:  # unpickling can raise anything the file's code raises
            raise ConversionError(f"cannot unpickle a module from {source.path}: {exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise ConversionError(
            f"{source.path} holds a {type(module).__name__}, not a torch.nn.Module"
        )
    return module.eval()


def resolve_factory(reference: str) -> Any:
    """Import ``"package.module:callable"`` (the callable may be dotted: ``Class.build``)."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ConversionError(f"factory {reference!r} is not of the form 'package.module:callable'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConversionError(f"cannot import factory {reference!r}: {exc}") from exc
    if not callable(target):
        raise ConversionError(f"factory {reference!r} is not callable")
    return target


def _build_from_state_dict(source: StateDictFile) -> Any:
    import torch

    factory = resolve_factory(source.factory)
    module = factory(**source.factory_kwargs)
    if not isinstance(module, torch.nn.Module):
        raise ConversionError(
            f"factory {source.factory!r} returned a {type(module).__name__}, not an nn.Module"
        )
    try:
        state = torch.load(str(source.path), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors and containers
        raise ConversionError(
            f"cannot read a state dict from {source.path} with weights_only=True: {exc}"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConversionError(f"{source.path} holds a {type(state).__name__}, not a state dict")
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ConversionError(
            f"weights in {source.path} do not fit {source.factory!r}: {exc}"
        ) from exc
    if result.missing_keys or result.unexpected_keys:
        raise ConversionError(
            f"weights in {source.path} do not fit {source.factory!r}: missing "
            f"{list(result.missing_keys)[:10]}, unexpected {list(result.unexpected_keys)[:10]}"
        )
    return module


def export_pytorch(
    model: Any,
    *,
    input_spec: Sequence[TensorSpec],
    labels: Sequence[str],
    sample_inputs: Mapping[str, npt.NDArray[Any]],
    output_kind: OutputKind = "logits",
    preprocessing: PreprocessingConfig | None = None,
    features: Sequence[str] = (),
    extra_files: Mapping[str, Path] | None = None,
    metrics: Mapping[str, float] | None = None,
    training: Mapping[str, Any] | None = None,
    reference_data: list[Any] | None = None,
) -> ExportedModel:
    """Export a PyTorch classifier (an nn.Module or a :data:`PyTorchSource`) to ONNX.

    ``sample_inputs`` maps each declared input name to a batch (leading batch dim) used for
    the checks and the parity run; use at least 3 rows. A token-id model (inputs
    ``input_ids`` [and ``attention_mask``]) needs ``preprocessing`` with a ``word`` or
    ``huggingface`` tokenizer; a Hugging Face tokenizer folder goes in ``extra_files``.
    Raises :class:`ConversionError` when the module does not match the declaration.
    """
    module = model if not isinstance(model, PyTorchSource) else load_pytorch_module(model)
    labels = [str(label) for label in labels]
    input_kind = _input_kind(input_spec)
    config = preprocessing or PreprocessingConfig()
    if input_kind == "tokens" and config.tokenizer.kind not in ("word", "huggingface"):
        raise ConversionError(
            "a token-id model needs its tokenizer: pass preprocessing with tokenizer kind "
            "'word' (and its vocabulary) or 'huggingface' (and the tokenizer folder)"
        )
    n_rows = check_sample_inputs(input_spec, sample_inputs)
    descriptions = [
        {name: np.asarray(sample_inputs[name][i]).tolist() for name in sample_inputs}
        for i in range(n_rows)
    ]
    batches = [dict(sample_inputs)]
    if input_kind == "tokens" and all(s.dims[:1] == (-1,) for s in input_spec):
        batches.append(pad_tokens(sample_inputs, extra=3))
        descriptions += [{**d, "padded_by": 3} for d in descriptions]
    onnx_model, parity = export_classifier_module(
        module,
        input_spec=input_spec,
        labels=labels,
        sample_batches=batches,
        descriptions=descriptions,
        output_kind=output_kind,
    )
    return ExportedModel(
        onnx_model=onnx_model,
        framework="pytorch",
        input_kind=input_kind,
        inputs=tuple(input_spec),
        outputs=(TensorSpec(PROBABILITIES, DataType.FP32, (len(labels),)),),
        parity=parity,
        labels=labels,
        features=list(features),
        preprocessing=config.model_dump() if preprocessing is not None else {},
        metrics=dict(metrics or {}),
        training=dict(training or {}),
        extra_files=dict(extra_files or {}),
        reference_data=reference_data,
        extra={"output_kind": output_kind},
    )


def pad_tokens(batch: Mapping[str, npt.NDArray[Any]], *, extra: int) -> dict[str, npt.NDArray[Any]]:
    """``batch`` with ``extra`` padding positions (id 0, mask 0) appended to each row.

    Checks that the export handles another sequence length, as Triton's runner produces
    when it pads requests of different lengths into one batch.
    """
    return {name: np.pad(array, [(0, 0), (0, extra)]) for name, array in batch.items()}


def _input_kind(spec: Sequence[TensorSpec]) -> Literal["tokens", "tabular"]:
    names = {s.name for s in spec}
    integer = all(s.data_type in (DataType.INT64, DataType.INT32) for s in spec)
    if integer and "input_ids" in names and names <= set(TOKEN_INPUTS):
        return "tokens"
    return "tabular"


class InputDeclaration(BaseModel):
    """One model input: forward's parameter name, its type, dims after the batch dim."""

    model_config = ConfigDict(extra="forbid")

    name: str
    data_type: Literal["FP32", "FP64", "INT32", "INT64", "BOOL"]
    dims: list[int] = Field(min_length=1)

    def tensor_spec(self) -> TensorSpec:
        return TensorSpec(self.name, DataType[self.data_type], tuple(self.dims))


class PyTorchFileSpec(BaseModel):
    """What a PyTorch file cannot say about itself; the ``<stem>.mlserve.json`` sidecar.

    Example for a token classifier with a word tokenizer::

        {"inputs": [{"name": "input_ids", "data_type": "INT64", "dims": [-1]},
                    {"name": "attention_mask", "data_type": "INT64", "dims": [-1]}],
         "labels": ["negative", "positive"], "output_kind": "logits",
         "preprocessing": {"tokenizer": {"kind": "word", "vocabulary": ["good", "bad"]}}}

    A ``huggingface`` tokenizer's ``path`` is relative to the spec file's folder; the
    folder is shipped with the version. Tabular models may give ``sample_inputs`` (one
    list of rows per input); without them rows are drawn from a standard normal.
    """

    model_config = ConfigDict(extra="forbid")

    form: Literal["auto", "torchscript", "state_dict", "pickled"] = "auto"
    """``auto``: TorchScript if the file is one, else a state dict when ``factory`` is set,
    else a pickled module (which executes code from the file when loaded)."""
    factory: str | None = None
    factory_kwargs: dict[str, Any] = Field(default_factory=dict)
    inputs: list[InputDeclaration] = Field(min_length=1)
    labels: list[str] = Field(min_length=2)
    output_kind: OutputKind = "logits"
    preprocessing: PreprocessingConfig | None = None
    features: list[str] = Field(default_factory=list)
    sample_inputs: dict[str, list[Any]] | None = None


def spec_path_for(path: Path) -> Path:
    """The sidecar that declares ``path``: ``model.pt`` -> ``model.mlserve.json``."""
    return path.with_name(path.stem + SPEC_SUFFIX)


def looks_like_pytorch_file(path: Path) -> bool:
    """True for a file with a PyTorch suffix or a spec sidecar (how ``load`` dispatches)."""
    return path.is_file() and (
        path.suffix.lower() in PYTORCH_SUFFIXES or spec_path_for(path).is_file()
    )


def read_file_spec(path: Path) -> PyTorchFileSpec:
    """Parse a spec JSON file; :class:`ConversionError` names the invalid fields."""
    if not path.is_file():
        raise ConversionError(
            f"no spec file {path}: a PyTorch file needs a declaration of its inputs and "
            'labels (see PyTorchFileSpec), e.g. {"inputs": [{"name": "input_ids", '
            '"data_type": "INT64", "dims": [-1]}], "labels": ["neg", "pos"], ...}'
        )
    try:
        return PyTorchFileSpec.model_validate_json(path.read_text())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise ConversionError(f"invalid spec {path}: {problems}") from None


def export_pytorch_file(
    path: Path,
    spec: PyTorchFileSpec | Path | None = None,
    *,
    sample_texts: Sequence[str] | None = None,
) -> ExportedModel:
    """Export a PyTorch file (TorchScript, state dict + factory, or pickled module).

    ``spec`` is a :class:`PyTorchFileSpec` or its JSON file, by default the sidecar
    :func:`spec_path_for`. Token models are checked on ``sample_texts`` (or built-in
    texts) tokenized per the spec's preprocessing. Raises :class:`ConversionError` when
    the file, the spec, or forward's signature/outputs do not match the declaration; a
    failed parity check is returned in ``parity`` (publishing refuses it).
    """
    spec_file = spec if isinstance(spec, Path) else spec_path_for(path)
    declared = spec if isinstance(spec, PyTorchFileSpec) else read_file_spec(spec_file)
    source = _source(path, declared)
    module = load_pytorch_module(source)
    input_spec = [d.tensor_spec() for d in declared.inputs]
    preprocessing, extra_files = _ship_tokenizer(declared.preprocessing, spec_file.parent)
    samples = _file_samples(declared, input_spec, preprocessing, extra_files, sample_texts)
    tokens = _input_kind(input_spec) == "tokens"
    texts_kept = list(sample_texts) if sample_texts and tokens else None
    return export_pytorch(
        module,
        input_spec=input_spec,
        labels=declared.labels,
        sample_inputs=samples,
        output_kind=declared.output_kind,
        preprocessing=preprocessing,
        features=declared.features,
        extra_files=extra_files,
        training={"source": str(path), "form": type(source).__name__},
        reference_data=texts_kept,
    )


def _source(path: Path, spec: PyTorchFileSpec) -> PyTorchSource:
    form = spec.form
    if form == "auto":
        form = (
            "torchscript" if _is_torchscript(path) else "state_dict" if spec.factory else "pickled"
        )
    if form == "torchscript":
        return TorchScriptFile(path)
    if form == "pickled":
        return PickledModuleFile(path)
    if not spec.factory:
        raise ConversionError(
            f"{path} is declared a state dict but the spec names no factory: set factory "
            "to 'package.module:callable' that builds the empty module"
        )
    return StateDictFile(path, spec.factory, dict(spec.factory_kwargs))


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips with ``constants.pkl`` and a ``code/`` folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _ship_tokenizer(
    config: PreprocessingConfig | None, spec_dir: Path
) -> tuple[PreprocessingConfig | None, dict[str, Path]]:
    """Point a Hugging Face tokenizer at the version's ``tokenizer/`` and ship its folder."""
    if config is None or config.tokenizer.kind != "huggingface":
        return config, {}
    if not config.tokenizer.path:
        raise ConversionError(
            "preprocessing.tokenizer.path is required for kind 'huggingface': the "
            "tokenizer folder, relative to the spec file"
        )
    folder = (spec_dir / config.tokenizer.path).resolve()
    tokenizer = config.tokenizer.model_copy(update={"path": _TOKENIZER_DIR})
    return config.model_copy(update={"tokenizer": tokenizer}), {_TOKENIZER_DIR: folder}


def _file_samples(
    spec: PyTorchFileSpec,
    input_spec: Sequence[TensorSpec],
    preprocessing: PreprocessingConfig | None,
    extra_files: Mapping[str, Path],
    sample_texts: Sequence[str] | None,
) -> dict[str, npt.NDArray[Any]]:
    """Sample batches for the checks: given rows, tokenized texts, or generated rows."""
    if spec.sample_inputs is not None:
        given: dict[str, npt.NDArray[Any]] = {}
        for name, rows in spec.sample_inputs.items():
            declared = next((s for s in input_spec if s.name == name), None)
            try:
                given[name] = np.asarray(
                    rows, dtype=NUMPY_DTYPES.get(declared.data_type) if declared else None
                )
            except (TypeError, ValueError) as exc:
                raise ConversionError(
                    f"sample_inputs.{name} is not a rectangular batch: {exc}"
                ) from None
        return given
    if _input_kind(input_spec) == "tokens" and preprocessing is not None:
        from mlserve.converters.transformer import DEFAULT_PARITY_TEXTS
        from mlserve.preprocessing.cleaning import clean_text
        from mlserve.preprocessing.tokenization import build_tokenizer

        config = preprocessing.tokenizer
        if _TOKENIZER_DIR in extra_files:  # the source folder, before it is shipped
            config = config.model_copy(update={"path": str(extra_files[_TOKENIZER_DIR])})
        texts = sample_texts or DEFAULT_PARITY_TEXTS
        cleaned = [clean_text(t, preprocessing.cleaning) for t in texts]
        encoded = build_tokenizer(config, Path(".")).encode(cleaned).tensors()
        return {s.name: encoded[s.name] for s in input_spec if s.name in encoded}
    rng = np.random.default_rng(0)
    arrays = {}
    for s in input_spec:
        if s.data_type not in (DataType.FP32, DataType.FP64) or -1 in s.dims:
            raise ConversionError(
                f"input {s.name!r} ({s.data_type.wire_name} {list(s.dims)}) needs sample "
                "rows: add sample_inputs to the spec (at least 3 rows per input)"
            )
        shape = (_GENERATED_ROWS, *s.dims)
        arrays[s.name] = rng.standard_normal(shape).astype(NUMPY_DTYPES[s.data_type])
    return arrays
