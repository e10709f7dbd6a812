"""Per-model text preprocessing, applied identically at export time and when serving."""

from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import CleaningConfig, PreprocessingConfig, TokenizerConfig

__all__ = ["CleaningConfig", "PreprocessingConfig", "TokenizerConfig", "clean_text"]
