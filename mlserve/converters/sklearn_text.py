"""scikit-learn text pipelines (TF-IDF or counts + a classifier) to ONNX.

The graph takes raw strings (``text``, BYTES ``[batch, 1]``) and returns class
probabilities (``probabilities``, FP32 ``[batch, n_classes]``): the vectorizer runs inside
ONNX, so serving needs no Python preprocessing beyond light cleaning. Two traps are handled
here, not left to users:

* skl2onnx's ``StringNormalizer`` (lowercasing) carries no ``locale``; ONNX Runtime then
  uses the process locale, which in containers is often ``C`` and fails or lowercases
  differently. We pin ``C.UTF-8``.
* ZipMap (a list of dicts per row) is switched off; Triton wants plain tensors.

Classifiers without ``predict_proba`` (``LinearSVC``) are served through a softmax over
their decision scores, and the parity check compares against the same softmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from mlserve.converters.base import ExportedModel, ParityReport, compare_outputs
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import CleaningConfig, PreprocessingConfig
from mlserve.triton.model_config import DataType, TensorSpec

INPUT_NAME = "text"
OUTPUT_NAME = "probabilities"
STRING_LOCALE = "C.UTF-8"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
_VECTORIZERS = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer")

SKLEARN_TEXT_PREPROCESSING = PreprocessingConfig(
    cleaning=CleaningConfig(normalize_unicode=False, normalize_whitespace=True)
)
"""Serving-side cleaning for these models: only whitespace, which the vectorizer ignores
anyway, so the served model sees what the native pipeline saw."""


def is_text_pipeline(obj: object) -> bool:
    """True for a ``Pipeline`` whose first step is a text vectorizer."""
    steps = getattr(obj, "steps", None)
    if not steps:
        return False
    return type(steps[0][1]).__name__ in _VECTORIZERS


def export_text_pipeline(
    pipeline: Any,
    sample_texts: Sequence[str],
    *,
    metrics: dict[str, float] | None = None,
    training: dict[str, Any] | None = None,
) -> ExportedModel:
    """Export a fitted text-classification pipeline and check it against the native one.

    ``sample_texts`` feed the parity check (labels identical, probabilities within 1e-4)
    and become the reference data for drift monitoring. The returned model carries a
    failed :class:`ParityReport` rather than raising, so callers can show the report;
    ``publish_version`` refuses it.
    """
    if not is_text_pipeline(pipeline):
        raise ConversionError(
            f"{type(pipeline).__name__} is not a text pipeline: expected a sklearn Pipeline "
            "starting with TfidfVectorizer or CountVectorizer and ending in a classifier"
        )
    classifier = pipeline.steps[-1][1]
    if not hasattr(classifier, "classes_"):
        raise ConversionError(
            f"the last step ({type(classifier).__name__}) is not a fitted classifier; "
            "fit the pipeline before exporting"
        )
    if not sample_texts:
        raise ConversionError("parity check needs sample texts; pass at least one")
    labels = [str(c) for c in classifier.classes_]
    uses_scores = not hasattr(classifier, "predict_proba")
    onnx_model = _convert(pipeline, classifier)
    if uses_scores:
        onnx_model = _append_softmax(onnx_model, len(labels))
    parity = check_parity(pipeline, onnx_model, sample_texts, uses_scores=uses_scores)
    return ExportedModel(
        onnx_model=onnx_model,
        framework="sklearn",
        input_kind="text",
        inputs=(TensorSpec(name=INPUT_NAME, data_type=DataType.STRING, dims=(1,)),),
        outputs=(TensorSpec(name=OUTPUT_NAME, data_type=DataType.FP32, dims=(len(labels),)),),
        parity=parity,
        labels=labels,
        features=[INPUT_NAME],
        preprocessing=SKLEARN_TEXT_PREPROCESSING.model_dump(),
        metrics=dict(metrics or {}),
        training={
            "trained_at": datetime.now(UTC).isoformat(),
            "pipeline": [f"{name}: {type(step).__name__}" for name, step in pipeline.steps],
            "probabilities": "softmax(decision_function)" if uses_scores else "predict_proba",
            **(training or {}),
        },
        reference_data=list(sample_texts),
        vocabulary=_vocabulary(pipeline),
    )


def native_probabilities(
    pipeline: Any, texts: Sequence[str], *, uses_scores: bool | None = None
) -> npt.NDArray[np.float64]:
    """What the served model returns, computed by scikit-learn itself."""
    if uses_scores is None:
        uses_scores = not hasattr(pipeline.steps[-1][1], "predict_proba")
    if not uses_scores:
        return np.asarray(pipeline.predict_proba(list(texts)), dtype=np.float64)
    scores = np.asarray(pipeline.decision_function(list(texts)), dtype=np.float64)
    if scores.ndim == 1:
        scores = np.stack([-scores, scores], axis=1)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def check_parity(
    pipeline: Any, onnx_model: onnx.ModelProto, texts: Sequence[str], *, uses_scores: bool
) -> ParityReport:
    """Run both models on ``texts`` and compare labels and probabilities."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    batch = np.asarray(list(texts), dtype=object).reshape(-1, 1)
    (exported,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch})
    native = native_probabilities(pipeline, texts, uses_scores=uses_scores)
    return compare_outputs(list(texts), native, np.asarray(exported))


