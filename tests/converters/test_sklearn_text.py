"""scikit-learn text pipelines to ONNX: parity with the native model, or a refusal."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from mlserve.converters.sklearn_text import (
    STRING_LOCALE,
    check_parity,
    export_text_pipeline,
    is_text_pipeline,
)
from mlserve.errors import ConversionError
from mlserve.samples.sentiment_data import generate

DATA = generate(600, seed=3)
TRICKY = ["ÉCOLE Straße İstanbul!!", "MiXeD CaSe TeXt", "emoji 😀 and tabs\tand\nnewlines"]


@pytest.mark.parametrize(
    "classifier",
    [
        LogisticRegression(max_iter=500),
        LinearSVC(),
        CalibratedClassifierCV(LinearSVC(), cv=3),
        MultinomialNB(),
        RandomForestClassifier(n_estimators=15, random_state=0),
    ],
    ids=lambda c: type(c).__name__,
)
@pytest.mark.parametrize("vectorizer", [TfidfVectorizer, CountVectorizer])
def test_supported_pipelines_match_the_native_model(classifier: Any, vectorizer: Any) -> None:
    pipeline = Pipeline([("vec", vectorizer()), ("clf", classifier)])
    pipeline.fit(DATA.train_texts, DATA.train_labels)

    exported = export_text_pipeline(pipeline, DATA.test_texts + TRICKY)

    assert exported.parity.passed, exported.parity.mismatches[:2]
    assert exported.parity.n_samples == len(DATA.test_texts) + len(TRICKY)
    assert exported.parity.max_abs_diff <= 1e-4
    assert exported.labels == ["negative", "neutral", "positive"]
    assert [o.name for o in exported.onnx_model.graph.output] == ["probabilities"]


def test_string_normalizer_locale_is_pinned() -> None:
    pipeline = Pipeline([("vec", TfidfVectorizer()), ("clf", MultinomialNB())])
    pipeline.fit(DATA.train_texts, DATA.train_labels)

    model = export_text_pipeline(pipeline, DATA.test_texts[:20]).onnx_model

    normalizers = [n for n in model.graph.node if n.op_type == "StringNormalizer"]
    assert normalizers
    for node in normalizers:
        locales = [a.s.decode() for a in node.attribute if a.name == "locale"]
        assert locales == [STRING_LOCALE]


def test_a_diverging_export_fails_parity_with_a_report() -> None:
    pipeline = Pipeline([("vec", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=500))])
    pipeline.fit(DATA.train_texts, DATA.train_labels)
    model = export_text_pipeline(pipeline, DATA.test_texts).onnx_model
    _perturb_coefficients(model)

    report = check_parity(pipeline, model, DATA.test_texts, uses_scores=False)

    assert not report.passed
    assert report.mismatches
    assert {"index", "native", "onnx"} <= set(report.mismatches[0])
    assert "FAILED" in report.summary()


def test_non_text_pipelines_are_refused_with_the_reason() -> None:
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    assert not is_text_pipeline(pipeline)
    with pytest.raises(ConversionError, match="not a text pipeline"):
        export_text_pipeline(pipeline, ["x"])


def test_unfitted_pipeline_is_refused() -> None:
    pipeline = Pipeline([("vec", TfidfVectorizer()), ("clf", LogisticRegression())])
    with pytest.raises(ConversionError, match="fit the pipeline"):
        export_text_pipeline(pipeline, ["x"])


def _perturb_coefficients(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        if node.op_type == "LinearClassifier":
            for attribute in node.attribute:
                if attribute.name == "coefficients":
                    values = np.array(attribute.floats) * 3.0 + 0.5
                    del attribute.floats[:]
                    attribute.floats.extend(values.tolist())
                    return
    for initializer in model.graph.initializer:
        array = numpy_helper.to_array(initializer)
        if array.dtype == np.float32 and array.size > 10:
            initializer.CopyFrom(numpy_helper.from_array(array * 3.0 + 0.5, initializer.name))
            return
    raise AssertionError("no coefficients found to perturb")
