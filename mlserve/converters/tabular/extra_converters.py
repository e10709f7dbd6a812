"""skl2onnx converters for scikit-learn estimators it lacks: ``EllipticEnvelope``.

``EllipticEnvelope.decision_function(X) = -mahalanobis(X) - offset_`` with
``mahalanobis(X) = sum((X - location_) @ precision_ * (X - location_), axis=1)``, and
``predict`` is 1 where that is >= 0, else -1. Computed in the input's precision (float64
for the double exports), with the outputs every outlier detector has: ``label`` and
``scores``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_registered = False


def register_extra_converters() -> None:
    """Register the converters once (idempotent)."""
    global _registered
    if _registered:
        return
    from skl2onnx import update_registered_converter
    from sklearn.covariance import EllipticEnvelope

    update_registered_converter(
        EllipticEnvelope,
        "MlserveEllipticEnvelope",
        _shape,
        _convert_elliptic_envelope,
        parser=_parse_outlier,
    )
    _registered = True


def _parse_outlier(
    scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None
) -> list[Any]:
    from skl2onnx.common.data_types import Int64TensorType, guess_tensor_type

    operator = scope.declare_local_operator("MlserveEllipticEnvelope", model)
    operator.inputs = inputs
    label = scope.declare_local_variable("label", Int64TensorType())
    scores = scope.declare_local_variable("scores", guess_tensor_type(inputs[0].type))
    operator.outputs.append(label)
    operator.outputs.append(scores)
    return list(operator.outputs)


def _shape(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType

    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([n_rows])
    operator.outputs[1].type = operator.inputs[0].type.__class__([n_rows, 1])


def _convert_elliptic_envelope(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    model = operator.raw_operator
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    dtype = np.float64 if double else np.float32
    proto = TensorProto.DOUBLE if double else TensorProto.FLOAT

    def const(stem: str, value: Any, kind: int = proto, cast: Any = dtype) -> str:
        name = scope.get_unique_variable_name(stem)
        array = np.asarray(value, dtype=cast)
        container.add_initializer(name, kind, list(array.shape), array.ravel().tolist())
        return str(name)

    def node(op_type: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        output = scope.get_unique_variable_name(stem)
        container.add_node(
            op_type, inputs, output, name=scope.get_unique_operator_name(op_type), **attrs
        )
        return str(output)

    x = operator.inputs[0].full_name
    diff = node("Sub", [x, const("location", model.location_)], "diff")
    weighted = node("MatMul", [diff, const("precision", model.precision_)], "weighted")
    squares = node("Mul", [weighted, diff], "squares")
    axes = const("axes", [1], TensorProto.INT64, np.int64)
    distance = node("ReduceSum", [squares, axes], "distance", keepdims=1)
    negated = node("Neg", [distance], "negated")
    container.add_node(
        "Sub",
        [negated, const("offset", [model.offset_])],
        operator.outputs[1].full_name,
        name=scope.get_unique_operator_name("Sub"),
    )
    inlier = node("GreaterOrEqual", [operator.outputs[1].full_name, const("zero", [0.0])], "inlier")
    one = const("one", [1], TensorProto.INT64, np.int64)
    minus_one = const("minus_one", [-1], TensorProto.INT64, np.int64)
    labels = node("Where", [inlier, one, minus_one], "labels")
    container.add_node(
        "Reshape",
        [labels, const("flat", [-1], TensorProto.INT64, np.int64)],
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Reshape"),
    )
