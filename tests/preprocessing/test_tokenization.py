"""Word and Hugging Face tokenizers: ids, padding, truncation flags and refusals."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from mlserve.errors import ConversionError, InvalidInputError
from mlserve.preprocessing.config import TokenizerConfig
from mlserve.preprocessing.tokenization import (
    PAD_ID,
    UNKNOWN_ID,
    HuggingFaceTokenizer,
    WordTokenizer,
    build_tokenizer,
)
from mlserve.samples.minilm import minilm_path

VOCABULARY = ["the", "movie", "was", "great", "bad"]


def word_tokenizer(**overrides: object) -> WordTokenizer:
    config = TokenizerConfig(kind="word", vocabulary=VOCABULARY, max_length=4, **overrides)
    tokenizer = build_tokenizer(config, Path("unused"))
    assert isinstance(tokenizer, WordTokenizer)
    return tokenizer


def test_word_ids_are_vocabulary_positions_plus_two_with_unknown_and_padding() -> None:
    encoded = word_tokenizer().encode(["The MOVIE was great!", "bad popcorn"])

    assert encoded.input_ids.dtype == np.int64
    assert encoded.attention_mask.dtype == np.int64
    assert encoded.input_ids.tolist() == [[2, 3, 4, 5], [6, UNKNOWN_ID, PAD_ID, PAD_ID]]
    assert encoded.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert encoded.truncated == [False, False]


def test_word_tokenizer_flags_and_cuts_texts_longer_than_max_length() -> None:
    encoded = word_tokenizer().encode(["the movie was great and bad", "great"])

    assert encoded.truncated == [True, False]
    assert encoded.input_ids.shape == (2, 4)
    assert encoded.input_ids[0].tolist() == [2, 3, 4, 5]


def test_longest_padding_pads_to_the_batch_and_max_length_padding_to_the_limit() -> None:
    assert word_tokenizer().encode(["great", "bad"]).input_ids.shape == (2, 1)
    fixed = word_tokenizer(padding="max_length").encode(["great", "bad"])
    assert fixed.input_ids.shape == (2, 4)
    assert fixed.attention_mask.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0]]


def test_word_tokenizer_without_truncation_rejects_a_long_text() -> None:
    tokenizer = word_tokenizer(truncation=False)
    with pytest.raises(InvalidInputError, match=r"texts\[1\] has 6 tokens .* at most 4"):
        tokenizer.encode(["great", "the movie was great and bad"])


def test_word_tokenizer_rejects_a_text_without_words() -> None:
    with pytest.raises(InvalidInputError, match=r"texts\[0\] contains no words"):
        word_tokenizer().encode(["?!", "great"])


def test_word_tokenizer_needs_a_vocabulary() -> None:
    with pytest.raises(ConversionError, match="needs a vocabulary"):
        build_tokenizer(TokenizerConfig(kind="word"), Path("unused"))


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version folder with the MiniLM tokenizer saved under ``tokenizer/``."""
    folder = tmp_path_factory.mktemp("version")
    HuggingFaceTokenizer(minilm_path(), max_length=128).hf_tokenizer.save_pretrained(
        str(folder / "tokenizer")
    )
    return folder


def hf_tokenizer(version_dir: Path, **overrides: object) -> HuggingFaceTokenizer:
    config = TokenizerConfig(kind="huggingface", path="tokenizer", max_length=8, **overrides)
    tokenizer = build_tokenizer(config, version_dir)
    assert isinstance(tokenizer, HuggingFaceTokenizer)
    return tokenizer


def test_hf_truncation_counts_special_tokens(version_dir: Path) -> None:
    # [CLS] + 6 words + [SEP] = 8 tokens fits; a seventh word does not.
    encoded = hf_tokenizer(version_dir).encode(
        ["one two three four five six", "one two three four five six seven", "hi"]
    )

    assert encoded.truncated == [False, True, False]
    assert encoded.input_ids.dtype == np.int64
    assert encoded.input_ids.shape == (3, 8)
    assert encoded.input_ids[1, -1] == 102  # still ends with [SEP] after the cut
    assert encoded.attention_mask[2].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]


def test_hf_longest_padding_and_max_length_padding(version_dir: Path) -> None:
    assert hf_tokenizer(version_dir).encode(["hi", "hello"]).input_ids.shape == (2, 3)
    fixed = hf_tokenizer(version_dir, padding="max_length").encode(["hi"])
    assert fixed.input_ids.shape == (1, 8)


def test_hf_without_truncation_rejects_a_long_text(version_dir: Path) -> None:
    tokenizer = hf_tokenizer(version_dir, truncation=False)
    with pytest.raises(InvalidInputError, match=r"texts\[0\] has 12 tokens .* at most 8"):
        tokenizer.encode(["one two three four five six seven eight nine ten"])


def test_hf_tokenizer_is_safe_to_share_between_threads(version_dir: Path) -> None:
    """Rejecting a long text re-tokenizes it untruncated; that must not leak into others."""
    tokenizer = hf_tokenizer(version_dir, truncation=False)
    texts = [("word " * (i % 6 + 1)) * (20 if i % 2 else 1) for i in range(120)]

    def encode(text: str) -> object:
        try:
            return tokenizer.encode([text]).input_ids.tolist()
        except InvalidInputError:
            return "too long"

    expected = [encode(t) for t in texts]
    assert expected.count("too long") == 60
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(encode, texts)) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TokenizerConfig(kind="huggingface"), "needs tokenizer.path"),
        (TokenizerConfig(kind="huggingface", path="missing"), "no Hugging Face tokenizer in"),
        (TokenizerConfig(kind="huggingface", path="tokenizer", max_length=1000), "at most 512"),
        (TokenizerConfig(kind="none"), "takes raw text"),
    ],
)
def test_unusable_configs_are_refused(
    config: TokenizerConfig, message: str, version_dir: Path
) -> None:
    with pytest.raises(ConversionError, match=message):
        build_tokenizer(config, version_dir)
