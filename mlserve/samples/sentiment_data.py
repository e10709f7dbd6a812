"""A small three-class sentiment dataset, generated from templates (no downloads).

Deterministic for a seed. Sentences mix product, service and experience vocabulary with
intensifiers, negations and neutral facts, so a TF-IDF model reaches high but not perfect
accuracy and a transformer head has something to learn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LABELS = ("negative", "neutral", "positive")

_SUBJECTS = [
    "this product",
    "the service",
    "the delivery",
    "the app",
    "the battery",
    "the hotel",
    "the food",
    "customer support",
    "the update",
    "the screen",
    "the price",
    "the checkout",
    "the staff",
    "the room",
    "the camera",
    "the software",
    "the packaging",
    "the movie",
    "the book",
    "the course",
]
_POSITIVE = [
    "amazing",
    "excellent",
    "fantastic",
    "great",
    "wonderful",
    "superb",
    "delightful",
    "impressive",
    "reliable",
    "outstanding",
    "brilliant",
    "perfect",
    "lovely",
    "helpful",
]
_NEGATIVE = [
    "terrible",
    "awful",
    "horrible",
    "disappointing",
    "broken",
    "useless",
    "slow",
    "unreliable",
    "frustrating",
    "poor",
    "rude",
    "overpriced",
    "buggy",
    "dreadful",
]
_NEUTRAL_FACTS = [
    "arrived on tuesday",
    "comes in a blue box",
    "has two settings",
    "was released last year",
    "is available in three sizes",
    "uses a standard charger",
    "opens at nine",
    "is sold in most stores",
    "has a manual in english",
    "weighs about a kilogram",
    "was updated this morning",
    "ships from the warehouse",
    "lists the ingredients",
    "runs on the current version",
    "has a menu on the left",
]
_INTENSIFIERS = ["", "", "really ", "very ", "absolutely ", "truly ", "quite ", "so "]
_POS_TEMPLATES = [
    "{s} is {i}{a}!",
    "I love {s}, it is {i}{a}.",
    "{s} was {i}{a} and I would buy again.",
    "Honestly {s} is {i}{a}.",
    "What a {a} experience, {s} exceeded expectations.",
    "{s} works {i}well, {a}.",
    "Five stars, {s} is {a}.",
    "I am happy with {s}, {i}{a}.",
]
_NEG_TEMPLATES = [
    "{s} is {i}{a}.",
    "I hate {s}, it is {i}{a}.",
    "{s} was {i}{a}, never again.",
    "Honestly {s} is {i}{a}!",
    "What a {a} experience, {s} let me down.",
    "{s} does not work, {a}.",
    "One star, {s} is {a}.",
    "I want a refund, {s} is {i}{a}.",
]
_NEU_TEMPLATES = [
    "{s} {f}.",
    "I noticed that {s} {f}.",
    "As far as I know {s} {f}.",
    "The label says {s} {f}.",
    "For the record, {s} {f}.",
    "{s} {f}, according to the site.",
]
_NEGATED = [
    ("{s} is not {a}.", "negative", _POSITIVE),
    ("{s} is not {a} at all.", "positive", _NEGATIVE),
]


@dataclass(frozen=True)
class Dataset:
    """Texts with their labels, split into train and test."""

    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS


def _sentence(rng: random.Random, label: str) -> str:
    subject = rng.choice(_SUBJECTS)
    intensifier = rng.choice(_INTENSIFIERS)
    if label != "neutral" and rng.random() < 0.08:
        for template, negated_label, words in _NEGATED:
            if negated_label == label:
                return template.format(s=subject, a=rng.choice(words)).capitalize()
    if label == "positive":
        text = rng.choice(_POS_TEMPLATES).format(s=subject, i=intensifier, a=rng.choice(_POSITIVE))
    elif label == "negative":
        text = rng.choice(_NEG_TEMPLATES).format(s=subject, i=intensifier, a=rng.choice(_NEGATIVE))
    else:
        text = rng.choice(_NEU_TEMPLATES).format(s=subject, f=rng.choice(_NEUTRAL_FACTS))
    return text[0].upper() + text[1:]


def generate(n: int = 1500, *, seed: int = 7, test_fraction: float = 0.2) -> Dataset:
    """``n`` labeled sentences, balanced across the three labels, split train/test."""
    rng = random.Random(seed)
    rows = [(_sentence(rng, LABELS[i % 3]), LABELS[i % 3]) for i in range(n)]
    rng.shuffle(rows)
    cut = int(n * (1 - test_fraction))
    train, test = rows[:cut], rows[cut:]
    return Dataset(
        train_texts=[t for t, _ in train],
        train_labels=[label for _, label in train],
        test_texts=[t for t, _ in test],
        test_labels=[label for _, label in test],
    )
