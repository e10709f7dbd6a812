"""Cache keys and the stored value format."""

from __future__ import annotations

import hashlib

import pytest

from mlserve.preprocessing.config import CleaningConfig, PreprocessingConfig
from mlserve.serving.cache import CachedPrediction, CacheKey


def test_key_names_model_version_fingerprint_and_text_hash() -> None:
    fingerprint = PreprocessingConfig().fingerprint()
    key = CacheKey("sentiment", 3, fingerprint, "Great product!")

    digest = hashlib.sha256(b"Great product!").hexdigest()
    assert key.render() == f"mlserve:pred:v2:sentiment:3:{fingerprint}:{digest}"
    assert "Great product" not in key.render()


def test_keys_differ_by_every_part() -> None:
    base = CacheKey("sentiment", 1, "abc", "text")
    variants = [
        CacheKey("other", 1, "abc", "text"),
        CacheKey("sentiment", 2, "abc", "text"),
        CacheKey("sentiment", 1, "abd", "text"),
        CacheKey("sentiment", 1, "abc", "text "),
    ]
    assert len({base.render(), *(v.render() for v in variants)}) == 5
    assert CacheKey("sentiment", 1, "abc", "text") == base


def test_a_changed_preprocessing_config_changes_the_key() -> None:
    lower = PreprocessingConfig(cleaning=CleaningConfig(lowercase=True)).fingerprint()
    default = PreprocessingConfig().fingerprint()
    assert CacheKey("m", 1, lower, "t").render() != CacheKey("m", 1, default, "t").render()


def test_prediction_round_trips_through_bytes() -> None:
    prediction = CachedPrediction("positive", 0.9, (0.05, 0.05, 0.9), truncated=True)
    assert CachedPrediction.from_bytes(prediction.to_bytes()) == prediction


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'{"label": "x"}'])
def test_undecodable_values_raise_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        CachedPrediction.from_bytes(data)
