"""A model version's preprocessing, from its metadata: cleaning, then model inputs.

Built once per version (tokenizers are loaded from the version folder) and reused for every
request. ``prepare`` works on a whole batch so fast tokenizers run batched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.errors import InvalidInputError
from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.repository.metadata import ModelMetadata


@dataclass(frozen=True)
class PreparedText:
    """Cleaned texts and the tensors to send to Triton for them."""

    cleaned: list[str]
    inputs: dict[str, npt.NDArray[Any]]
    truncated: list[bool]


class TextPreprocessor:
    """Cleans texts and builds model inputs the way a version was trained."""

    def __init__(self, config: PreprocessingConfig, input_name: str, tokenizer: Any = None) -> None:
        self.config = config
        self.fingerprint = config.fingerprint()
        self.input_name = input_name
        self.tokenizer = tokenizer

    @classmethod
    def for_version(cls, metadata: ModelMetadata, version_dir: Path) -> TextPreprocessor:
        """The preprocessor of a published text or token model version."""
        config = PreprocessingConfig.from_metadata(metadata.preprocessing)
        if metadata.input_kind == "tokens":
            from mlserve.preprocessing.tokenization import build_tokenizer

            return cls(config, "input_ids", build_tokenizer(config.tokenizer, version_dir))
        if metadata.input_kind != "text":
            raise InvalidInputError(
                f"{metadata.name} v{metadata.version} is a {metadata.input_kind} model: "
                "send records to /api/v1/predict/{name}/{version}, not texts"
            )
        return cls(config, metadata.inputs[0].name)

    def clean_one(self, text: str) -> str:
        return clean_text(text, self.config.cleaning)

    def clean(self, texts: Sequence[str]) -> list[str]:
        """Clean every text; an empty result is a 422 naming the position."""
        cleaned = [clean_text(text, self.config.cleaning) for text in texts]
        for index, text in enumerate(cleaned):
            if not text:
                where = "text" if len(cleaned) == 1 else f"texts[{index}]"
                raise InvalidInputError(
                    f"{where} is empty after cleaning (whitespace or characters the model's "
                    "preprocessing removes); send text with at least one word"
                )
        return cleaned

    def inputs_for(self, cleaned: Sequence[str]) -> tuple[dict[str, npt.NDArray[Any]], list[bool]]:
        """The tensors for already-cleaned texts, and which texts were truncated."""
        if self.tokenizer is None:
            array = np.array([[t.encode("utf-8")] for t in cleaned], dtype=np.object_)
            return {self.input_name: array}, [False] * len(cleaned)
        encoded = self.tokenizer.encode(list(cleaned))
        return dict(encoded.tensors()), list(encoded.truncated)

    def prepare(self, texts: Sequence[str]) -> PreparedText:
        cleaned = self.clean(texts)
        inputs, truncated = self.inputs_for(cleaned)
        return PreparedText(cleaned=cleaned, inputs=inputs, truncated=truncated)
