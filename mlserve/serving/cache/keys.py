"""What a cached prediction is keyed by, and how its value is stored.

A key names everything that decides a prediction: the model, its resolved version, the
fingerprint of the preprocessing config and the canonical input (the cleaned text, or a
record's values in the model's feature order, as :meth:`ServedModel.cache_text` writes
it). A new version (or a changed preprocessing config) therefore never reads an older
version's answers. The text enters the
key as its SHA-256, so keys have a bounded length and raw user text is not stored in keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

KEY_PREFIX = "mlserve:pred:v2"
_sha256 = hashlib.sha256
_set = object.__setattr__
"""Namespace of every cache key; the ``v1`` changes if the value format ever changes."""


@dataclass(frozen=True, slots=True)
class CacheKey:
    """The identity of one prediction: model, resolved version, preprocessing, cleaned text."""

    model: str
    version: int
    preprocessing_fingerprint: str
    cleaned_text: str
    _rendered: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = _sha256(self.cleaned_text.encode()).hexdigest()
        rendered = (
            f"{KEY_PREFIX}:{self.model}:{self.version}:{self.preprocessing_fingerprint}:{digest}"
        )
        _set(self, "_rendered", rendered)

    def render(self) -> str:
        """The storage key: ``mlserve:pred:v2:<model>:<version>:<fingerprint>:<sha256(text)>``."""
        return self._rendered


@dataclass(frozen=True, slots=True)
class CachedPrediction:
    """The cached part of a prediction (whether it was served from cache is not stored).

    Immutable, probabilities included, so the in-memory cache can hand out the stored object
    itself. Classifiers fill ``label``, ``confidence`` and ``probabilities``; regressors
    ``value`` (a number, or a list for several targets); anomaly detectors ``label``
    (``inlier``/``outlier``), ``value`` (1/-1) and ``score``."""

    label: str | None
    confidence: float | None
    probabilities: tuple[float, ...] | None
    truncated: bool
    value: Any = None
    score: float | None = None
    details: dict[str, Any] | None = None
    """A decision kind's answer beyond the value (a causal model's outcome and effect per
    action); plain JSON."""

    def to_bytes(self) -> bytes:
        """orjson-encoded; ``from_bytes`` reverses it."""
        return orjson.dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> CachedPrediction:
        """Decode a stored value; raises ``ValueError`` when it is not one."""
        decoded: Any = orjson.loads(data)
        if not isinstance(decoded, dict):
            raise ValueError("cached value is not an object")
        try:
            label, confidence, probabilities = (
                decoded["label"],
                decoded["confidence"],
                decoded["probabilities"],
            )
            score = decoded.get("score")
            return cls(
                label=None if label is None else str(label),
                confidence=None if confidence is None else float(confidence),
                probabilities=(
                    None if probabilities is None else tuple(float(p) for p in probabilities)
                ),
                truncated=bool(decoded["truncated"]),
                value=decoded.get("value"),
                score=None if score is None else float(score),
                details=details if isinstance(details := decoded.get("details"), dict) else None,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"cached value lacks a field: {exc}") from exc
