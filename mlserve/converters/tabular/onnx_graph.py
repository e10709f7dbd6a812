"""skl2onnx conversion plus the graph surgery that gives every export the same interface.

skl2onnx names inputs after the columns and outputs after its own conventions (``label``,
``probabilities``, ``variable``, ``scores``). This module converts, then rewires the graph
so it takes the tensors of :mod:`mlserve.converters.tabular.spec` (``input`` /
``input_str``, split into per-column tensors inside the graph) and exposes only the outputs
Triton serves. ZipMap is always off: probabilities stay a plain FP32 matrix.
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import TensorProto, helper

from mlserve.converters.tabular.boosters import register_booster_converters
from mlserve.converters.tabular.inspection import ModelAnatomy, type_name
from mlserve.converters.tabular.spec import (
    LABEL,
    NUMERIC_INPUT,
    PREDICTION,
    PROBABILITIES,
    SCORES,
    STRING_INPUT,
)
from mlserve.errors import ConversionError

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
"""ONNX opsets of every tabular export (ONNX Runtime >= 1.14 runs them)."""
_COLUMN_PREFIX = "mlserve_column_"


def convert_to_onnx(anatomy: ModelAnatomy, output_width: int) -> onnx.ModelProto:
    """Convert the model and rewire it to the documented tabular interface.

    ``output_width`` is the second dimension of ``prediction`` for regressors (targets);
    classifiers use the number of labels and outlier detectors 1.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    register_booster_converters(anatomy.framework)
    spec = anatomy.spec
    if anatomy.layout == "matrix":
        initial_types: list[tuple[str, Any]] = [
            (NUMERIC_INPUT, FloatTensorType([None, len(spec.features)]))
        ]
    else:
        kinds = {f.name: f.kind for f in spec.features}
        initial_types = [
            (
                name,
                StringTensorType([None, 1])
                if kinds.get(name) == "string"
                else FloatTensorType([None, 1]),
            )
            for name in anatomy.model_columns or ()
        ]
    options = {id(anatomy.final): {"zipmap": False}} if anatomy.task == "classification" else None
    try:
        converted: onnx.ModelProto = convert_sklearn(
            anatomy.model,
            initial_types=initial_types,
            options=options,
            target_opset=TARGET_OPSET,
        )
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ConversionError(f"could not convert {anatomy.type_name} to ONNX: {reason}") from exc
    if anatomy.layout == "columns":
        _split_inputs(converted, anatomy)
    _expose_outputs(converted, anatomy, output_width)
    _prune(converted)
    try:
        onnx.checker.check_model(converted)
    except onnx.checker.ValidationError as exc:
        first = str(exc).splitlines()[0][:300]
        raise ConversionError(
            f"the ONNX export of {anatomy.type_name} is invalid: {first}"
        ) from exc
    return converted


def _rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _split_inputs(model: onnx.ModelProto, anatomy: ModelAnatomy) -> None:
    """Replace the per-column inputs by ``input``/``input_str``, one Gather per column.

    Gather (unlike Split, whose signature changed in opset 13) reads the same in every
    opset skl2onnx may pick for the graph.
    """
    graph = model.graph
    spec = anatomy.spec
    by_name = {i.name: i for i in graph.input}
    ignored = set(spec.ignored)
    consumed = {name for node in graph.node for name in node.input}
    for name in ignored:
        if name in consumed:
            raise ConversionError(
                f"{anatomy.type_name} reads column {name!r} although its ColumnTransformer "
                "drops it; this layout is not supported"
            )
    index = {name: i for i, name in enumerate(spec.names)}
    new_inputs = []
    column_nodes = []
    for public, columns, elem in (
        (NUMERIC_INPUT, spec.numeric_features, TensorProto.FLOAT),
        (STRING_INPUT, spec.string_features, TensorProto.STRING),
    ):
        if not columns:
            continue
        for position, column in enumerate(columns):
            if column not in by_name:
                raise ConversionError(f"the ONNX export has no input for column {column!r}")
            internal = f"{_COLUMN_PREFIX}{index[column]}"
            _rename_tensor(graph, column, internal)
            indices = helper.make_tensor(f"{internal}_index", TensorProto.INT64, [1], [position])
            graph.initializer.append(indices)
            column_nodes.append(
                helper.make_node(
                    "Gather", [public, indices.name], [internal], axis=1, name=internal
                )
            )
        new_inputs.append(helper.make_tensor_value_info(public, elem, [None, len(columns)]))
    del graph.input[:]
    graph.input.extend(new_inputs)
    nodes = column_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def _expose_outputs(model: onnx.ModelProto, anatomy: ModelAnatomy, width: int) -> None:
    """Keep only the served outputs, under their public names."""
    graph = model.graph
    produced = [o.name for o in graph.output]
    if anatomy.task == "classification":
        wanted = [(produced[1], PROBABILITIES, TensorProto.FLOAT, len(anatomy.labels))]
    elif anatomy.task == "regression":
        wanted = [(produced[0], PREDICTION, TensorProto.FLOAT, width)]
    else:
        wanted = [
            (produced[1], SCORES, TensorProto.FLOAT, 1),
            (produced[0], LABEL, TensorProto.INT64, 1),
        ]
    taken = {name for node in graph.node for name in (*node.input, *node.output)}
    outputs = []
    for internal, public, elem, dims in wanted:
        if internal != public:
            if public in taken:
                raise ConversionError(
                    f"the ONNX export of {type_name(anatomy.model)} already uses the name "
                    f"{public!r} internally"
                )
            graph.node.append(helper.make_node("Cast", [internal], [public], name=public, to=elem))
        outputs.append(helper.make_tensor_value_info(public, elem, [None, dims]))
    del graph.output[:]
    graph.output.extend(outputs)


def _prune(model: onnx.ModelProto) -> None:
    """Drop nodes and initializers no exposed output depends on."""
    graph = model.graph
    if any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for node in graph.node
        for a in node.attribute
    ):
        return
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(n for n in node.input if n)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
