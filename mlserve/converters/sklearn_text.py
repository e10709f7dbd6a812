"""scikit-learn text pipelines (a vectorizer + classifier steps) to ONNX.

The graph takes raw strings (``text``, BYTES ``[batch, 1]``) and returns class
probabilities (``probabilities``, FP32 ``[batch, n_classes]``). The vectorizer (with a
following ``TfidfTransformer``) is built by :mod:`mlserve.converters.text_graph` so that
it computes exactly what scikit-learn computes on any Unicode text; the steps after it are
converted by skl2onnx from its dense output. The served model sees what the native
pipeline saw: the version's cleaning config changes no token (whitespace collapsing only
for word analyzers whose tokens never contain whitespace, nothing for the others;
:func:`serving_preprocessing`). ZipMap is switched off (Triton wants plain tensors).

Classifiers without ``predict_proba`` (``LinearSVC``) are served through a softmax over
their decision scores, and the parity check compares against the same softmax.

Parity runs on the user's texts, or, without them, on texts built from the fitted
vocabulary (:mod:`mlserve.converters.text_parity`); only user texts become the drift
reference.
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
from mlserve.converters.text_graph import FEATURES, STRING_LOCALE, build_vectorizer
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import CleaningConfig, PreprocessingConfig
from mlserve.triton.model_config import DataType, TensorSpec

__all__ = ["STRING_LOCALE", "check_parity", "export_text_pipeline", "is_text_pipeline"]

INPUT_NAME = "text"
OUTPUT_NAME = "probabilities"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
_VECTORIZERS = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer")

SKLEARN_TEXT_PREPROCESSING = PreprocessingConfig(
    cleaning=CleaningConfig(normalize_unicode=False, normalize_whitespace=True)
)
"""Serving-side cleaning of word-analyzer models whose tokens never contain whitespace:
collapsing and trimming whitespace changes no token (and a blank text is refused as
empty)."""
NO_CLEANING = PreprocessingConfig(
    cleaning=CleaningConfig(normalize_unicode=False, normalize_whitespace=False)
)
"""Serving-side cleaning of every other text model: none, so the graph gets the very
string the native pipeline would (whitespace is part of character n-grams)."""
_WHITESPACE_PROBE = "a b\tc\nd\u00a0e  f\u3000g"


def serving_preprocessing(vectorizer: Any) -> PreprocessingConfig:
    """The cleaning that cannot change what ``vectorizer`` sees (see the two configs)."""
    import re

    if getattr(vectorizer, "analyzer", None) != "word":
        return NO_CLEANING
    tokens = re.findall(vectorizer.token_pattern, _WHITESPACE_PROBE)
    if any(any(ch.isspace() for ch in token) for token in tokens):
        return NO_CLEANING
    return SKLEARN_TEXT_PREPROCESSING


TOKENIZATION_CAUSE = (
    "tokenization: the ONNX tokenizer splits or lowercases some of these texts differently "
    "(see the worst inputs)"
)


def is_text_pipeline(obj: object) -> bool:
    """True for a ``Pipeline`` whose first step is a text vectorizer."""
    steps = getattr(obj, "steps", None)
    if not steps:
        return False
    return type(steps[0][1]).__name__ in _VECTORIZERS


def export_text_pipeline(
    pipeline: Any,
    sample_texts: Sequence[str] | None,
    *,
    metrics: dict[str, float] | None = None,
    training: dict[str, Any] | None = None,
) -> ExportedModel:
    """Export a fitted text-classification pipeline and check it against the native one.

    ``sample_texts`` (the user's) feed the parity check (labels identical beyond ties,
    probabilities within 1e-4) and become the reference data for drift monitoring; None
    checks parity on texts built from the vocabulary and stores no reference. The
    returned model carries a failed :class:`ParityReport` rather than raising, so callers
    can show the report; ``publish_version`` refuses it. What cannot be reproduced raises
    :class:`ConversionError` with one line.
    """
    from mlserve.converters.text_parity import vocabulary_texts

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
    if sample_texts is not None and not sample_texts:
        raise ConversionError("parity check needs sample texts; pass at least one")
    labels = [str(c) for c in classifier.classes_]
    uses_scores = not hasattr(classifier, "predict_proba")
    onnx_model = _convert(pipeline, classifier)
    if uses_scores:
        onnx_model = _append_softmax(onnx_model, len(labels))
    texts = list(sample_texts) if sample_texts is not None else vocabulary_texts(pipeline)
    parity = check_parity(pipeline, onnx_model, texts, uses_scores=uses_scores)
    return ExportedModel(
        onnx_model=onnx_model,
        framework="sklearn",
        input_kind="text",
        inputs=(TensorSpec(name=INPUT_NAME, data_type=DataType.STRING, dims=(1,)),),
        outputs=(TensorSpec(name=OUTPUT_NAME, data_type=DataType.FP32, dims=(len(labels),)),),
        parity=parity,
        labels=labels,
        features=[INPUT_NAME],
        preprocessing=serving_preprocessing(pipeline.steps[0][1]).model_dump(),
        metrics=dict(metrics or {}),
        training={
            "trained_at": datetime.now(UTC).isoformat(),
            "pipeline": [f"{name}: {type(step).__name__}" for name, step in pipeline.steps],
            "probabilities": "softmax(decision_function)" if uses_scores else "predict_proba",
            **(training or {}),
        },
        reference_data=list(sample_texts) if sample_texts is not None else None,
        extra={"parity_data": "samples" if sample_texts is not None else "vocabulary"},
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
    """Run both models on ``texts`` and compare labels and probabilities.

    Rows without one in-vocabulary token do not exercise the model; when most rows are
    such, the report is unrepresentative (and fails)."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    batch = np.asarray(list(texts), dtype=object).reshape(-1, 1)
    (exported,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch})
    native = native_probabilities(pipeline, texts, uses_scores=uses_scores)
    known = pipeline.steps[0][1].transform(list(texts)).getnnz(axis=1) > 0
    report = compare_outputs(
        list(texts),
        native,
        np.asarray(exported),
        labels=[str(c) for c in pipeline.steps[-1][1].classes_],
        exercised=known,
        exercised_reason="have no in-vocabulary token",
        check_variety=True,
    )
    if report.label_mismatches or report.over_tolerance:
        if _counts_agree(pipeline, onnx_model, batch):
            estimator = pipeline.steps[-1][1]
            report.likely_cause = (
                f"the {type(estimator).__name__} step's ONNX conversion: the exported "
                "tokenizer counts the same n-grams as scikit-learn on these texts, the "
                "estimator answers differently (see the worst inputs); use another "
                "estimator (e.g. CalibratedClassifierCV(method='sigmoid') instead of "
                "'isotonic')"
            )
        else:
            report.likely_cause = TOKENIZATION_CAUSE
    return report


