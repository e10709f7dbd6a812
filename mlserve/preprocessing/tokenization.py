"""Cleaned text -> token ids, the same way at export time and when serving.

Two tokenizers, chosen by :class:`~mlserve.preprocessing.config.TokenizerConfig.kind`:

- ``word``: lowercase ``\\w+`` words looked up in the config's vocabulary (id = position + 2;
  0 is padding, 1 an unknown word). For small PyTorch models trained on word ids.
- ``huggingface``: a Hugging Face *fast* tokenizer loaded offline from a folder shipped
  with the model version (``TokenizerConfig.path``, relative to the version folder).

Both return int64 ``input_ids`` and ``attention_mask`` of shape ``[n_texts, length]`` and a
per-text ``truncated`` flag: true when the text had more tokens than ``max_length`` (special
tokens included for ``huggingface``) and was cut. With ``truncation`` off such a text is
rejected instead. ``transformers`` is imported only when a ``huggingface`` tokenizer is built.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mlserve.errors import ConversionError, InvalidInputError
from mlserve.preprocessing.config import TokenizerConfig

PAD_ID = 0
"""Id of padding positions (word tokenizer); their attention mask is 0."""
UNKNOWN_ID = 1
"""Id of words missing from the vocabulary (word tokenizer)."""
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Encoded:
    """A tokenized batch: model inputs plus which texts were cut to ``max_length``."""

    input_ids: npt.NDArray[np.int64]
    """int64 ``[n_texts, length]``."""
    attention_mask: npt.NDArray[np.int64]
    """int64 ``[n_texts, length]``; 1 for real tokens, 0 for padding."""
    truncated: list[bool]
    """One flag per text: it had more than ``max_length`` tokens and was cut."""

    def tensors(self) -> dict[str, npt.NDArray[np.int64]]:
        """The model inputs by their ONNX names (``input_ids``, ``attention_mask``)."""
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}


class Tokenizer(Protocol):
    """Anything that turns a batch of cleaned texts into :class:`Encoded`."""

    @property
    def max_length(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize ``texts``; raises :class:`InvalidInputError` for a text it cannot take."""
        ...


def _too_long(index: int, n_tokens: int, max_length: int) -> InvalidInputError:
    return InvalidInputError(
        f"texts[{index}] has {n_tokens} tokens but this model accepts at most {max_length} "
        "(its tokenizer has truncation off); shorten the text"
    )


