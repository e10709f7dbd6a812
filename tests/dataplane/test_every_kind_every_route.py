"""Every kind of model through every route and client, against the real Triton:
``/predict``, ``/batch-predict``, ``/api/v1/predict`` through the real ``mlserve-sdk``
client, and the Open Inference Protocol through ``tritonclient.http``."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton_http
from mlserve_sdk.client import MLServeClient

from mlserve.control_plane.schemas import BatchPredictResponse, PredictResponse
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.dataplane.conftest import Kinds

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 6.2, "sepal_width": 3.4, "petal_length": 5.4, "petal_width": 2.3}
# What each kind's model answers for its two inputs (the second differs from the first).
CASES: dict[str, tuple[Any, Any, str, str]] = {
    "text": ("This product is amazing!", "The battery is awful.", "positive", "negative"),
    "tokens": ("the movie was great", "bad bad movie", "positive", "negative"),
    "tabular": (SETOSA, VIRGINICA, "setosa", "virginica"),
    "custom": (SETOSA, VIRGINICA, "setosa", "virginica"),
}
KINDS = list(CASES)


def model_of(kinds: Kinds, kind: str) -> str:
    name: str = getattr(kinds, kind)
    return name


def input_field(kind: str, value: Any) -> dict[str, Any]:
    return {"text": value} if kind in ("text", "tokens") else {"features": value}


@pytest.mark.parametrize("kind", KINDS)
def test_predict(kind: str, kinds: Kinds, client: httpx.Client) -> None:
    first, _, label, _ = CASES[kind]
    answer = client.post(
        "/predict", json={"model": model_of(kinds, kind), **input_field(kind, first)}
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    PredictResponse.model_validate(body)  # the documented contract, field for field
    assert body["label"] == body["prediction"] == label
    assert body["model"] == model_of(kinds, kind)
    assert body["routed_by"] == "default"
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["latency_ms"] >= body["preprocess_ms"] >= 0


@pytest.mark.parametrize("kind", KINDS)
def test_batch_predict(kind: str, kinds: Kinds, client: httpx.Client) -> None:
    first, second, label, other = CASES[kind]
    field = "texts" if kind in ("text", "tokens") else "features"
    body = {"model": model_of(kinds, kind), field: [first, second, first]}
    answer = client.post("/batch-predict", json=body)

    assert answer.status_code == 200, answer.text
    BatchPredictResponse.model_validate(answer.json())
    assert [p["label"] for p in answer.json()["predictions"]] == [label, other, label]


@pytest.mark.parametrize("kind", KINDS)
def test_api_v1_through_the_sdk_client(kind: str, kinds: Kinds, stack: Stack) -> None:
    first, second, label, other = CASES[kind]
    sdk = MLServeClient(server_url=stack.base_url)
    sdk.login(ADMIN_USER, ADMIN_PASSWORD)

    answer = sdk.predict(model_of(kinds, kind), "v1", {"inputs": [first, second]})

    assert answer["predictions"] == [label, other]
    assert len(answer["prediction_ids"]) == 2
    assert answer["versions"] == ["v1", "v1"]


@pytest.mark.parametrize("kind", KINDS)
def test_open_inference_protocol_through_tritonclient(
    kind: str, kinds: Kinds, stack: Stack
) -> None:
    first, second, label, other = CASES[kind]
    name = model_of(kinds, kind)
    client = triton_http.InferenceServerClient(stack.base_url.removeprefix("http://"))
    metadata = client.get_model_metadata(name)
    if kind in ("text", "tokens"):
        tensor = triton_http.InferInput("text", [2, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[first.encode()], [second.encode()]], dtype=object))
    else:
        tensor = triton_http.InferInput("input", [2, 4], "FP32")
        rows = [[record[f] for f in SETOSA] for record in (first, second)]
        tensor.set_data_from_numpy(np.array(rows, dtype=np.float32))
    outputs = [
        triton_http.InferRequestedOutput(n, binary_data=True) for n in ("label", "probabilities")
    ]

    result = client.infer(name, [tensor], outputs=outputs)

    assert [i["name"] for i in metadata["inputs"]] == [tensor.name()]
    assert [v.decode() for v in result.as_numpy("label").ravel()] == [label, other]
    assert result.as_numpy("probabilities").shape[0] == 2
    assert client.is_model_ready(name)


def test_protocol_json_tensors_and_per_feature_inputs(kinds: Kinds, client: httpx.Client) -> None:
    body = {
        "inputs": [
            {"name": feature, "datatype": "FP32", "shape": [1], "data": [value]}
            for feature, value in SETOSA.items()
        ],
        "outputs": [{"name": "label"}],
    }
    answer = client.post(f"/v2/models/{kinds.tabular}/versions/1/infer", json=body)

    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [1, 1], "data": ["setosa"]}
    ]
    assert document["model_version"] == "1"


def test_protocol_health_and_config_for_perf_analyzer(kinds: Kinds, client: httpx.Client) -> None:
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    config = client.get(f"/v2/models/{kinds.text}/config").json()
    assert config["input"] == [{"name": "text", "data_type": "TYPE_STRING", "dims": [1]}]
    assert config["max_batch_size"] >= 1


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"inputs": []}', 400, "inputs"),
        (
            b'{"inputs": [{"name": "input", "datatype": {}, "shape": [1, 4], "data": [1]}]}',
            400,
            "datatype",
        ),
        (
            b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, '
            b'3, 4], "parameters": []}], "outputs": "label"}',
            400,
            "outputs",
        ),
        (
            b'{"inputs": [{"name": "input", "datatype": "FP99", "shape": [1, 4], "data": [1]}]}',
            400,
            "datatype",
        ),
        (
            b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2]}]}',
            400,
            "2 values for shape [1, 4]",
        ),
        (
            b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3], '
            b'"data": [1, 2, 3]}]}',
            400,
            "[n, 4]",
        ),
        (
            b'{"inputs": [{"name": "colour", "datatype": "FP32", "shape": [1], "data": [1]}]}',
            400,
            "unknown inputs",
        ),
        (
            b'{"inputs": [{"name": "sepal_length", "datatype": "FP32", "shape": [1], '
            b'"data": [1]}]}',
            422,
            "missing feature",
        ),
    ],
)
def test_protocol_bad_tensors_are_named(
    body: bytes, status: int, fragment: str, kinds: Kinds, client: httpx.Client
) -> None:
    answer = client.post(f"/v2/models/{kinds.tabular}/infer", content=body)

    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["error"]


def test_protocol_unknown_model_is_404(kinds: Kinds, client: httpx.Client) -> None:
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}
    answer = client.post("/v2/models/no-such-model/infer", json=body)
    assert answer.status_code == 404
    assert "available models" in answer.json()["error"]


@pytest.mark.parametrize("kind", ["text", "tokens", "tabular", "custom"])
def test_an_infer_request_naming_no_output_gets_every_output_the_metadata_lists(
    kind: str, kinds: Kinds, client: httpx.Client
) -> None:
    name = model_of(kinds, kind)
    listed = client.get(f"/v2/models/{name}").json()["outputs"]
    if kind in ("text", "tokens"):
        tensor = {"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": ["fine"]}
    else:
        tensor = {
            "name": "input",
            "datatype": "FP32",
            "shape": [1, 4],
            "data": [5.1, 3.5, 1.4, 0.2],
        }
    answer = client.post(f"/v2/models/{name}/infer", json={"inputs": [tensor]})
    assert answer.status_code == 200, answer.text
    answered = answer.json()["outputs"]
    assert [o["name"] for o in answered] == [o["name"] for o in listed]
    assert [o["datatype"] for o in answered] == [o["datatype"] for o in listed]
