"""The core shared by the PyTorch and transformer converters: check, export, parity.

A classifier module is checked against the declared inputs (forward's parameter names),
run natively on sample batches (one tensor ``[batch, n_labels]`` expected), exported with
the TorchScript-based ``torch.onnx.export(dynamo=False)`` (the torch.export-based exporter
needs onnxscript, which mlserve does not depend on, and cannot take TorchScript modules),
and given one output ``probabilities``: float32, with a ``Softmax`` node appended when the
module emits logits. ONNX Runtime then runs the same batches for the parity report.
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper

from mlserve.converters.base import ParityReport, compare_outputs
from mlserve.errors import ConversionError
from mlserve.triton.model_config import DataType, TensorSpec

OutputKind = Literal["logits", "probabilities"]
OPSET = 17
"""ONNX opset of exported graphs (ONNX Runtime >= 1.12, Triton's onnxruntime backend)."""
PROBABILITIES = "probabilities"
"""The one output of every exported classifier."""
TOKEN_INPUTS = ("input_ids", "attention_mask")
"""Input names a tokenizer fills; a model taking only these has ``input_kind`` tokens."""
_SCORES = "scores"
_ONNX_ELEM_TYPES: dict[DataType, int] = {
    DataType.FP32: TensorProto.FLOAT,
    DataType.FP64: TensorProto.DOUBLE,
    DataType.INT32: TensorProto.INT32,
    DataType.INT64: TensorProto.INT64,
    DataType.BOOL: TensorProto.BOOL,
}
NUMPY_DTYPES: dict[DataType, Any] = {
    DataType.FP32: np.float32,
    DataType.FP64: np.float64,
    DataType.INT32: np.int32,
    DataType.INT64: np.int64,
    DataType.BOOL: np.bool_,
}
"""numpy dtype of each input type a PyTorch model may declare."""


def forward_parameters(module: Any) -> tuple[list[str], list[str]] | None:
    """``(parameter names, required names)`` of ``module.forward``, in order.

    None when forward takes ``*args`` (names cannot be checked then).
    """
    import torch

    if isinstance(module, torch.jit.ScriptModule):
        schema: Any = module.forward.schema  # type: ignore[attr-defined]
        arguments = schema.arguments[1:]
        names = [a.name for a in arguments]
        return names, [a.name for a in arguments if not a.has_default_value()]
    names, required = [], []
    for p in inspect.signature(module.forward).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return names, required


def ordered_inputs(module: Any, spec: Sequence[TensorSpec]) -> list[str]:
    """Declared input names in the order forward takes them; raises on any mismatch."""
    declared = [s.name for s in spec]
    params = forward_parameters(module)
    if params is None:
        return declared
    names, required = params
    shown = f"forward({', '.join(names)})"
    unknown = [n for n in declared if n not in names]
    if unknown:
        raise ConversionError(
            f"the input spec declares {unknown} but {shown} has no such parameter; "
            "declare the inputs by forward's parameter names"
        )
    undeclared = [n for n in required if n not in declared]
    if undeclared:
        raise ConversionError(
            f"{shown} requires {undeclared}, which the input spec does not declare"
        )
    leading = names[: len(declared)]
    if set(leading) != set(declared):
        raise ConversionError(
            f"declared inputs {declared} must be the leading parameters of {shown}"
        )
    return leading


def export_classifier_module(
    module: Any,
    *,
    input_spec: Sequence[TensorSpec],
    labels: Sequence[str],
    sample_batches: Sequence[Mapping[str, npt.NDArray[Any]]],
    descriptions: Sequence[Any],
    output_kind: OutputKind,
) -> tuple[onnx.ModelProto, ParityReport]:
    """Check, export and parity-test a classifier module.

    ``sample_batches`` hold validated numpy batches keyed by input name; the first is
    traced on its first two rows, so parity on the full batches also covers another batch
    size. ``descriptions`` name all their rows, in order, for parity mismatches.
    """
    import onnxruntime as ort
    import torch

    if output_kind not in ("logits", "probabilities"):
        raise ConversionError(
            f"output_kind must be 'logits' or 'probabilities', not {output_kind!r}"
        )
    module = module.eval()
    order = ordered_inputs(module, input_spec)
    native = [_run_native(module, batch, order, labels, output_kind) for batch in sample_batches]
    first = sample_batches[0]
    trace_args = tuple(torch.from_numpy(np.ascontiguousarray(first[n][:2])) for n in order)
    raw = _trace_to_onnx(module, trace_args, order, input_spec)
    _check_graph_inputs(raw, input_spec)
    onnx_model = _append_probabilities(raw, len(labels), apply_softmax=output_kind == "logits")
    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    exported = [session.run([PROBABILITIES], {n: b[n] for n in order})[0] for b in sample_batches]
    report = compare_outputs(list(descriptions), np.concatenate(native), np.concatenate(exported))
    return onnx_model, report


def _run_native(
    module: Any,
    batch: Mapping[str, npt.NDArray[Any]],
    order: Sequence[str],
    labels: Sequence[str],
    output_kind: OutputKind,
) -> npt.NDArray[np.float32]:
    """The module's class probabilities for one batch, as the exported graph computes them."""
    import torch

    args = [torch.from_numpy(np.ascontiguousarray(batch[n])) for n in order]
    try:
        with torch.no_grad():
            result = module(*args)
    except Exception as exc:  # a module's forward can raise anything on mismatched inputs
        raise ConversionError(
            f"forward failed on the sample inputs {list(order)}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, torch.Tensor):
        raise ConversionError(
            f"forward returned a {type(result).__name__}; mlserve needs one tensor "
            f"[batch, {len(labels)}] of class scores"
        )
    rows = len(batch[order[0]])
    if tuple(result.shape) != (rows, len(labels)):
        raise ConversionError(
            f"forward returned shape {list(result.shape)} but {len(labels)} labels "
            f"{list(labels)} were declared for a batch of {rows}: expected "
            f"[{rows}, {len(labels)}]"
        )
    if not result.is_floating_point():
        raise ConversionError(f"forward returned {result.dtype} scores; expected floats")
    scores = result.float()
    if output_kind == "logits":
        return torch.softmax(scores, dim=-1).numpy()
    sums = scores.sum(dim=1).numpy()
    if (scores < 0).any() or not np.allclose(sums, 1.0, atol=1e-3):
        raise ConversionError(
            "output_kind='probabilities' but the rows are not probability distributions "
            f"(row sums {np.round(sums[:3], 4).tolist()}...); pass output_kind='logits' "
            "to add a softmax"
        )
    return scores.numpy()


def _trace_to_onnx(
    module: Any, args: tuple[Any, ...], order: Sequence[str], spec: Sequence[TensorSpec]
) -> onnx.ModelProto:

    by_name = {s.name: s for s in spec}
    tokens = set(order) <= set(TOKEN_INPUTS)
    dynamic_axes: dict[str, dict[int, str]] = {_SCORES: {0: "batch"}}
    for name in order:
        axes = {0: "batch"}
        for i, dim in enumerate(by_name[name].dims, start=1):
            if dim == -1:
                axes[i] = "sequence" if tokens and i == 1 else f"{name}_{i}"
        dynamic_axes[name] = axes
    with tempfile.TemporaryDirectory(prefix="mlserve-onnx-") as folder:
        path = Path(folder) / "model.onnx"
        _run_exporter(module, args, path, order, dynamic_axes)
        return onnx.load(str(path))


def _run_exporter(
    module: Any,
    args: tuple[Any, ...],
    path: Path,
    order: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation and tracer notes; parity decides
            torch.onnx.export(
                module,
                args,
                str(path),
                dynamo=False,
                input_names=list(order),
                output_names=[_SCORES],
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
            )
    except Exception as exc:  # the exporter raises many types for unsupported graphs
        raise ConversionError(
            f"torch.onnx.export failed: {type(exc).__name__}: {str(exc)[:500]}"
        ) from exc


def _check_graph_inputs(model: onnx.ModelProto, spec: Sequence[TensorSpec]) -> None:
    initializers = {i.name for i in model.graph.initializer}
    graph_inputs = {i.name: i for i in model.graph.input if i.name not in initializers}
    for s in spec:
        if s.name not in graph_inputs:
            raise ConversionError(
                f"forward does not use the declared input {s.name!r} (the exported graph has "
                "no such input); remove it from the input spec"
            )
        elem_type = graph_inputs[s.name].type.tensor_type.elem_type
        if elem_type != _ONNX_ELEM_TYPES[s.data_type]:
            raise ConversionError(
                f"exported input {s.name!r} has ONNX type "
                f"{TensorProto.DataType.Name(elem_type)}; the spec declares "
                f"{s.data_type.wire_name}"
            )


def _append_probabilities(
    model: onnx.ModelProto, n_labels: int, *, apply_softmax: bool
) -> onnx.ModelProto:
    """Turn the graph's ``scores`` output into float32 ``probabilities [batch, n_labels]``."""
    graph = model.graph
    (scores,) = graph.output
    current = scores.name
    if scores.type.tensor_type.elem_type != TensorProto.FLOAT:
        graph.node.append(
            helper.make_node("Cast", [current], ["scores_fp32"], to=TensorProto.FLOAT)
        )
        current = "scores_fp32"
    if apply_softmax:
        final = helper.make_node("Softmax", [current], [PROBABILITIES], axis=-1)
    else:
        final = helper.make_node("Identity", [current], [PROBABILITIES])
    graph.node.append(final)
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, ["batch", n_labels])
    )
    model.producer_name = "mlserve"
    onnx.checker.check_model(model)
    return model


def check_sample_inputs(spec: Sequence[TensorSpec], samples: Mapping[str, npt.NDArray[Any]]) -> int:
    """Validate a sample batch against the declared spec; returns its batch size.

    Raises :class:`ConversionError` naming the input whose name, dtype or shape differs.
    """
    if not spec:
        raise ConversionError("the input spec is empty: declare at least one input")
    declared = [s.name for s in spec]
    if len(set(declared)) != len(declared):
        raise ConversionError(f"the input spec names an input twice: {declared}")
    missing = [n for n in declared if n not in samples]
    extra = [n for n in samples if n not in declared]
    if missing or extra:
        raise ConversionError(
            f"sample inputs must match the input spec {declared}: missing {missing}, "
            f"undeclared {extra}"
        )
    sizes = set()
    for s in spec:
        if s.data_type not in NUMPY_DTYPES:
            raise ConversionError(
                f"input {s.name!r}: {s.data_type.wire_name} is not supported for PyTorch "
                f"models; use one of {[d.wire_name for d in NUMPY_DTYPES]}"
            )
        array = np.asarray(samples[s.name])
        want = np.dtype(NUMPY_DTYPES[s.data_type])
        if array.dtype != want:
            raise ConversionError(
                f"sample input {s.name!r} is {array.dtype} but the spec declares "
                f"{s.data_type.wire_name} ({want})"
            )
        shape_ok = array.ndim == len(s.dims) + 1 and all(
            d == -1 or d == have for d, have in zip(s.dims, array.shape[1:], strict=False)
        )
        if not shape_ok:
            raise ConversionError(
                f"sample input {s.name!r} has shape {list(array.shape)} but the spec declares "
                f"[batch, {', '.join(map(str, s.dims))}] (-1 = any)"
            )
        sizes.add(array.shape[0])
    if len(sizes) != 1 or 0 in sizes:
        raise ConversionError(f"sample inputs need one non-zero batch size, got {sorted(sizes)}")
    return int(sizes.pop())
