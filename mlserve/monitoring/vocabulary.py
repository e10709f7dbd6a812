"""A model's word vocabulary, for out-of-vocabulary rates, and where to find it.

Live OOV rates have to be computed the same way as the reference ones, from the profile
alone (the serving side has no sklearn pipeline, only the ONNX graph). So the vocabulary
travels inside the reference profile as a Bloom filter: bounded size whatever the
vocabulary, JSON-serializable, and exact for words it holds (a small share of unknown words
is taken for known ones, identically in the reference and live, so rates stay comparable).

Tokenization is deliberately simple and model-independent: lowercase, ``\\w+``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlserve.errors import InvalidInputError

_WORD = re.compile(r"\w+")
_SPECIAL_TOKEN = re.compile(r"^\[.*\]$|^<.*>$")
_SUBWORD_MARKERS = ("\u2581", "\u0120")  # sentencepiece '▁', byte-level BPE 'Ġ'

FILTER_FORMAT = "bloom/blake2b-1"
DEFAULT_FALSE_POSITIVE_RATE = 0.01
_SEEN_WORDS = 50_000
MAX_FILTER_BITS = 1 << 20
"""128 KiB of bits: 1% false positives up to ~110k words, more beyond that."""


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens (``\\w+``), the tokenization every OOV rate uses."""
    return _WORD.findall(text.lower())