def _counts_agree(pipeline: Any, onnx_model: onnx.ModelProto, batch: Any) -> bool:
    """Whether the graph's ``TfIdfVectorizer`` node counts what the pipeline's vectorizer
    counts on ``batch``; False when that cannot be told (no single such node, another
    layout), so a failed parity keeps the tokenization cause."""
    import onnxruntime as ort
    from sklearn.feature_extraction.text import CountVectorizer

    nodes = [n for n in onnx_model.graph.node if n.op_type == "TfIdfVectorizer"]
    vectorizer = pipeline.steps[0][1]
    if len(nodes) != 1 or not isinstance(vectorizer, CountVectorizer):
        return False
    try:
        probe = onnx.ModelProto()
        probe.CopyFrom(onnx_model)
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(nodes[0].output[0], onnx.TensorProto.FLOAT, None)
        )
        session = ort.InferenceSession(
            probe.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (counts,) = session.run([nodes[0].output[0]], {INPUT_NAME: batch})
        native = CountVectorizer.transform(vectorizer, list(batch.ravel())).toarray()
    except Exception:
        return False
    counts = np.asarray(counts).reshape(native.shape[0], -1)
    if counts.shape != native.shape:
        return False
    if vectorizer.binary:
        return bool(((counts > 0) == (native > 0)).all())
    return bool(np.allclose(counts, native))


def _vocabulary(pipeline: Any) -> list[str] | None:
    words = getattr(pipeline.steps[0][1], "vocabulary_", None)
    return sorted(str(w) for w in words) if words else None


def _split(pipeline: Any) -> tuple[Any, Any | None, list[tuple[str, Any]]]:
    """The vectorizer, a TfidfTransformer right after it (or None), and the other steps."""
    steps = list(pipeline.steps)
    vectorizer = steps[0][1]
    transformer = None
    rest = steps[1:]
    if rest and type(rest[0][1]).__name__ == "TfidfTransformer":
        transformer = rest[0][1]
        rest = rest[1:]
    return vectorizer, transformer, rest


def _convert(pipeline: Any, classifier: Any) -> onnx.ModelProto:
    """The vectorizer graph followed by skl2onnx's conversion of the remaining steps."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.pipeline import Pipeline

    vectorizer, transformer, rest = _split(pipeline)
    nodes, initializers = build_vectorizer(vectorizer, transformer, INPUT_NAME)
    width = max(vectorizer.vocabulary_.values()) + 1
    estimator = rest[0][1] if len(rest) == 1 else Pipeline(rest)
    initial_types = [(FEATURES, FloatTensorType([None, width]))]
    attempts = [
        _classifier_options(classifier),
        {**_classifier_options(classifier), "zipmap": False},
    ]
    failure: Exception | None = None
    for options in attempts if "raw_scores" in attempts[0] else attempts[:1]:
        try:
            model = convert_sklearn(
                estimator,
                initial_types=initial_types,
                options={id(classifier): options},
                target_opset=TARGET_OPSET,
            )
            if not any(n.op_type == "ZipMap" for n in model.graph.node):
                break
        except Exception as exc:  # skl2onnx raises many types for unsupported steps
            failure = exc
    else:
        error = failure or RuntimeError("the export keeps a ZipMap")
        names = ", ".join(type(step).__name__ for _, step in rest)
        raise ConversionError(
            f"skl2onnx cannot convert the steps after the vectorizer ({names}: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else error!r}); "
            "supported: LogisticRegression, LinearSVC, SGDClassifier, MultinomialNB, "
            "ComplementNB, RandomForestClassifier, CalibratedClassifierCV, TruncatedSVD"
        ) from None
    graph = model.graph
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.STRING, [None, 1])
    )
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *existing])
    graph.initializer.extend(initializers)
    kept = [o for o in model.opset_import if o.domain not in ("com.microsoft", "ai.onnx.ml")]
    del model.opset_import[:]
    model.opset_import.extend(
        [*kept, helper.make_opsetid("com.microsoft", 1), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    _keep_only_output(model, "probabilities")
    return model  # type: ignore[no-any-return]


def _classifier_options(classifier: Any) -> dict[str, bool]:
    # Score-only classifiers have no ZipMap; their outputs are raw decision scores.
    if hasattr(classifier, "predict_proba"):
        return {"zipmap": False}
    return {"raw_scores": True}


def _keep_only_output(model: onnx.ModelProto, name: str) -> None:
    """Keep the scores output (the second one, named ``probabilities`` by most of
    skl2onnx's converters, ``output_probability`` by some) under ``name``."""
    outputs = [o for o in model.graph.output if o.name == name]
    if not outputs and len(model.graph.output) == 2:
        old = model.graph.output[1].name
        for node in model.graph.node:
            node.output[:] = [name if o == old else o for o in node.output]
            node.input[:] = [name if i == old else i for i in node.input]
        model.graph.output[1].name = name
        outputs = [model.graph.output[1]]
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
