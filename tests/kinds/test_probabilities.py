"""How Triton's probability rows become predictions (pure logic of the classifier kinds;
the real stack is tested in test_replay.py and tests/control_plane)."""

from __future__ import annotations

import numpy as np
import pytest

from mlserve.errors import TritonError
from mlserve.kinds.text import probabilities_to_predictions as _to_predictions
from mlserve.serving.cache.keys import CachedPrediction

LABELS = ["negative", "neutral", "positive"]


def test_each_row_becomes_its_best_label_with_probabilities_rounded_to_six_places() -> None:
    rows = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]], dtype=np.float32)

    first, second = _to_predictions(rows, LABELS, [False, True], expected=2)

    assert first.label == "positive"
    assert first.confidence == float(np.float32(0.7))  # unrounded, as Triton sent it
    assert first.probabilities == tuple(round(float(p), 6) for p in rows[0])
    assert (second.label, second.truncated) == ("negative", True)


def test_rounding_matches_python_round_on_float32_rows() -> None:
    rng = np.random.default_rng(7)
    rows = rng.random((500, 3)).astype(np.float32)
    rows /= rows.sum(axis=1, keepdims=True)

    predictions = _to_predictions(rows, LABELS, [False] * 500, expected=500)

    assert [p.probabilities for p in predictions] == [
        tuple(round(float(p), 6) for p in row) for row in rows
    ]


def test_a_tie_goes_to_the_first_label_and_an_unnamed_class_to_its_index() -> None:
    tie = _to_predictions(np.array([[0.5, 0.5, 0.0]]), LABELS, [False], expected=1)
    unnamed = _to_predictions(np.array([[0.1, 0.2, 0.7]]), LABELS[:2], [False], expected=1)

    assert tie == [CachedPrediction("negative", 0.5, (0.5, 0.5, 0.0), False)]
    assert unnamed[0].label == "2"


@pytest.mark.parametrize("shape", [(3,), (1, 3), (2, 1, 3)])
def test_rows_that_do_not_match_the_texts_sent_are_a_triton_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(TritonError, match="for 2"):
        _to_predictions(np.zeros(shape), LABELS, [False, False], expected=2)
