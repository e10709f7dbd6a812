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
from mlserve.converters.tabular.extra_converters import register_extra_converters
from mlserve.converters.tabular.inspection import ModelAnatomy, final_estimator, type_name
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


def convert_to_onnx(
    anatomy: ModelAnatomy, output_width: int, *, double: bool = False
) -> onnx.ModelProto:
    """Convert the model and rewire it to the documented tabular interface.

    ``output_width`` is the second dimension of ``prediction`` for regressors (targets);
    classifiers use the number of labels and outlier detectors 1. ``double`` takes the
    numeric input as DOUBLE, so preprocessing runs in float64 as in scikit-learn; trees
    then get what scikit-learn's trees get (the float32 of that value) and thresholds
    rounded down to float32 (:func:`exact_tree_thresholds`), which makes every comparison
    decide as scikit-learn's ``float32(x) <= threshold`` does.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        StringTensorType,
    )

    number_type = DoubleTensorType if double else FloatTensorType

    register_booster_converters(anatomy.framework)
    register_extra_converters()
    spec = anatomy.spec
    if anatomy.layout == "matrix":
        initial_types: list[tuple[str, Any]] = [
            (NUMERIC_INPUT, number_type([None, len(spec.features)]))
        ]
    else:
        kinds = {f.name: f.kind for f in spec.features}
        initial_types = [
            (
                name,
                StringTensorType([None, 1])
                if kinds.get(name) == "string"
                else number_type([None, 1]),
            )
            for name in anatomy.model_columns or ()
        ]
    model = _with_positional_booster_names(anatomy.model)
    final = final_estimator(model)
    options = {id(final): {"zipmap": False}} if anatomy.task == "classification" else None
    try:
        converted: onnx.ModelProto = convert_sklearn(
            model,
            initial_types=initial_types,
            options=options,
            target_opset=TARGET_OPSET,
        )
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ConversionError(f"could not convert {anatomy.type_name} to ONNX: {reason}") from exc
    if double:
        double_imputers(converted)
    exact_tree_thresholds(converted, anatomy.model)
    if anatomy.layout == "columns":
        _split_inputs(converted, anatomy, TensorProto.DOUBLE if double else TensorProto.FLOAT)
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


def _with_positional_booster_names(model: Any) -> Any:
    """An XGBoost model trained on a DataFrame names its features after the columns; the
    converter reads them from the tree dump and wants ``f0``, ``f1``, ...: convert a copy
    whose booster forgets the names (the tensor layout is positional anyway)."""
    import copy

    final = final_estimator(model)
    if type(final).__module__.split(".")[0] != "xgboost":
        return model
    booster = final.get_booster()
    if not booster.feature_names:
        return model
    clone = copy.deepcopy(model)
    final_estimator(clone).get_booster().feature_names = None
    return clone


def widen_numeric_input(model: onnx.ModelProto) -> None:
    """Make a FLOAT ``input`` a DOUBLE one, cast to float32 inside the graph.

    Every new tabular version takes float64, whatever precision its estimator computes
    in, so all versions of a model (A/B tests, rollbacks) take the same tensor; rounding
    to float32 inside the graph is exactly what a float32 input did."""
    graph = model.graph
    for graph_input in graph.input:
        tensor_type = graph_input.type.tensor_type
        if graph_input.name != NUMERIC_INPUT or tensor_type.elem_type != TensorProto.FLOAT:
            continue
        narrowed = f"{NUMERIC_INPUT}_mlserve_float32"
        for node in graph.node:
            node.input[:] = [narrowed if i == NUMERIC_INPUT else i for i in node.input]
        tensor_type.elem_type = TensorProto.DOUBLE
        cast = helper.make_node(
            "Cast", [NUMERIC_INPUT], [narrowed], name=narrowed, to=TensorProto.FLOAT
        )
        nodes = [cast, *graph.node]
        del graph.node[:]
        graph.node.extend(nodes)


def _rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _split_inputs(model: onnx.ModelProto, anatomy: ModelAnatomy, number: int) -> None:
    """Replace the per-column inputs by ``input``/``input_str``, one Gather per column.

    Gather (unlike Split, whose signature changed in opset 13) reads the same in every
    opset skl2onnx may pick for the graph.
    """
    graph = model.graph
    spec = anatomy.spec
    # skl2onnx may rename inputs (spaces, symbols): match them to the columns by position
    by_name = {
        column: graph_input.name
        for column, graph_input in zip(anatomy.model_columns or (), graph.input, strict=False)
    }
    ignored = set(spec.ignored)
    consumed = {name for node in graph.node for name in node.input}
    for name in ignored:
        if by_name.get(name, name) in consumed:
            raise ConversionError(
                f"{anatomy.type_name} reads column {name!r} although its ColumnTransformer "
                "drops it; this layout is not supported"
            )
    index = {name: i for i, name in enumerate(spec.names)}
    new_inputs = []
    column_nodes = []
    for public, columns, elem in (
        (NUMERIC_INPUT, spec.numeric_features, number),
        (STRING_INPUT, spec.string_features, TensorProto.STRING),
    ):
        if not columns:
            continue
        for position, column in enumerate(columns):
            if column not in by_name:
                raise ConversionError(f"the ONNX export has no input for column {column!r}")
            internal = f"{_COLUMN_PREFIX}{index[column]}"
            _rename_tensor(graph, by_name[column], internal)
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
        if internal == public:  # cast it all the same: a double export computes in float64
            internal = f"{public}_mlserve_raw"
            for node in graph.node:
                node.output[:] = [internal if o == public else o for o in node.output]
                node.input[:] = [internal if i == public else i for i in node.input]
        elif public in taken:
            raise ConversionError(
                f"the ONNX export of {type_name(anatomy.model)} already uses the name "
                f"{public!r} internally"
            )
        graph.node.append(helper.make_node("Cast", [internal], [public], name=public, to=elem))
        outputs.append(helper.make_tensor_value_info(public, elem, [None, dims]))
    del graph.output[:]
    graph.output.extend(outputs)


_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


def sklearn_trees(model: Any) -> list[Any]:
    """Every fitted scikit-learn tree (``tree_``) inside ``model``."""
    trees: list[Any] = []
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > 6:
            return
        seen.add(id(obj))
        tree = getattr(obj, "tree_", None)
        if tree is not None and hasattr(tree, "threshold"):
            trees.append(tree)
        for child in _children(obj):
            visit(child, depth + 1)

    visit(model, 0)
    return trees


def has_nonfinite_thresholds(model: Any) -> bool:
    """Trees fitted on missing values may split at inf/NaN, which skl2onnx's double
    conversion loops on."""
    import numpy as np

    return any(
        not np.isfinite(tree.threshold[tree.children_left >= 0]).all()
        for tree in sklearn_trees(model)
    )


def sklearn_thresholds(model: Any) -> dict[float, float]:
    """float32(threshold) -> the largest float32 <= threshold, over every scikit-learn tree
    in ``model`` (only where that is unambiguous)."""
    import numpy as np

    found: dict[float, set[float]] = {}
    for tree in sklearn_trees(model):
        values = np.asarray(tree.threshold, dtype=np.float64)[tree.children_left >= 0]
        values = values[np.isfinite(values)]
        nearest = values.astype(np.float32)
        down = np.where(nearest > values, np.nextafter(nearest, np.float32(-np.inf)), nearest)
        for key, value in zip(nearest.tolist(), down.tolist(), strict=True):
            found.setdefault(key, set()).add(value)
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1 and next(iter(v)) != k}


def _children(obj: Any) -> list[Any]:
    children: list[Any] = []
    for attribute in (
        "steps",
        "transformers_",
        "estimators_",
        "estimator_",
        "calibrated_classifiers_",
    ):
        value = getattr(obj, attribute, None)
        if value is None:
            continue
        if hasattr(value, "ravel"):
            value = list(value.ravel())
        if not isinstance(value, list | tuple):
            value = [value]
        for item in value:
            children.extend(i for i in item if hasattr(i, "fit")) if isinstance(
                item, tuple
            ) else children.append(item)
    return children


def double_thresholds(model: Any) -> dict[float, float]:
    """float32(threshold) -> threshold, for trees that compare float64 inputs with float64
    thresholds (HistGradientBoosting, LightGBM), where that is unambiguous."""
    import numpy as np

    from mlserve.converters.tabular.threshold_rows import float64_tree_thresholds

    found: dict[float, set[float]] = {}
    for _, value in float64_tree_thresholds(final_estimator(model)):
        found.setdefault(float(np.float32(value)), set()).add(value)
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1}


def exact_tree_thresholds(model: onnx.ModelProto, native: Any) -> None:
    """Make tree comparisons decide as the native model's.

    scikit-learn's trees and XGBoost compare ``float32(x)`` with the threshold: each tree
    node reads a float32 input, and the threshold is rounded down to float32 (skl2onnx
    rounds to nearest, which flips rows one float32 step above a threshold).
    HistGradientBoosting and LightGBM compare float64 ``x`` with float64 thresholds: the
    node keeps its float64 input and gets the exact thresholds
    (``nodes_values_as_tensor``)."""
    import numpy as np

    graph = model.graph
    if not any(n.op_type in _TREE_OPS for n in graph.node):
        return
    exact = double_thresholds(native)
    fixes = {} if exact else sklearn_thresholds(native)
    nodes = []
    for node in graph.node:
        if node.op_type in _TREE_OPS:
            values = next((a for a in node.attribute if a.name == "nodes_values"), None)
            if exact and values is not None:
                # The input may be float32 (e.g. a ColumnTransformer's Concat): ONNX
                # Runtime's float tree kernel cannot read double thresholds and refused to
                # load the graph. A Cast to double (a no-op on a double input) selects the
                # double kernel; parity judges whether the comparisons are still exact.
                cast = f"{node.name or node.output[0]}_mlserve_float64"
                nodes.append(
                    helper.make_node(
                        "Cast", [node.input[0]], [cast], name=cast, to=TensorProto.DOUBLE
                    )
                )
                node.input[0] = cast
                doubles = np.array([exact.get(v, v) for v in values.floats], dtype=np.float64)
                kept = [a for a in node.attribute if a.name != "nodes_values"]
                del node.attribute[:]
                node.attribute.extend(kept)
                node.attribute.append(
                    helper.make_attribute(
                        "nodes_values_as_tensor",
                        onnx.numpy_helper.from_array(doubles, "nodes_values"),
                    )
                )
            else:
                cast = f"{node.name or node.output[0]}_mlserve_float32"
                nodes.append(
                    helper.make_node(
                        "Cast", [node.input[0]], [cast], name=cast, to=TensorProto.FLOAT
                    )
                )
                node.input[0] = cast
                if fixes and values is not None:
                    fixed = [fixes.get(v, v) for v in values.floats]
                    del values.floats[:]
                    values.floats.extend(fixed)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    if exact:  # nodes_values_as_tensor is ai.onnx.ml opset 3
        for opset in model.opset_import:
            if opset.domain == "ai.onnx.ml":
                opset.version = max(opset.version, 3)


def double_imputers(model: onnx.ModelProto) -> None:
    """Replace each float ``Imputer`` node (ai.onnx.ml) with ``Where(IsNaN(x), values, x)``
    in double precision.

    skl2onnx emits ``Imputer`` for ``SimpleImputer`` on a double input too, but ONNX
    Runtime implements it for float only: the double export failed to load and the float32
    export took its place, rounding the scaled values trees compare (a ColumnTransformer
    with an imputer + XGBoost then served wrong answers). Only NaN placeholders are
    rewritten (``missing_values=np.nan``, scikit-learn's default); others keep the node,
    and a double export that cannot load still falls back.
    """
    import math

    import numpy as np

    graph = model.graph
    nodes = []
    for node in graph.node:
        attrs = {a.name: a for a in node.attribute}
        replaced = attrs.get("replaced_value_float")
        values = attrs.get("imputed_value_floats")
        if node.op_type != "Imputer" or values is None or not values.floats:
            nodes.append(node)
            continue
        if replaced is not None and not math.isnan(replaced.f):
            nodes.append(node)
            continue
        stem = f"{node.name or node.output[0]}_mlserve_double"
        constant = onnx.numpy_helper.from_array(
            np.array(list(values.floats), dtype=np.float64).reshape(1, -1), f"{stem}_values"
        )
        graph.initializer.append(constant)
        nodes.append(
            helper.make_node("IsNaN", [node.input[0]], [f"{stem}_nan"], name=f"{stem}_nan")
        )
        nodes.append(
            helper.make_node(
                "Where",
                [f"{stem}_nan", constant.name, node.input[0]],
                [node.output[0]],
                name=stem,
            )
        )
    del graph.node[:]
    graph.node.extend(nodes)


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
