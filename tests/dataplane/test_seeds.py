"""The seeds' literal requests, as written, against the running stack (seeds S1, S3, S4)."""

from __future__ import annotations

import httpx

from tests.dataplane.conftest import Kinds


def test_seed_s4_flat_record_without_a_model_name(kinds: Kinds, client: httpx.Client) -> None:
    # curl -X POST http://localhost:8000/predict -H "Content-Type: application/json" \
    #   -d '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'
    answer = client.post(
        "/predict",
        content=b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, '
        b'"petal_width": 0.2}',
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["prediction"] == "setosa"
    assert answer.json()["model"] == "iris"


def test_seed_s4_heuristic_through_the_custom_python_model(
    kinds: Kinds, client: httpx.Client
) -> None:
    body = {
        "model": kinds.custom,
        "sepal_length": 5.1,
        "sepal_width": 3.5,
        "petal_length": 1.4,
        "petal_width": 0.2,
    }
    answer = client.post("/predict", json=body)

    assert answer.status_code == 200, answer.text
    assert answer.json()["prediction"] == "setosa"


def test_seed_s3_positional_rows(kinds: Kinds, client: httpx.Client) -> None:
    # curl -X POST http://localhost:8000/predict -H 'Content-Type: application/json' \
    #   -d '{"features": [[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]}'
    answer = client.post(
        "/predict",
        content=b'{"features": [[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]}',
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [p["prediction"] for p in body["predictions"]] == ["setosa", "virginica"]
    assert body["model_version"] == "iris-v1"


def test_seed_s1_single_and_batch_examples(kinds: Kinds, client: httpx.Client) -> None:
    single = client.post(
        "/predict", json={"text": "This product is amazing!", "model_version": "sentiment-v1"}
    )
    batch = client.post(
        "/batch-predict",
        json={"texts": ["Great!", "Terrible.", "Okay I guess"], "model_version": "sentiment-v1"},
    )

    assert single.status_code == batch.status_code == 200
    assert single.json()["label"] == "positive"
    assert single.json()["model_version"] == "sentiment-v1"
    assert {"label", "confidence", "latency_ms"} <= set(single.json())
    assert [set(p) >= {"label", "confidence"} for p in batch.json()["predictions"]] == [True] * 3
    assert batch.json()["total_latency_ms"] > 0