def _vocabulary(pipeline: Any) -> list[str] | None:
    words = getattr(pipeline.steps[0][1], "vocabulary_", None)
    return sorted(str(w) for w in words) if words else None


def _convert(pipeline: Any, classifier: Any) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    try:
        model = convert_sklearn(
            pipeline,
            initial_types=[(INPUT_NAME, StringTensorType([None, 1]))],
            options={id(classifier): _classifier_options(classifier)},
            target_opset=TARGET_OPSET,
        )
    except Exception as exc:  # skl2onnx raises many types for unsupported steps
        raise ConversionError(
            f"skl2onnx cannot convert this pipeline ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else exc!r}); supported: "
            "TfidfVectorizer/CountVectorizer + LogisticRegression, LinearSVC, "
            "MultinomialNB, RandomForestClassifier, CalibratedClassifierCV"
        ) from None
    _pin_string_locale(model)
    _keep_only_output(model, "probabilities")
    return model  # type: ignore[no-any-return]


def _classifier_options(classifier: Any) -> dict[str, bool]:
    # Score-only classifiers have no ZipMap; their outputs are raw decision scores.
    if hasattr(classifier, "predict_proba"):
        return {"zipmap": False}
    return {"raw_scores": True}


def _pin_string_locale(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        if node.op_type == "StringNormalizer":
            kept = [a for a in node.attribute if a.name != "locale"]
            del node.attribute[:]
            node.attribute.extend(kept)
            node.attribute.append(helper.make_attribute("locale", STRING_LOCALE))


def _keep_only_output(model: onnx.ModelProto, name: str) -> None:
    outputs = [o for o in model.graph.output if o.name == name]
    if not outputs:
        raise ConversionError(f"converted graph has no {name!r} output")
    del model.graph.output[:]
    model.graph.output.extend(outputs)


def _append_softmax(model: onnx.ModelProto, n_classes: int) -> onnx.ModelProto:
    """Rename the score output and add ``probabilities = Softmax(scores)``.

    For binary classifiers skl2onnx already emits two columns ``[-s, s]``, which is what
    :func:`native_probabilities` reproduces."""
    graph = model.graph
    scores_name = "decision_scores"
    for node in graph.node:
        node.output[:] = [scores_name if o == OUTPUT_NAME else o for o in node.output]
    graph.node.append(helper.make_node("Softmax", [scores_name], [OUTPUT_NAME], axis=1))
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(OUTPUT_NAME, onnx.TensorProto.FLOAT, [None, n_classes])
    )
    return model