class VocabularyFilter:
    """Set membership for a vocabulary, as a Bloom filter of fixed size."""

    def __init__(self, bits: bytearray, num_bits: int, num_hashes: int, size: int) -> None:
        if num_bits <= 0 or len(bits) * 8 < num_bits or num_hashes <= 0:
            raise InvalidInputError(
                "reference_profile.vocabulary is malformed: num_bits and num_hashes must be "
                "positive and bits must hold num_bits bits; recompute the reference profile"
            )
        self._bits = bits
        self.num_bits = num_bits
        self.num_hashes = num_hashes
        self.size = size
        self._seen: dict[str, bool] = {}
        """Membership answers already computed (live traffic repeats words); bounded."""

    @classmethod
    def from_tokens(
        cls,
        tokens: Iterable[str],
        *,
        false_positive_rate: float = DEFAULT_FALSE_POSITIVE_RATE,
        max_bits: int = MAX_FILTER_BITS,
    ) -> VocabularyFilter:
        """A filter holding ``tokens`` (lowercased), sized for ``false_positive_rate``."""
        words = {token.lower() for token in tokens if token}
        n = max(len(words), 1)
        wanted = math.ceil(-n * math.log(false_positive_rate) / (math.log(2) ** 2))
        num_bits = max(64, min(max_bits, wanted))
        num_hashes = max(1, min(16, round(num_bits / n * math.log(2))))
        self = cls(bytearray((num_bits + 7) // 8), num_bits, num_hashes, len(words))
        for word in words:
            for index in self._indexes(word):
                self._bits[index >> 3] |= 1 << (index & 7)
        return self

    def _indexes(self, word: str) -> Iterable[int]:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=16).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:], "little") | 1
        return ((h1 + i * h2) % self.num_bits for i in range(self.num_hashes))

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        known = self._seen.get(word)
        if known is None:
            bits = self._bits
            known = all(bits[i >> 3] & (1 << (i & 7)) for i in self._indexes(word))
            if len(self._seen) >= _SEEN_WORDS:
                self._seen.clear()
            self._seen[word] = known
        return known

    def oov_rate(self, tokens: list[str]) -> float:
        """Share of ``tokens`` not in the vocabulary (0 for a text without tokens)."""
        if not tokens:
            return 0.0
        return sum(1 for token in tokens if token not in self) / len(tokens)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form stored in the reference profile."""
        return {
            "format": FILTER_FORMAT,
            "num_bits": self.num_bits,
            "num_hashes": self.num_hashes,
            "size": self.size,
            "bits": base64.b64encode(bytes(self._bits)).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VocabularyFilter:
        """Inverse of :meth:`to_dict`; a malformed dict raises InvalidInputError."""
        if data.get("format") != FILTER_FORMAT:
            raise InvalidInputError(
                f"reference_profile.vocabulary.format is {data.get('format')!r}, expected "
                f"{FILTER_FORMAT!r}; recompute the reference profile with this mlserve version"
            )
        try:
            bits = bytearray(base64.b64decode(str(data["bits"]), validate=True))
            return cls(bits, int(data["num_bits"]), int(data["num_hashes"]), int(data["size"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                "reference_profile.vocabulary is malformed (needs bits, num_bits, num_hashes, "
                f"size): {exc}; recompute the reference profile"
            ) from exc


def _word_tokens(tokens: Iterable[str]) -> set[str]:
    """Keep whole words: drop n-grams, special tokens and continuation pieces."""
    words: set[str] = set()
    for raw in tokens:
        token = raw
        if _SPECIAL_TOKEN.match(token) or token.startswith("##"):
            continue
        for marker in _SUBWORD_MARKERS:
            token = token.removeprefix(marker)
        token = token.lower()
        if token and _WORD.fullmatch(token):
            words.add(token)
    return words


def sklearn_vocabulary(model: Any) -> set[str] | None:
    """Unigram words of the word-level vectorizers in a fitted sklearn model, or None.

    Looks through ``Pipeline`` steps, ``FeatureUnion`` and ``ColumnTransformer`` parts for
    objects with a ``vocabulary_`` (``TfidfVectorizer``, ``CountVectorizer``); character
    analyzers are skipped, since their vocabulary is not words. None means "no word
    vocabulary": the profile then has no OOV signal.
    """
    found: set[str] = set()
    seen = False
    stack = [model]
    while stack:
        item = stack.pop()
        vocabulary = getattr(item, "vocabulary_", None)
        if isinstance(vocabulary, Mapping) and getattr(item, "analyzer", "word") == "word":
            seen = True
            found |= _word_tokens(str(term) for term in vocabulary if " " not in str(term))
        for attribute in ("steps", "transformer_list", "transformers_"):
            parts = getattr(item, attribute, None)
            if isinstance(parts, list):
                stack.extend(part[1] for part in parts if isinstance(part, tuple))
    return found if seen else None


def hf_vocabulary(tokenizer_or_vocab: Any) -> set[str]:
    """Whole-word tokens of a Hugging Face tokenizer (``get_vocab()``) or a token mapping.

    WordPiece continuations (``##ing``), special tokens (``[CLS]``, ``<s>``) and tokens that
    are not words are dropped; sentencepiece/BPE word markers are stripped.
    """
    get_vocab = getattr(tokenizer_or_vocab, "get_vocab", None)
    vocab = get_vocab() if callable(get_vocab) else tokenizer_or_vocab
    return _word_tokens(str(token) for token in vocab)


def hf_vocabulary_from_dir(tokenizer_dir: Path) -> set[str] | None:
    """Whole-word tokens from a saved tokenizer folder (``vocab.txt`` or ``tokenizer.json``)."""
    vocab_txt = tokenizer_dir / "vocab.txt"
    if vocab_txt.is_file():
        return hf_vocabulary(vocab_txt.read_text(encoding="utf-8").splitlines())
    tokenizer_json = tokenizer_dir / "tokenizer.json"
    if tokenizer_json.is_file():
        model = json.loads(tokenizer_json.read_text(encoding="utf-8")).get("model", {})
        vocab = model.get("vocab")
        if isinstance(vocab, Mapping):
            return hf_vocabulary(vocab.keys())
        if isinstance(vocab, list):
            return hf_vocabulary(entry[0] if isinstance(entry, list) else entry for entry in vocab)
    return None


def onnx_vocabulary(onnx_model: Any) -> set[str] | None:
    """Unigram words of the ``TfIdfVectorizer`` nodes of an ONNX graph, or None.

    Serves when only the exported graph is at hand (skl2onnx stores the vectorizer's
    vocabulary as the node's ``pool_strings``).
    """
    words: set[str] = set()
    seen = False
    for node in onnx_model.graph.node:
        if node.op_type != "TfIdfVectorizer":
            continue
        for attribute in node.attribute:
            if attribute.name == "pool_strings":
                seen = True
                words |= _word_tokens(s.decode("utf-8") for s in attribute.strings)
    return words if seen else None
