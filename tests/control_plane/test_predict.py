"""The plain predict API against a real Triton, as a client sees it."""

from __future__ import annotations

import math
import uuid

import httpx
import pytest

from mlserve.control_plane.routes.predict import _prediction
from mlserve.dataplane.request import Prediction as TextPrediction
from tests.conftest import Stack


@pytest.fixture(scope="module")
def client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.base_url, timeout=30)


def test_predict_returns_label_confidence_and_latency_from_triton(client: httpx.Client) -> None:
    # A text no other test sends, so Triton answers it (not the session's cache).
    response = client.post("/predict", json={"text": f"This product is amazing! {uuid.uuid4()}"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == "positive"
    assert body["confidence"] == max(body["probabilities"].values())
    assert set(body["probabilities"]) == {"negative", "neutral", "positive"}
    assert body["model"] == "sentiment"
    assert body["version"].startswith("v")
    assert body["latency_ms"] > 0
    assert body["cached"] is False
    assert body["triton_ms"] > 0


def test_repeated_text_is_answered_from_the_cache(client: httpx.Client) -> None:
    text = "The staff was rude and the room was dreadful."
    first = client.post("/predict", json={"text": text}).json()
    second = client.post("/predict", json={"text": text}).json()

    assert first["label"] == second["label"] == "negative"
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["triton_ms"] is None


def test_batch_predict_keeps_input_order(client: httpx.Client) -> None:
    texts = [
        "I love the app, it is brilliant.",
        "The battery is awful.",
        "The book arrived on tuesday.",
    ]
    response = client.post("/batch-predict", json={"texts": texts})

    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative", "neutral"]
    assert body["total_latency_ms"] > 0
    assert body["model_version"].startswith("sentiment-v")


def test_batches_larger_than_tritons_max_batch_size_are_split(client: httpx.Client) -> None:
    texts = [f"review {i}: the delivery was awful" for i in range(100)]
    response = client.post("/batch-predict", json={"texts": texts})

    assert response.status_code == 200, response.text
    assert {p["label"] for p in response.json()["predictions"]} == {"negative"}


def test_named_version_serves_that_version(client: httpx.Client) -> None:
    body = client.post("/predict", json={"text": "great", "model_version": "sentiment-v1"}).json()
    assert body["model_version"] == "sentiment-v1"
    plain = client.post("/predict", json={"text": "great", "model_version": "sentiment"}).json()
    assert plain["model_version"].startswith("sentiment-v")


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"text": "   "}, 422, "empty after cleaning"),
        ({"text": "x" * 10_001}, 422, "max_text_length"),
        ({"texts": []}, 422, "between 1 and 100"),
        ({"texts": ["a"] * 101}, 422, "max_batch_texts"),
        ({"text": 5}, 422, "text must be a string"),
        ({}, 422, "carries no input"),
        ({"text": "ok", "timeout_ms": 0}, 422, "timeout_ms"),
        ({"text": "ok", "timeout_ms": 10_000_000}, 422, "max_timeout_ms"),
        ({"text": "ok", "model_version": "nope"}, 404, "available models: "),
        ({"text": "ok", "model_version": "sentiment-v99"}, 404, "available versions: v1"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    client: httpx.Client, payload: dict[str, object], status: int, fragment: str
) -> None:
    path = "/batch-predict" if "texts" in payload else "/predict"
    response = client.post(path, json=payload)

    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


def test_malformed_json_is_a_422_not_a_500(client: httpx.Client) -> None:
    response = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "application/x-www-form-urlencoded"}, {}],
    ids=["curl -d (form-encoded)", "no content type"],
)
def test_a_json_body_is_read_as_json_whatever_content_type_curl_sent(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    # `curl -X POST localhost:8080/predict -d '{"text": "..."}'` sends no JSON content type.
    body = b'{"text": "This product is amazing!"}'
    response = client.post("/predict", content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["label"] == "positive"


def test_a_body_larger_than_any_valid_request_is_a_413_naming_the_limits(
    client: httpx.Client,
) -> None:
    huge = b'{"texts": ["' + b"a" * 7_000_000 + b'"]}'
    response = client.post("/batch-predict", content=huge)

    assert response.status_code == 413
    assert "max_batch_texts texts of max_text_length characters" in response.json()["error"]
    assert client.post("/predict", json={"text": "still serving"}).status_code == 200


def test_a_body_that_is_not_a_json_object_says_what_to_send(client: httpx.Client) -> None:
    response = client.post(
        "/predict",
        content=b"text=hello",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]

    response = client.post("/predict", json=["a list"])
    assert response.status_code == 422
    assert "must be a JSON object" in response.json()["error"]


def test_health_ready_and_models(client: httpx.Client) -> None:
    assert client.get("/health").json()["triton"] == "ready"
    assert client.get("/ready").status_code == 200
    models = client.get("/models").json()["models"]
    sentiment = next(m for m in models if m["name"] == "sentiment")
    assert sentiment["versions"][0]["state"] == "READY"
    assert sentiment["versions"][0]["parity"] is True


def test_openapi_documents_the_predict_bodies(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, field in (("/predict", "text"), ("/batch-predict", "texts")):
        operation = paths[path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert {field, "features", "model"} <= set(body["properties"])
        assert {"200", "404", "409", "422", "429"} <= set(operation["responses"])


@pytest.mark.parametrize(
    ("confidence", "shown"),
    [(0.12345649, 0.123456), (0.1234567, 0.123457), (1.0, 1.0), (float("inf"), float("inf"))],
)
def test_an_answer_rounds_its_confidence_to_six_places(confidence: float, shown: float) -> None:
    answer = TextPrediction("positive", confidence, {"positive": confidence}, False, False)

    assert _prediction(answer)["confidence"] == shown


def test_a_nan_confidence_from_a_broken_model_is_passed_on_not_a_crash() -> None:
    answer = TextPrediction("positive", float("nan"), {}, False, False)

    assert math.isnan(_prediction(answer)["confidence"])
