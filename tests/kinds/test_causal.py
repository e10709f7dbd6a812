"""Causal models: declared options, and a published one on every predict route of the real
stack (tritonserver + control plane), checked against the native estimator."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from mlserve.converters.loading import export_native_model
from mlserve.converters.tabular.decisions import CausalOptions, check_features, parse_task
from mlserve.errors import InvalidInputError
from tests.conftest import Stack
from tests.dataplane.conftest import publish, wait_served
from tests.support.decision_models import (
    OFFERS,
    causal_frame,
    causal_model,
    causal_task_type,
    native_outcomes,
)

NAME = "promo-causal"
ROWS = [{"age": 25.0, "income": 9.0}, {"age": 66.0, "income": 2.0}, {"age": 40.0, "income": 3.0}]


# --- declared options (pure logic) -------------------------------------------------------


def test_options_come_as_json_task_type_or_as_task_options() -> None:
    task, options = parse_task(causal_task_type(objective="min"))
    assert task == "causal"
    assert isinstance(options, CausalOptions)
    assert (options.action, options.actions, options.baseline, options.objective) == (
        "offer",
        OFFERS,
        0,
        "min",
    )
    task, same = parse_task("causal", '{"action": "offer", "actions": [0, 1, 2]}')
    assert same == options.model_copy(update={"objective": "max"})
    assert parse_task("regression") == ("regression", None)


@pytest.mark.parametrize(
    ("task_type", "task_options", "named"),
    [
        (causal_task_type(actions=[]), None, "actions is empty"),
        (causal_task_type(baseline=7), None, "baseline 7 is not among actions"),
        (causal_task_type(actions=[0, 1, 1]), None, "an action twice"),
        (causal_task_type(objective="best"), None, "objective"),
        (causal_task_type(treatment="x"), None, "treatment"),
        ("causal", None, "needs its options"),
        ("causal", "{not json", "task_options is not valid JSON"),
        ("regression", '{"action": "a"}', "only apply to task_type causal or recommender"),
    ],
)
def test_bad_options_are_422_naming_the_option(
    task_type: str, task_options: str | None, named: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_task(task_type, task_options)
    assert named in caught.value.message


def test_the_action_column_must_be_a_feature_of_the_estimator() -> None:
    _, options = parse_task(causal_task_type(action="channel"))
    assert options is not None
    with pytest.raises(InvalidInputError, match="action column 'channel' is not one of"):
        check_features(options, ["age", "income", "offer"])


def test_string_actions_for_a_numeric_action_column_are_refused_at_export() -> None:
    frame, spend = causal_frame(200)
    model = LinearRegression().fit(frame, spend)
    with pytest.raises(InvalidInputError, match="'offer' is numeric, but actions"):
        export_native_model(
            model,
            name="x",
            background=frame,
            task_type=causal_task_type(actions=["none", "discount"], baseline="none"),
        )


# --- a published causal model on the real stack -------------------------------------------


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def native(stack: Stack) -> Any:
    model, background = causal_model()
    if NAME not in stack.repository.model_names():
        exported = export_native_model(
            model, name=NAME, background=background, task_type=causal_task_type()
        )
        assert exported.parity.passed, exported.parity.summary()
        publish(stack, exported, NAME)
    wait_served(stack.base_url, {"model": NAME, "features": ROWS[0]})
    return model


def _check(answer: dict[str, Any], expected: np.ndarray[Any, Any]) -> None:
    outcomes = [answer["outcomes"][str(a)] for a in OFFERS]
    assert np.allclose(outcomes, expected, atol=1e-6), (outcomes, expected)
    effects = [answer["effects"][str(a)] for a in OFFERS]
    assert np.allclose(effects, expected - expected[0], atol=1e-6)
    best = OFFERS[int(np.argmax(expected))]
    assert answer["next_best_action"] == best == answer["prediction"]
    assert answer["baseline_action"] == 0


def test_predict_answers_outcomes_effects_and_next_best_action(
    stack: Stack, native: Any, client: httpx.Client
) -> None:
    expected = native_outcomes(native, ROWS)
    answer = client.post("/predict", json={"model": NAME, "features": ROWS[0]})
    assert answer.status_code == 200, answer.text
    _check(answer.json(), expected[0])
    assert len({OFFERS[int(i)] for i in np.argmax(expected, axis=1)}) > 1  # decisions differ


def test_batch_predict_and_positional_rows(stack: Stack, native: Any, client: httpx.Client) -> None:
    expected = native_outcomes(native, ROWS)
    answer = client.post("/batch-predict", json={"model": NAME, "features": ROWS})
    assert answer.status_code == 200, answer.text
    for row, want in zip(answer.json()["predictions"], expected, strict=True):
        _check(row, want)
    positional = [[r["age"], r["income"]] for r in ROWS]
    answer = client.post("/batch-predict", json={"model": NAME, "features": positional})
    assert [p["next_best_action"] for p in answer.json()["predictions"]] == [
        OFFERS[int(i)] for i in np.argmax(expected, axis=1)
    ]


def test_rows_times_actions_go_to_triton_in_one_call(
    stack: Stack, native: Any, client: httpx.Client
) -> None:
    rng = np.random.default_rng()
    fresh = [
        {"age": float(rng.uniform(20, 60)), "income": float(rng.uniform(1, 9))} for _ in "abcde"
    ]

    def counts() -> tuple[int, int]:
        stats = httpx.get(f"{stack.triton.http_url}/v2/models/{NAME}/stats", timeout=30).json()
        model = stats["model_stats"][0]
        return int(model["inference_count"]), int(model["execution_count"])

    inferences, executions = counts()
    answer = client.post("/batch-predict", json={"model": NAME, "features": fresh})
    assert answer.status_code == 200, answer.text
    after = counts()
    assert after == (inferences + len(fresh) * len(OFFERS), executions + 1)


def test_a_record_carrying_the_action_is_422_naming_it(
    stack: Stack, native: Any, client: httpx.Client
) -> None:
    answer = client.post("/predict", json={"model": NAME, "features": {**ROWS[0], "offer": 1}})
    assert answer.status_code == 422
    assert "action column 'offer'" in answer.text
    answer = client.post("/predict", json={"model": NAME, "features": {"age": 30}})
    assert answer.status_code == 422
    assert "income" in answer.text


def test_open_inference_protocol_answers_outcome_and_effect_tensors(
    stack: Stack, native: Any, client: httpx.Client
) -> None:
    expected = native_outcomes(native, ROWS)
    metadata = client.get(f"/v2/models/{NAME}").json()
    assert [o["name"] for o in metadata["outputs"]] == ["outcomes", "effects", "next_best_action"]
    assert metadata["inputs"][0]["shape"] == [-1, 2]
    body = {
        "inputs": [
            {"name": "age", "datatype": "FP64", "shape": [3], "data": [r["age"] for r in ROWS]},
            {
                "name": "income",
                "datatype": "FP64",
                "shape": [3],
                "data": [r["income"] for r in ROWS],
            },
        ]
    }
    answer = client.post(f"/v2/models/{NAME}/infer", json=body)
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    assert outputs["outcomes"]["shape"] == [3, 3]
    assert np.allclose(np.reshape(outputs["outcomes"]["data"], (3, 3)), expected, atol=1e-6)
    effects = np.reshape(outputs["effects"]["data"], (3, 3))
    assert np.allclose(effects, expected - expected[:, [0]], atol=1e-6)
    assert outputs["next_best_action"]["data"] == [
        str(OFFERS[int(i)]) for i in np.argmax(expected, axis=1)
    ]


def test_argmin_objective_picks_the_lowest_outcome(stack: Stack, client: httpx.Client) -> None:
    model, background = causal_model()
    name = "cost-causal"
    if name not in stack.repository.model_names():
        exported = export_native_model(
            model,
            name=name,
            background=background,
            task_type=json.dumps(
                {"task": "causal", "action": "offer", "actions": [2, 1, 0], "objective": "min"}
            ),
        )
        publish(stack, exported, name)
    wait_served(stack.base_url, {"model": name, "features": ROWS[1]})
    answer = client.post("/predict", json={"model": name, "features": ROWS[1]}).json()
    expected = native_outcomes(model, [ROWS[1]])[0]
    assert answer["next_best_action"] == OFFERS[int(np.argmin(expected))]
    assert answer["baseline_action"] == 2
    assert math.isclose(answer["effects"]["2"], 0.0)


def test_a_causal_answer_survives_the_shared_cache_encoding() -> None:
    from mlserve.serving.cache.keys import CachedPrediction

    details = {
        "next_best_action": 2,
        "baseline_action": 0,
        "outcomes": {"0": 1.0, "2": 3.5},
        "effects": {"0": 0.0, "2": 2.5},
    }
    stored = CachedPrediction("2", None, None, False, 2, None, details)
    assert CachedPrediction.from_bytes(stored.to_bytes()) == stored


def test_a_classifier_with_named_actions_answers_conversion_probabilities(
    stack: Stack, client: httpx.Client
) -> None:
    import pandas as pd

    from tests.support.decision_models import CHANNELS, channel_model

    model, background = channel_model()
    name = "channel-causal"
    if name not in stack.repository.model_names():
        options = {"task": "causal", "action": "channel", "actions": CHANNELS, "baseline": "none"}
        exported = export_native_model(
            model, name=name, background=background, task_type=json.dumps(options)
        )
        assert exported.parity.passed, exported.parity.summary()
        publish(stack, exported, name)
    rows = [{"age": 22.0}, {"age": 67.0}]
    wait_served(stack.base_url, {"model": name, "features": rows[0]})
    answer = client.post("/batch-predict", json={"model": name, "features": rows})
    assert answer.status_code == 200, answer.text
    for row, got in zip(rows, answer.json()["predictions"], strict=True):
        frame = pd.DataFrame([{**row, "channel": c} for c in CHANNELS])
        expected = model.predict_proba(frame)[:, 1]
        assert np.allclose([got["outcomes"][c] for c in CHANNELS], expected, atol=1e-5)
        assert got["next_best_action"] == CHANNELS[int(np.argmax(expected))]
        assert got["effects"]["none"] == 0.0
    assert [p["next_best_action"] for p in answer.json()["predictions"]] == ["email", "call"]


def test_calls_carry_at_most_max_batch_size_rows(stack: Stack, native: Any) -> None:
    """12 rows x 3 actions through a data plane whose calls hold 16 rows: 5 request rows
    (15 Triton rows) per call at most, every answer right."""
    import asyncio

    from mlserve.dataplane.request import PredictRequest
    from mlserve.kinds import RecordInputs
    from mlserve.triton.client import TritonClient
    from tests.support.dataplane import dataplane_for

    class Recording(TritonClient):
        """The real client, noting how many rows each call carries."""

        rows: list[int] = []

        async def infer(
            self, model: str, version: int | None, inputs: Any, outputs: Any, **kw: Any
        ) -> Any:
            self.rows.append(int(next(iter(inputs.values())).shape[0]))
            return await super().infer(model, version, inputs, outputs, **kw)

    rng = np.random.default_rng()
    rows = [
        {"age": float(rng.uniform(20, 60)), "income": float(rng.uniform(1, 9))} for _ in range(12)
    ]

    async def run() -> Any:
        triton = Recording(stack.triton.grpc_url, timeout_s=60)
        try:
            plane = dataplane_for(stack.repository, triton, max_batch_size=16, calls_in_flight=0)
            return await plane.predict(PredictRequest(RecordInputs(rows), model=NAME))
        finally:
            await triton.close()

    batch = asyncio.run(run())
    assert sorted(Recording.rows) == [6, 15, 15]
    expected = native_outcomes(native, rows)
    assert [p.value for p in batch.predictions] == [
        OFFERS[int(i)] for i in np.argmax(expected, axis=1)
    ]


def test_monitoring_windows_hold_the_request_features_without_the_action(
    stack: Stack, native: Any, client: httpx.Client
) -> None:
    assert client.post("/predict", json={"model": NAME, "features": ROWS[2]}).status_code == 200
    basic = client.get("/monitor/basic")
    assert basic.status_code == 200, basic.text
    window = next(v for v in basic.json()["versions"] if v["model"] == NAME)
    assert set(window["features"]) == {"age", "income"}
