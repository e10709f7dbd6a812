"""The champion/challenger gate (seed S3), end to end through Triton, and its decision
rules on known answers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import httpx
import pytest

from mlserve.dataplane.request import Prediction, PredictionBatch, PredictRequest, Timings
from mlserve.errors import InvalidInputError
from mlserve.kinds.base import TextInputs
from mlserve.lifecycle.gate import ReleaseGate
from mlserve.lifecycle.validation import ValidationSet, parse_validation_set
from mlserve.samples.sentiment_data import LABELS, generate
from mlserve.samples.sentiment_model import train_sentiment
from tests.conftest import Stack
from tests.dataplane.conftest import publish, wait_served

ROTATED = {label: LABELS[(i + 1) % len(LABELS)] for i, label in enumerate(LABELS)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_gate_promotes_a_better_candidate_and_refuses_a_worse_one(
    stack: Stack, client: httpx.Client, admin_token: str
) -> None:
    data = generate()
    wrong = dataclasses.replace(data, train_labels=[ROTATED[x] for x in data.train_labels])
    name = "gated-sentiment"
    for exported in (
        train_sentiment(1, data=wrong),
        train_sentiment(1),
        train_sentiment(1, data=wrong),
    ):
        publish(stack, exported, name)
    wait_served(stack.base_url, {"model": f"{name}-v3", "text": "great"})
    stored = client.put(
        f"/models/{name}/validation",
        json={"texts": data.test_texts, "labels": data.test_labels},
        headers=bearer(admin_token),
    )
    assert stored.status_code == 200, stored.text
    promote = f"/models/{name}/promote"
    assert client.post(promote, params={"version": 1}, headers=bearer(admin_token)).is_success

    better = client.post(promote, params={"version": 2, "gate": True}, headers=bearer(admin_token))

    assert better.status_code == 200, better.text
    assert better.json()["production"] == 2
    worse = client.post(promote, params={"version": 3, "gate": True}, headers=bearer(admin_token))
    assert worse.status_code == 409, client.get(f"/models/{name}/versions").text
    assert "gate" in worse.json()["error"]
    assert "f1_macro" in worse.json()["error"]
    versions = client.get(f"/models/{name}/versions").json()
    assert versions["production"] == 2
    reports = {v["version"]: v["gate"] for v in versions["versions"]}
    assert reports["v1"] is None
    passed, refused = reports["v2"], reports["v3"]
    assert passed["passed"] is True
    assert refused["passed"] is False
    assert passed["champion"]["version"] == 1
    assert refused["champion"]["version"] == 2
    assert passed["candidate"]["metrics"]["f1_macro"] > 0.8
    assert refused["candidate"]["metrics"]["f1_macro"] < 0.3
    assert set(passed["candidate"]["recall"]) == set(LABELS)
    assert passed["items"] == len(data.test_labels)
    answer = client.post("/predict", json={"model": name, "text": "great"}).json()
    assert (answer["version"], answer["routed_by"]) == ("v2", "default")


def test_a_gated_promotion_without_a_validation_set_is_refused(
    stack: Stack, client: httpx.Client, admin_token: str
) -> None:
    name = "gated-no-validation"
    publish(stack, train_sentiment(1), name)
    wait_served(stack.base_url, {"model": name, "text": "great"})

    answer = client.post(
        f"/models/{name}/promote",
        params={"version": 1, "gate": True},
        headers=bearer(admin_token),
    )
    bad_metric = client.post(
        f"/models/{name}/promote",
        params={"version": 1, "gate": True, "metric": "precision"},
        headers=bearer(admin_token),
    )

    assert answer.status_code == 404
    assert "validation" in answer.text
    assert bad_metric.status_code == 422
    assert "f1_macro, accuracy, auc, rmse" in bad_metric.text
    assert client.get(f"/models/{name}/versions").json()["production"] is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"texts": ["a", "b"], "labels": ["x"]}', "one label per input"),
        (b'{"labels": ["x"]}', "exactly one of texts, records or features"),
        (b'{"texts": ["a"], "features": [[1]], "labels": ["x"]}', "exactly one of"),
        (b'{"texts": [], "labels": []}', "labels"),
    ],
)
def test_malformed_validation_sets_name_what_is_wrong(body: bytes, words: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_validation_set(body)

    assert words in str(raised.value)


class KnownAnswers:
    """A stand-in for the data plane that answers each version's fixed labels (the gate's
    arithmetic, apart from Triton)."""

    def __init__(self, answers: dict[int, Sequence[str]]) -> None:
        self.answers = answers

    async def __call__(self, request: PredictRequest) -> PredictionBatch:
        assert isinstance(request.inputs, TextInputs)
        assert request.version is not None
        labels = [self.answers[request.version][int(t)] for t in request.inputs.texts]
        predictions = [Prediction(x, 1.0, {x: 1.0}, False, False) for x in labels]
        timings = Timings(0.0, 0.0, 0.0, 0.0)
        return PredictionBatch("m", request.version, predictions, "explicit", timings, "text")


TRUTH = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
DATA = ValidationSet(texts=[str(i) for i in range(30)], labels=list(TRUTH))


def judge(answers: dict[int, Sequence[str]], **options: object) -> object:
    gate = ReleaseGate(KnownAnswers(answers), **options)  # type: ignore[arg-type]
    return asyncio.run(gate.judge("m", 2, 1 if 1 in answers else None, DATA))


def test_a_class_losing_too_much_recall_blocks_a_better_candidate() -> None:
    champion = ["a"] * 10 + ["b"] * 10 + ["a"] * 10  # c never right
    candidate = ["a"] * 8 + ["b"] * 2 + ["b"] * 10 + ["c"] * 10  # a loses 20 points

    report = judge({1: champion, 2: candidate}, metric="accuracy", max_recall_drop=10)

    assert report.candidate.metric > report.champion.metric  # type: ignore[attr-defined]
    assert report.passed is False  # type: ignore[attr-defined]
    assert report.recall_drops["a"] == pytest.approx(20.0)  # type: ignore[attr-defined]
    assert "'a'" in report.reason  # type: ignore[attr-defined]
    allowed = judge({1: champion, 2: candidate}, metric="accuracy", max_recall_drop=25)
    assert allowed.passed is True  # type: ignore[attr-defined]


def test_an_equal_candidate_does_not_beat_the_champion_and_no_champion_passes() -> None:
    same = list(TRUTH)

    assert judge({1: same, 2: same}).passed is False  # type: ignore[attr-defined]
    first = judge({2: same})
    assert first.passed is True
    assert first.champion is None
