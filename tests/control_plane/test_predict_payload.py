"""The one-dictionary answer of a single prediction is exactly what the general path builds."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from mlserve.control_plane.routes.predict import (
    _prediction,
    _served_by,
    _single_payload,
)
from mlserve.dataplane.request import Prediction, PredictionBatch, Timings
from mlserve.rounding import round3


def general(p: Prediction, batch: PredictionBatch) -> dict[str, Any]:
    """What ``predict_answer`` built for one prediction before the single-answer path."""
    payload = _prediction(p)
    payload.update(_served_by(batch))
    payload["latency_ms"] = round3(batch.latency_ms)
    return payload


@pytest.mark.parametrize(
    ("prediction", "timings"),
    [
        (
            Prediction("pos", 0.87654321, {"neg": 0.123457, "pos": 0.876543}, False, False),
            Timings(0.0031234567, 0.000123456, 0.0009876, 0.0017654321),
        ),
        (
            Prediction("1", 0.5, {"0": 0.5, "1": 0.5}, True, True),
            Timings(0.00098765, 0.0, 0.0, None),
        ),
        (Prediction(None, None, None, False, False, 3.25), Timings(1e-9, 5e-7, 0.5, 2.0)),
        (Prediction("x", math.nan, None, False, False), Timings(math.inf, 0.0, 0.0, None)),
    ],
)
def test_a_single_answer_has_the_general_paths_keys_order_and_values(
    prediction: Prediction, timings: Timings
) -> None:
    batch = PredictionBatch("sentiment", 3, [prediction], "default", timings, "text")

    single = _single_payload(prediction, batch)

    assert list(single) == list(general(prediction, batch))
    assert orjson.dumps(single) == orjson.dumps(general(prediction, batch))
