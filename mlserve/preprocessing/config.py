"""Preprocessing configuration: data stored in each version's metadata.

The same config drives training/export and serving, so v1 and v2 of one model may
preprocess differently and each stays consistent with how it was trained.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CleaningConfig(BaseModel):
    """Text cleaning steps, each switchable, applied in the order of the fields."""

    model_config = ConfigDict(extra="forbid")

    normalize_unicode: bool = True
    """NFKC normalization (full-width forms, ligatures)."""
    lowercase: bool = False
    """Lowercase the text."""
    strip_special: bool = False
    """Replace characters that are neither letters, digits, whitespace nor basic punctuation."""
    special_replacement: str = " "
    """What ``strip_special`` replaces them with."""
    normalize_whitespace: bool = True
    """Collapse runs of whitespace and trim the ends."""
    max_chars: int | None = Field(default=None, ge=1)
    """Truncate to this many characters (after the other steps)."""


class TokenizerConfig(BaseModel):
    """How cleaned text becomes model input."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "word", "huggingface"] = "none"
    """``none``: the ONNX graph takes raw strings (TF-IDF inside the graph)."""
    path: str | None = None
    """Tokenizer folder, relative to the version folder (``huggingface``)."""
    max_length: int = Field(default=128, ge=1)
    """Longest token sequence; longer inputs are truncated and flagged."""
    vocabulary: list[str] | None = None
    """Word list for the ``word`` tokenizer (index = position + 2; 0 pad, 1 unknown)."""
    padding: Literal["longest", "max_length"] = "longest"
    """``longest``: pad a batch to its longest text (less work for short texts);
    ``max_length``: always pad to ``max_length`` (fixed shapes)."""
    truncation: bool = True
    """Cut texts longer than ``max_length`` (and flag them); when false such a text is
    rejected with a 422 instead."""


class PreprocessingConfig(BaseModel):
    """The whole preprocessing pipeline of a model version."""

    model_config = ConfigDict(extra="forbid")

    cleaning: CleaningConfig = CleaningConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()

    def fingerprint(self) -> str:
        """A short stable hash: part of every cache key, so config changes never collide."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> PreprocessingConfig:
        return cls.model_validate(data or {})
