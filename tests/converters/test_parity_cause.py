"""A failed text parity check names the part that differs: the tokenizer when the exported
graph counts other n-grams than scikit-learn, the estimator when the counts agree (found by
benchmarks/conversion_zoo.py: an isotonic calibration was blamed on tokenization)."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from mlserve.converters.fidelity_cases import text_data
from mlserve.converters.loading import export_native_model
from mlserve.converters.sklearn_text import TOKENIZATION_CAUSE


def test_an_estimator_that_converts_inexactly_is_named_as_the_cause() -> None:
    train, labels, held_out = text_data()
    calibrated = CalibratedClassifierCV(LinearSVC(), method="isotonic", cv=3)
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), calibrated)
    pipeline.fit(train, labels)

    report = export_native_model(pipeline, name="iso", sample_texts=held_out).parity

    assert not report.passed
    assert report.likely_cause is not None
    assert report.likely_cause.startswith("the CalibratedClassifierCV step's ONNX conversion")
    assert "method='sigmoid'" in report.likely_cause
    assert "likely cause: the CalibratedClassifierCV step" in report.summary()


def test_a_tokenizer_that_counts_differently_is_named_as_the_cause() -> None:
    # ONNX Runtime lowercases the dotted capital I differently from Python.
    train = ["İstanbul güzel", "istanbul güzel şehir", "ankara kötü", "ankara kötü şehir"] * 5
    labels = ["pos", "pos", "neg", "neg"] * 5
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(train, labels)
    samples = ["İSTANBUL güzel", "İstanbul İstanbul", "ankara", "güzel şehir"] * 3

    report = export_native_model(pipeline, name="tr", sample_texts=samples).parity

    assert not report.passed
    assert report.likely_cause == TOKENIZATION_CAUSE
