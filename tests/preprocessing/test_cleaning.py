"""Text cleaning steps (pure logic)."""

from __future__ import annotations

import re

import pytest

from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import CleaningConfig

WHITESPACE_ONLY = CleaningConfig(normalize_unicode=False, normalize_whitespace=True)


@pytest.mark.parametrize(
    "text",
    [
        "  great\tproduct \n\n really  ",
        "no\u00a0break\u2003em\u3000ideographic\x1cfile-separator",
        "zero\u200bwidth stays",  # not whitespace for either
        "\r\n\v\f",
        "single",
    ],
)
def test_whitespace_collapses_exactly_as_the_regex_s_class_would(text: str) -> None:
    expected = re.sub(r"\s+", " ", text).strip()

    assert clean_text(text, WHITESPACE_ONLY) == expected


def test_steps_apply_in_order_and_truncate_last() -> None:
    config = CleaningConfig(
        normalize_unicode=True, lowercase=True, strip_special=True, max_chars=12
    )

    full_width_great = "\uff27\uff32\uff25\uff21\uff34"
    assert clean_text(f"{full_width_great}  product\u2122 \u263a really", config) == "great produc"
