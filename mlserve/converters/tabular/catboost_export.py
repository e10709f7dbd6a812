"""CatBoost models through CatBoost's own ONNX export, wired to the tabular interface.

CatBoost compares float32 features with float32 borders, so the float32 ``input`` tensor
is exact. Categorical and text features have no ONNX export in CatBoost: such models are
refused with that reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

from mlserve.converters.tabular.inspection import ModelAnatomy, type_name
from mlserve.converters.tabular.spec import (
    NUMERIC_INPUT,
    PREDICTION,
    PROBABILITIES,
    TabularFeature,
    TabularSpec,
)
from mlserve.errors import ConversionError


def is_catboost(model: Any) -> bool:
    return type(model).__module__.split(".")[0] == "catboost"


def inspect_catboost(model: Any, features: Sequence[str] | None) -> ModelAnatomy:
    """The anatomy of a fitted CatBoostClassifier/CatBoostRegressor."""
    kind = type(model).__name__
    if kind not in ("CatBoostClassifier", "CatBoostRegressor"):
        raise ConversionError(f"{type_name(model)} is not supported: use CatBoostClassifier "
                              "or CatBoostRegressor")  # fmt: skip
    if not model.is_fitted():
        raise ConversionError(f"{type_name(model)} is not fitted: fit it before deploying")
    if model.get_cat_feature_indices() or getattr(model, "get_text_feature_indices", list)():
        raise ConversionError(
            f"{kind} uses categorical or text features, which CatBoost cannot export to ONNX: "
            "one-hot encode them before training (or train without cat_features)"
        )
    trained = [str(n) for n in model.feature_names_]
    positional = trained == [str(i) for i in range(len(trained))]
    names = list(features) if features is not None else (None if positional else trained)
    if names is None:
        raise ConversionError(
            f"{kind} was trained on an array: pass `features` with its {len(trained)} column "
            "names in training order"
        )
    if len(names) != len(trained):
        raise ConversionError(
            f"`features` lists {len(names)} names but {kind} takes {len(trained)} columns"
        )
    classifier = kind == "CatBoostClassifier"
    labels = tuple(str(c) for c in model.classes_) if classifier else ()
    spec = TabularSpec(features=tuple(TabularFeature(n, "numeric") for n in names))
    return ModelAnatomy(
        model=model,
        final=model,
        task="classification" if classifier else "regression",
        framework="catboost",
        layout="matrix",
        spec=spec,
        model_columns=None if positional else tuple(trained),
        labels=labels,
    )


def catboost_to_onnx(anatomy: ModelAnatomy) -> onnx.ModelProto:
    """CatBoost's ONNX export, with ``input`` and only the served output."""
    with tempfile.TemporaryDirectory(prefix="mlserve-catboost-") as folder:
        path = Path(folder) / "model.onnx"
        try:
            anatomy.model.save_model(str(path), format="onnx")
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ConversionError(
                f"CatBoost could not export this model to ONNX: {first}"
            ) from None
        model = onnx.load(str(path))
    graph = model.graph
    old_input = graph.input[0].name
    for node in graph.node:
        node.input[:] = [NUMERIC_INPUT if i == old_input else i for i in node.input]
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info(
            NUMERIC_INPUT, TensorProto.FLOAT, [None, len(anatomy.spec.features)]
        )
    )
    produced = [o.name for o in graph.output]
    if anatomy.task == "classification":
        source = (
            "probability_tensor"
            if "probability_tensor" in {n for node in graph.node for n in node.output}
            else produced[-1]
        )
        _drop_zipmap(graph)
        public, width = PROBABILITIES, len(anatomy.labels)
    else:
        source, public, width = produced[0], PREDICTION, 1
    graph.node.append(helper.make_node("Cast", [source], [f"{public}_cast"], to=TensorProto.FLOAT))
    graph.node.append(helper.make_node("Reshape", [f"{public}_cast", f"{public}_shape"], [public]))
    graph.initializer.append(
        helper.make_tensor(f"{public}_shape", TensorProto.INT64, [2], [-1, width])
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(public, TensorProto.FLOAT, [None, width]))
    return model


def _drop_zipmap(graph: onnx.GraphProto) -> None:
    kept = [n for n in graph.node if n.op_type != "ZipMap"]
    del graph.node[:]
    graph.node.extend(kept)
