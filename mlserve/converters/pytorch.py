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

A file on disk with its declaration (``mlserve load``) is
:mod:`mlserve.converters.pytorch_file`'s.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlserve.converters.base import ExportedModel
from mlserve.converters.torch_export import (
    PROBABILITIES,
    TOKEN_INPUTS,
    OutputKind,
    check_sample_inputs,
    export_classifier_module,
)
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.triton.model_config import DataType, TensorSpec


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
    kind = input_kind(input_spec)
    config = preprocessing or PreprocessingConfig()
    if kind == "tokens" and config.tokenizer.kind not in ("word", "huggingface"):
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
    if kind == "tokens" and all(s.dims[:1] == (-1,) for s in input_spec):
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
        input_kind=kind,
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


def input_kind(spec: Sequence[TensorSpec]) -> Literal["tokens", "tabular"]:
    """``tokens`` for token ids (``input_ids`` [and ``attention_mask``]), else ``tabular``."""
    names = {s.name for s in spec}
    integer = all(s.data_type in (DataType.INT64, DataType.INT32) for s in spec)
    if integer and "input_ids" in names and names <= set(TOKEN_INPUTS):
        return "tokens"
    return "tabular"
