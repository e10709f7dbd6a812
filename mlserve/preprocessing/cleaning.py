"""Text cleaning, configured by :class:`~mlserve.preprocessing.config.CleaningConfig`."""

from __future__ import annotations

import re
import unicodedata

from mlserve.preprocessing.config import CleaningConfig

_SPECIAL = re.compile(r"[^\w\s.,!?'\"-]", re.UNICODE)


def clean_text(text: str, config: CleaningConfig) -> str:
    """Apply the configured cleaning steps to one text."""
    if config.normalize_unicode:
        text = unicodedata.normalize("NFKC", text)
    if config.lowercase:
        text = text.lower()
    if config.strip_special:
        text = _SPECIAL.sub(config.special_replacement, text)
    if config.normalize_whitespace:
        # str.split() splits on exactly the characters ``\s`` matches (str.isspace), at a
        # fraction of a regex substitution's cost.
        text = " ".join(text.split())
    if config.max_chars is not None:
        text = text[: config.max_chars]
    return text
