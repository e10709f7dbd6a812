"""Reference profiles: what a version's inputs and outputs looked like on validation data.

Computed once when a version is published and stored in ``ModelMetadata.reference_profile``
(plain JSON, bounded size: at most ``MAX_BINS`` bins per signal plus, for text models, a
fixed-size vocabulary filter). The drift monitor compares live windows against it; a
version published without validation data has no profile and is reported as such.

Shape of the dict::

    {"format": "mlserve.reference_profile/1", "kind": "text" | "tabular",
     "n_samples": 600, "labels": [...],
     "vocabulary": {...} (text, optional),
     "signals": {"text_length": {"type": "continuous", "cuts": [...], "counts": [...],
                                 "n": 600, "summary": {...}},
                 "predicted_label": {"type": "categorical", "categories": [...],
                                     "counts": [...], "n": 600}, ...}}

Text signals: ``text_length``, ``oov_rate`` (when a vocabulary is given),
``non_letter_share``; tabular: ``feature:<name>`` and ``missing:<name>`` per feature, and
``anomaly_score``/``anomaly_label`` for anomaly detectors (their scores on the validation
rows); both add ``confidence``, ``entropy`` and ``predicted_label`` when probabilities are
given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlserve.errors import InvalidInputError
from mlserve.monitoring import signals as sig
from mlserve.monitoring.histogram import (
    MAX_BINS,
    CategoricalReference,
    ContinuousReference,
    categorical_reference,
    continuous_reference,
    load_reference,
)
from mlserve.monitoring.vocabulary import VocabularyFilter

PROFILE_FORMAT = "mlserve.reference_profile/1"
MIN_REFERENCE_SAMPLES = 30
"""Fewer validation rows than this make a reference too noisy to test against."""

Reference = ContinuousReference | CategoricalReference


def _check_size(n: int, what: str) -> None:
    if n < MIN_REFERENCE_SAMPLES:
        raise InvalidInputError(
            f"a reference profile needs at least {MIN_REFERENCE_SAMPLES} {what}, got {n}; "
            "pass more validation data (a few hundred or more makes drift tests sharper)"
        )


def _probability_matrix(
    probabilities: Any, n: int, labels: Sequence[str]
) -> npt.NDArray[np.float64]:
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != n or matrix.shape[1] != len(labels):
        raise InvalidInputError(
            f"probabilities must have shape [{n}, {len(labels)}] (one row per input, one "
            f"column per label), got {list(matrix.shape)}"
        )
    return matrix


def _prediction_signals(
    probabilities: npt.NDArray[np.float64], labels: Sequence[str], max_bins: int
) -> dict[str, dict[str, Any]]:
    rows = [sig.prediction_signals(row) for row in probabilities]
    confidence = np.array([r[0] for r in rows])
    entropy = np.array([r[1] for r in rows])
    predicted = [labels[r[2]] for r in rows]
    return {
        sig.CONFIDENCE: continuous_reference(confidence, max_bins).to_dict(confidence),
        sig.ENTROPY: continuous_reference(entropy, max_bins).to_dict(entropy),
        sig.PREDICTED_LABEL: categorical_reference(predicted, fixed=labels).to_dict(),
    }


def compute_text_profile(
    texts: Sequence[str],
    probabilities: Any,
    labels: Sequence[str],
    vocabulary: Iterable[str] | VocabularyFilter | None = None,
    *,
    max_bins: int = MAX_BINS,
) -> dict[str, Any]:
    """Profile of a text classifier on validation ``texts``.

    ``probabilities`` is the model's ``[n, len(labels)]`` output on those texts (the
    served model's, so live and reference agree); ``vocabulary`` the words the model knows
    (see :mod:`mlserve.monitoring.vocabulary`), or None to leave out the OOV signal.
    """
    _check_size(len(texts), "texts")
    matrix = _probability_matrix(probabilities, len(texts), labels)
    if vocabulary is not None and not isinstance(vocabulary, VocabularyFilter):
        vocabulary = VocabularyFilter.from_tokens(vocabulary)
    lengths = np.array([sig.text_length(t) for t in texts])
    non_letter = np.array([sig.non_letter_share(t) for t in texts])
    signals: dict[str, dict[str, Any]] = {
        sig.TEXT_LENGTH: continuous_reference(lengths, max_bins).to_dict(lengths),
        sig.NON_LETTER_SHARE: continuous_reference(non_letter, max_bins).to_dict(non_letter),
    }
    if vocabulary is not None:
        oov = np.array([sig.oov_rate(t, vocabulary) for t in texts])
        signals[sig.OOV_RATE] = continuous_reference(oov, max_bins).to_dict(oov)
    signals.update(_prediction_signals(matrix, labels, max_bins))
    profile: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "kind": "text",
        "n_samples": len(texts),
        "labels": list(labels),
        "signals": signals,
    }
    if vocabulary is not None:
        profile["vocabulary"] = vocabulary.to_dict()
    return profile


def compute_tabular_profile(
    records: Sequence[Mapping[str, Any]],
    features: Sequence[str],
    *,
    probabilities: Any = None,
    labels: Sequence[str] | None = None,
    scores: Any = None,
    max_bins: int = MAX_BINS,
) -> dict[str, Any]:
    """Profile of a tabular model on validation ``records`` (one mapping per row).

    A feature whose present values are all numbers gets a quantile histogram, any other a
    frequency table (rare values pooled); every feature also gets its missing rate (None,
    NaN, empty string or absent key). Predictions are profiled when ``probabilities`` and
    ``labels`` are both given; an anomaly detector's ``scores`` (one per record, the served
    graph's, negative = outlier) as ``anomaly_score`` and ``anomaly_label``.
    """
    _check_size(len(records), "records")
    if not features:
        raise InvalidInputError("features must name at least one column of the records")
    signals: dict[str, dict[str, Any]] = {}
    for feature in features:
        values = [record.get(feature) for record in records]
        present = [v for v in values if not sig.is_missing(v)]
        missing = ["missing" if sig.is_missing(v) else "present" for v in values]
        numbers = [sig.numeric_value(v) for v in present]
        if present and all(n is not None for n in numbers):
            data = np.array(numbers, dtype=np.float64)
            distribution = continuous_reference(data, max_bins).to_dict(data)
        else:
            distribution = categorical_reference(
                (str(v) for v in present), max_categories=max_bins
            ).to_dict()
        signals[sig.FEATURE_PREFIX + feature] = distribution
        signals[sig.MISSING_PREFIX + feature] = categorical_reference(
            missing, fixed=("present", "missing")
        ).to_dict()
    profile: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "kind": "tabular",
        "n_samples": len(records),
        "features": list(features),
        "labels": list(labels or []),
        "signals": signals,
    }
    if probabilities is not None and labels:
        matrix = _probability_matrix(probabilities, len(records), labels)
        signals.update(_prediction_signals(matrix, labels, max_bins))
    if scores is not None:
        signals.update(_anomaly_signals(scores, len(records), max_bins))
    return profile


def _anomaly_signals(scores: Any, n: int, max_bins: int) -> dict[str, dict[str, Any]]:
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if values.size != n or not np.isfinite(values).all():
        raise InvalidInputError(
            f"scores must hold one finite anomaly score per record ({n}), got {values.size}"
        )
    verdicts = [sig.anomaly_label(float(v)) for v in values]
    return {
        sig.ANOMALY_SCORE: continuous_reference(values, max_bins).to_dict(values),
        sig.ANOMALY_LABEL: categorical_reference(verdicts, fixed=sig.ANOMALY_LABELS).to_dict(),
    }


@dataclass(frozen=True)
class ReferenceProfile:
    """A stored profile, parsed and checked, ready for the drift monitor."""

    kind: Literal["text", "tabular"]
    n_samples: int
    labels: tuple[str, ...]
    features: tuple[str, ...]
    signals: dict[str, Reference] = field(default_factory=dict)
    vocabulary: VocabularyFilter | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Parse ``ModelMetadata.reference_profile``; malformed data raises InvalidInputError."""
        if not isinstance(data, Mapping) or data.get("format") != PROFILE_FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise InvalidInputError(
                f"reference_profile.format is {found!r}, expected {PROFILE_FORMAT!r}; "
                "recompute it with mlserve.monitoring.profile"
            )
        kind = data.get("kind")
        if kind not in ("text", "tabular"):
            raise InvalidInputError(
                f"reference_profile.kind is {kind!r}, expected 'text' or 'tabular'"
            )
        raw_signals = data.get("signals")
        if not isinstance(raw_signals, Mapping) or not raw_signals:
            raise InvalidInputError("reference_profile.signals must be a non-empty object")
        vocabulary = data.get("vocabulary")
        return cls(
            kind=kind,
            n_samples=int(data.get("n_samples", 0)),
            labels=tuple(str(label) for label in data.get("labels", [])),
            features=tuple(str(feature) for feature in data.get("features", [])),
            signals={str(k): load_reference(str(k), v) for k, v in raw_signals.items()},
            vocabulary=VocabularyFilter.from_dict(vocabulary) if vocabulary else None,
        )