def _pad_batch(
    rows: list[list[int]], length: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    ids = np.full((len(rows), length), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


class WordTokenizer:
    """Lowercase ``\\w+`` words mapped through a fixed vocabulary."""

    def __init__(
        self,
        vocabulary: Sequence[str],
        *,
        max_length: int,
        padding: str = "longest",
        truncation: bool = True,
    ) -> None:
        if not vocabulary:
            raise ConversionError(
                "tokenizer kind 'word' needs a vocabulary: set tokenizer.vocabulary to the "
                "word list the model was trained with"
            )
        self._ids = {word: i + 2 for i, word in enumerate(vocabulary)}
        self._max_length = max_length
        self._padding = padding
        self._truncation = truncation

    @property
    def max_length(self) -> int:
        return self._max_length

    def words(self, text: str) -> list[str]:
        """The words of ``text`` as the tokenizer sees them (lowercased)."""
        return _WORD.findall(text.lower())

    def encode(self, texts: Sequence[str]) -> Encoded:
        rows: list[list[int]] = []
        truncated: list[bool] = []
        for index, text in enumerate(texts):
            ids = [self._ids.get(word, UNKNOWN_ID) for word in self.words(text)]
            if not ids:
                raise InvalidInputError(
                    f"texts[{index}] contains no words (letters or digits) for this model's "
                    "word tokenizer; send text with at least one word"
                )
            cut = len(ids) > self._max_length
            if cut and not self._truncation:
                raise _too_long(index, len(ids), self._max_length)
            rows.append(ids[: self._max_length])
            truncated.append(cut)
        longest = max((len(r) for r in rows), default=0)
        length = self._max_length if self._padding == "max_length" else longest
        input_ids, attention_mask = _pad_batch(rows, length)
        return Encoded(input_ids, attention_mask, truncated)


class HuggingFaceTokenizer:
    """A Hugging Face fast tokenizer loaded from a local folder, never from the network.

    Calls are serialized with a lock: the Rust tokenizer keeps padding and truncation
    settings as shared mutable state, so a call with other settings (counting the full
    length of a rejected text) would leak into a concurrent call.
    """

    def __init__(
        self,
        folder: Path,
        *,
        max_length: int,
        padding: str = "longest",
        truncation: bool = True,
    ) -> None:
        self.folder = folder
        self._tokenizer = load_hf_tokenizer(folder)
        limit = int(getattr(self._tokenizer, "model_max_length", max_length))
        if max_length > limit:
            raise ConversionError(
                f"tokenizer.max_length {max_length} exceeds what the tokenizer in {folder} "
                f"supports ({limit}); set max_length to at most {limit}"
            )
        self._max_length = max_length
        self._padding = padding
        self._truncation = truncation
        self._lock = threading.Lock()

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def hf_tokenizer(self) -> Any:
        """The underlying ``transformers`` tokenizer (for saving it beside a model)."""
        return self._tokenizer

    def encode(self, texts: Sequence[str]) -> Encoded:
        if not texts:
            empty = np.zeros((0, 0), dtype=np.int64)
            return Encoded(empty, empty.copy(), [])
        with self._lock:
            batch = self._tokenizer(
                list(texts),
                max_length=self._max_length,
                truncation=True,
                padding=self._padding,
                return_token_type_ids=False,
                return_tensors="np",
            )
            truncated = [bool(encoding.overflowing) for encoding in batch.encodings]
            if not self._truncation and any(truncated):
                index = truncated.index(True)
                full = len(self._tokenizer(texts[index], truncation=False)["input_ids"])
                raise _too_long(index, full, self._max_length)
        input_ids = np.asarray(batch["input_ids"], dtype=np.int64)
        attention_mask = np.asarray(batch["attention_mask"], dtype=np.int64)
        return Encoded(input_ids, attention_mask, truncated)


def load_hf_tokenizer(folder: Path) -> Any:
    """``AutoTokenizer.from_pretrained(folder)`` offline; it must be a fast tokenizer.

    Fast (Rust) tokenizers report per-text overflow, which is how truncation is detected
    without tokenizing twice.
    """
    if (
        not (folder / "tokenizer_config.json").is_file()
        and not (folder / "tokenizer.json").is_file()
    ):
        raise ConversionError(
            f"no Hugging Face tokenizer in {folder}: expected tokenizer.json or "
            "tokenizer_config.json there (save it with tokenizer.save_pretrained(folder))"
        )
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot load the tokenizer in {folder}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ConversionError(
            f"the tokenizer in {folder} is a slow (Python) tokenizer; mlserve needs a fast "
            "one: save the model's tokenizer with use_fast=True so tokenizer.json exists"
        )
    return tokenizer


def build_tokenizer(config: TokenizerConfig, version_dir: Path) -> Tokenizer:
    """The tokenizer a model version was exported with.

    ``version_dir`` is the version folder; a ``huggingface`` tokenizer lives in
    ``version_dir / config.path``. Raises :class:`ConversionError` for kind ``none`` (that
    model takes raw strings) or an incomplete config.
    """
    if config.kind == "word":
        return WordTokenizer(
            config.vocabulary or [],
            max_length=config.max_length,
            padding=config.padding,
            truncation=config.truncation,
        )
    if config.kind == "huggingface":
        if not config.path:
            raise ConversionError(
                "tokenizer kind 'huggingface' needs tokenizer.path: the tokenizer folder "
                "relative to the version folder (mlserve writes it as 'tokenizer')"
            )
        return HuggingFaceTokenizer(
            version_dir / config.path,
            max_length=config.max_length,
            padding=config.padding,
            truncation=config.truncation,
        )
    raise ConversionError(
        f"tokenizer kind {config.kind!r} has no token ids: the model takes raw text"
    )
