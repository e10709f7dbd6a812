"""Parity texts built from a fitted text pipeline itself, for loads without ``--samples``.

Sentences of the vocabulary's own words (so nearly every row reaches the model), each
also written in Unicode variants that trip tokenizers and lowercasing: accents, CJK,
emoji, digits, mixed case, punctuation glued to words, tabs, non-breaking and repeated
spaces, leading and trailing whitespace. Deterministic (seeded): the same model gets the
same texts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

BASE_TEXTS = 60
"""Sentences drawn from the vocabulary; each is written in every variant below."""

_VARIANTS: tuple[Callable[[str, random.Random], str], ...] = (
    lambda t, r: t,
    lambda t, r: t.upper(),
    lambda t, r: t.title(),
    lambda t, r: f"{t} café naïve Ångström ÉCOLE straße",
    lambda t, r: f"東京 {t} 日本語テキスト",
    lambda t, r: f"{t} 😀👍🏽 ✨",
    lambda t, r: f"{t} 2024 3.14 ٣٤ ½",
    lambda t, r: t.replace(" ", ", ", 2) + "!!",
    lambda t, r: "  " + t.replace(" ", "\t", 1).replace(" ", "  ", 1) + " \n",
    lambda t, r: t.replace(" ", "\u00a0", 1) + " \u3000end",
)


def vocabulary_texts(pipeline: Any, seed: int = 0) -> list[str]:
    """``BASE_TEXTS`` sentences of the first step's vocabulary, in every variant."""
    vectorizer = pipeline.steps[0][1]
    vocabulary = sorted(getattr(vectorizer, "vocabulary_", None) or {})
    if not vocabulary:
        return ["no vocabulary"]
    rng = random.Random(seed)
    analyzer = getattr(vectorizer, "analyzer", "word")
    joiner = " " if analyzer == "word" else ""
    texts: list[str] = []
    for _ in range(BASE_TEXTS):
        picked = [rng.choice(vocabulary) for _ in range(rng.randint(2, 8))]
        base = (
            joiner.join(picked)
            if analyzer == "word"
            else " ".join(joiner.join(picked[i : i + 2]) for i in range(0, len(picked), 2))
        )
        texts.extend(variant(base, rng) for variant in _VARIANTS)
    return texts
