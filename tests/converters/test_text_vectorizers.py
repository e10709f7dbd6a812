"""Every vectorizer option served exactly on Unicode text, or refused before conversion."""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlserve.converters.sklearn_text import export_text_pipeline
from mlserve.errors import ConversionError
from mlserve.samples.sentiment_data import generate

DATA = generate(300, seed=5)
UNICODE = [
    "génial, très bon produit!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines and  double  spaces",
    "東京タワー great 😀 emoji 👍🏽",
    "naïve café ÉCOLE Straße",
    "numbers 2024 3.14 ٣٤ ½ x1",
    "MiXeD CaSe TeXt, with punctuation; here.",
    "a b c single letters",
    "non\u00a0breaking\u3000spaces",
    "",
]
TRAIN = DATA.train_texts + UNICODE[:5]
LABELS = [*DATA.train_labels, "positive", "neutral", "neutral", "positive", "negative"]
HELD_OUT = DATA.test_texts[:80] + UNICODE


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(),
        TfidfVectorizer(ngram_range=(1, 2)),
        TfidfVectorizer(ngram_range=(2, 3)),
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
        TfidfVectorizer(stop_words="english", ngram_range=(1, 2)),
        TfidfVectorizer(stop_words=["the", "is", "and"], ngram_range=(1, 3)),
        TfidfVectorizer(lowercase=False),
        TfidfVectorizer(min_df=2, max_df=0.6, max_features=80),
        TfidfVectorizer(norm="l1"),
        TfidfVectorizer(norm=None, use_idf=False),
        TfidfVectorizer(binary=True, smooth_idf=False),
        TfidfVectorizer(token_pattern=r"(?u)\b\w+\b"),
        TfidfVectorizer(token_pattern=r"\S+"),
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3)),
        TfidfVectorizer(analyzer="char", ngram_range=(2, 4), lowercase=False),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 5)),
        CountVectorizer(),
        CountVectorizer(binary=True, ngram_range=(1, 2)),
    ],
    ids=repr,
)
def test_vectorizer_options_match_scikit_learn_on_unicode_text(vectorizer: Any) -> None:
    pipeline = Pipeline([("vec", vectorizer), ("clf", LogisticRegression(max_iter=300))])
    pipeline.fit(TRAIN, LABELS)

    exported = export_text_pipeline(pipeline, HELD_OUT)

    assert exported.parity.passed, exported.parity.summary()
    assert exported.parity.max_abs_diff <= 1e-5


def test_count_vectorizer_then_tfidf_transformer_matches() -> None:
    pipeline = Pipeline(
        [
            ("counts", CountVectorizer(ngram_range=(1, 2))),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    ).fit(TRAIN, LABELS)

    assert export_text_pipeline(pipeline, HELD_OUT).parity.passed


@pytest.mark.parametrize(
    ("vectorizer", "reason"),
    [
        (HashingVectorizer(), "HashingVectorizer cannot be served exactly"),
        (TfidfVectorizer(strip_accents="unicode"), "strip_accents='unicode') has no ONNX"),
        (TfidfVectorizer(analyzer=str.split), "analyzer=<function>"),
        (TfidfVectorizer(preprocessor=str.strip), "preprocessor=<function>"),
        (TfidfVectorizer(token_pattern=r"\b[a-z]+\b"), "cannot reproduce"),
    ],
    ids=["hashing", "strip-accents", "callable-analyzer", "preprocessor", "token-pattern"],
)
def test_what_cannot_be_exact_is_refused_before_conversion(vectorizer: Any, reason: str) -> None:
    pipeline = Pipeline([("vec", vectorizer), ("clf", LogisticRegression(max_iter=300))])
    pipeline.fit(TRAIN, LABELS)

    with pytest.raises(ConversionError) as caught:
        export_text_pipeline(pipeline, HELD_OUT)

    assert reason in caught.value.message
    assert "\n" not in caught.value.message
