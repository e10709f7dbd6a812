"""The per-request numbers drift is measured on, computed identically at publish and live.

Text inputs: length in characters, out-of-vocabulary rate, share of characters that are not
letters. Predictions: confidence (highest probability), entropy (nats), predicted label.
Tabular inputs: each feature's value, or its absence. Anomaly detectors: the score
(``anomaly_score``, the detector's ``decision_function``: negative means outlier) and the
verdict (``anomaly_label``: ``inlier``/``outlier``), so a change in how many rows look
anomalous, or how anomalous, is itself a drift signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.monitoring.vocabulary import VocabularyFilter, tokenize

TEXT_LENGTH = "text_length"
OOV_RATE = "oov_rate"
NON_LETTER_SHARE = "non_letter_share"
CONFIDENCE = "confidence"
ENTROPY = "entropy"
PREDICTED_LABEL = "predicted_label"
ANOMALY_SCORE = "anomaly_score"
ANOMALY_LABEL = "anomaly_label"
ANOMALY_LABELS = ("inlier", "outlier")
FEATURE_PREFIX = "feature:"
MISSING_PREFIX = "missing:"


def text_length(text: str) -> float:
    """Length in characters."""
    return float(len(text))


def non_letter_share(text: str) -> float:
    """Share of characters that are not letters (spaces, digits, punctuation, symbols)."""
    if not text:
        return 0.0
    return 1.0 - sum(map(str.isalpha, text)) / len(text)


def oov_rate(text: str, vocabulary: VocabularyFilter) -> float:
    """Share of the text's word tokens that the model's vocabulary does not hold."""
    return vocabulary.oov_rate(tokenize(text))


def prediction_signals(
    probabilities: Sequence[float] | npt.NDArray[Any],
) -> tuple[float, float, int]:
    """``(confidence, entropy in nats, index of the predicted label)`` of one prediction."""
    # Plain floats: rows have a handful of labels, where numpy's per-call cost dominates.
    if isinstance(probabilities, np.ndarray):
        row: list[float] = probabilities.astype(np.float64).reshape(-1).tolist()
    else:
        row = [float(p) for p in probabilities]
    index = max(range(len(row)), key=row.__getitem__)
    entropy = -sum(p * math.log(p) for p in row if p > 0)
    return row[index], entropy if entropy > 0 else 0.0, index


def is_missing(value: Any) -> bool:
    """None, NaN, and empty strings count as missing feature values."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return False


def numeric_value(value: Any) -> float | None:
    """The float of a numeric feature value; None when missing or not a number."""
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def anomaly_label(score: float) -> str:
    """``outlier`` for a negative score (the detectors' ``decision_function`` convention)."""
    return "outlier" if score < 0 else "inlier"
