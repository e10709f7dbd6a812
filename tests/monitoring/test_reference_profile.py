"""Reference profiles: what is recorded at publish time, bounded and JSON-ready."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from mlserve.errors import InvalidInputError
from mlserve.monitoring.histogram import MAX_BINS, OTHER_CATEGORY
from mlserve.monitoring.profile import (
    PROFILE_FORMAT,
    ReferenceProfile,
    compute_tabular_profile,
    compute_text_profile,
)
from mlserve.monitoring.vocabulary import VocabularyFilter
from mlserve.samples.sentiment_data import LABELS, generate

VOCABULARY = {"the", "battery", "is", "great", "screen", "awful", "arrived", "on", "tuesday"}


def _probabilities(n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return rng.dirichlet([2.0, 1.0, 1.0], size=n)


def test_text_profile_records_every_signal_in_bounded_bins() -> None:
    texts = generate(2_000, seed=3).train_texts
    probabilities = _probabilities(len(texts))
    profile = compute_text_profile(texts, probabilities, LABELS, VOCABULARY)

    assert profile["format"] == PROFILE_FORMAT
    assert profile["kind"] == "text"
    assert profile["n_samples"] == len(texts)
    assert set(profile["signals"]) == {
        "text_length", "oov_rate", "non_letter_share", "confidence", "entropy",
        "predicted_label",
    }  # fmt: skip
    for name, signal in profile["signals"].items():
        assert sum(signal["counts"]) == len(texts), name
        assert len(signal["counts"]) <= MAX_BINS, name
        if signal["type"] == "continuous":
            assert len(signal["counts"]) == len(signal["cuts"]) + 1
            assert signal["cuts"] == sorted(set(signal["cuts"]))
    assert len(json.dumps(profile)) < 20_000


def test_text_profile_summaries_match_the_data() -> None:
    texts = ["short", "a bit longer text", "x" * 40] * 20
    probabilities = np.tile([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]], (20, 1))
    profile = compute_text_profile(texts, probabilities, LABELS, None)
    lengths = profile["signals"]["text_length"]
    assert lengths["summary"]["min"] == 5.0
    assert lengths["summary"]["max"] == 40.0
    assert lengths["cuts"] == [5.0, 17.0, 40.0]
    assert lengths["counts"] == [20, 20, 20, 0]
    labels = profile["signals"]["predicted_label"]
    assert labels["categories"] == list(LABELS)
    assert labels["counts"] == [20, 20, 20]
    confidence = profile["signals"]["confidence"]["summary"]
    assert confidence["max"] == pytest.approx(0.8)
    entropy = profile["signals"]["entropy"]["summary"]
    assert entropy["min"] == pytest.approx(-sum(p * math.log(p) for p in (0.1, 0.1, 0.8)))
    assert entropy["max"] == pytest.approx(-sum(p * math.log(p) for p in (0.2, 0.6, 0.2)))
    assert "oov_rate" not in profile["signals"]
    assert "vocabulary" not in profile


def test_text_profile_oov_rate_uses_the_vocabulary() -> None:
    texts = ["the battery is great"] * 20 + ["the zzqx is wqpl"] * 20
    profile = compute_text_profile(texts, _probabilities(40), LABELS, VOCABULARY)
    oov = profile["signals"]["oov_rate"]
    assert oov["cuts"] == [0.0, 0.5]
    assert oov["counts"] == [20, 20, 0]
    restored = VocabularyFilter.from_dict(profile["vocabulary"])
    assert "battery" in restored


def test_text_profile_rejects_too_little_data() -> None:
    with pytest.raises(InvalidInputError, match="at least 30 texts, got 3"):
        compute_text_profile(["a", "b", "c"], _probabilities(3), LABELS)


def test_text_profile_rejects_probabilities_of_the_wrong_shape() -> None:
    texts = ["some text"] * 40
    with pytest.raises(InvalidInputError, match=r"shape \[40, 3\].*got \[40, 2\]"):
        compute_text_profile(texts, np.full((40, 2), 0.5), LABELS)


def _records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    colors = ["red", "green", "blue"]
    records = []
    for i in range(n):
        records.append(
            {
                "age": float(rng.normal(40, 10)) if i % 10 else None,
                "color": colors[i % 3] if i % 50 else f"rare-{i}",
                "count": int(rng.integers(0, 5)),
            }
        )
    return records


def test_tabular_profile_has_histograms_frequencies_and_missing_rates() -> None:
    records = _records(500)
    profile = compute_tabular_profile(records, ["age", "color", "count"])
    signals = profile["signals"]
    assert profile["kind"] == "tabular"
    assert signals["feature:age"]["type"] == "continuous"
    assert signals["feature:age"]["n"] == 450
    assert signals["missing:age"]["categories"] == ["present", "missing"]
    assert signals["missing:age"]["counts"] == [450, 50]
    assert signals["missing:color"]["counts"] == [500, 0]
    color = signals["feature:color"]
    assert color["type"] == "categorical"
    assert set(color["categories"]) == {"red", "green", "blue", OTHER_CATEGORY}
    assert color["counts"][color["categories"].index(OTHER_CATEGORY)] == 10
    assert signals["feature:count"]["type"] == "continuous"
    assert "predicted_label" not in signals
    json.dumps(profile)


def test_tabular_profile_keeps_many_categories_bounded() -> None:
    records = [{"city": f"city-{i % 400}"} for i in range(4_000)]
    profile = compute_tabular_profile(records, ["city"])
    assert len(profile["signals"]["feature:city"]["categories"]) == MAX_BINS


def test_tabular_profile_with_predictions() -> None:
    records = _records(100)
    profile = compute_tabular_profile(
        records, ["age"], probabilities=_probabilities(100), labels=LABELS
    )
    assert profile["signals"]["predicted_label"]["n"] == 100
    assert profile["labels"] == list(LABELS)


def test_tabular_profile_needs_features() -> None:
    with pytest.raises(InvalidInputError, match="features"):
        compute_tabular_profile(_records(40), [])


def test_profiles_parse_back_for_the_monitor() -> None:
    texts = generate(300, seed=1).train_texts
    stored = json.loads(
        json.dumps(compute_text_profile(texts, _probabilities(240), LABELS, VOCABULARY))
    )
    profile = ReferenceProfile.from_dict(stored)
    assert profile.kind == "text"
    assert profile.labels == LABELS
    assert profile.vocabulary is not None
    assert profile.signals["text_length"].n == 240


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(format="v0"), "format"),
        (lambda p: p.update(kind="image"), "kind"),
        (lambda p: p.update(signals={}), "signals must be a non-empty"),
        (lambda p: p["signals"]["text_length"].update(counts=[1, 2]), "signals.text_length"),
        (lambda p: p["signals"]["text_length"].update(cuts=[3.0, 1.0, 2.0]),
         "signals.text_length"),
        (lambda p: p["signals"]["predicted_label"].pop("counts"), "signals.predicted_label"),
        (lambda p: p["signals"].update(extra="x"), "signals.extra must be an object"),
    ],
)  # fmt: skip
def test_malformed_profiles_are_rejected_naming_the_field(mutate: Any, message: str) -> None:
    texts = ["the battery is great"] * 20 + ["awful screen"] * 20
    profile = compute_text_profile(texts, _probabilities(40), LABELS)
    mutate(profile)
    with pytest.raises(InvalidInputError, match=message):
        ReferenceProfile.from_dict(profile)


def test_tabular_profile_with_anomaly_scores() -> None:
    rng = np.random.default_rng(3)
    records = [{"x": float(v)} for v in rng.normal(size=200)]
    scores = rng.normal(0.1, 0.1, 200)
    profile = compute_tabular_profile(records, ["x"], scores=scores)
    label = profile["signals"]["anomaly_label"]
    assert label["categories"] == ["inlier", "outlier"]
    assert label["counts"] == [int((scores >= 0).sum()), int((scores < 0).sum())]
    assert profile["signals"]["anomaly_score"]["n"] == 200
    assert ReferenceProfile.from_dict(profile).signals["anomaly_score"].n == 200
    with pytest.raises(InvalidInputError, match="one finite anomaly score per record"):
        compute_tabular_profile(records, ["x"], scores=scores[:10])
    with pytest.raises(InvalidInputError, match="one finite anomaly score per record"):
        compute_tabular_profile(records, ["x"], scores=[float("nan")] * 200)
