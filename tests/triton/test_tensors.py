"""Arrays to and from Triton's gRPC and HTTP tensors (pure encoding, no server)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from tritonclient.grpc import service_pb2
from tritonclient.utils import deserialize_bytes_tensor

from mlserve.errors import TritonError
from mlserve.triton.tensors import add_input, http_request, read_http_outputs, read_outputs


def test_strings_travel_as_length_prefixed_utf8_bytes() -> None:
    request = service_pb2.ModelInferRequest()
    add_input(request, "text", np.array([["héllo"], ["b"]], dtype=object))

    (tensor,) = request.inputs
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("text", "BYTES", [2, 1])
    decoded = deserialize_bytes_tensor(request.raw_input_contents[0])
    assert [item.decode() for item in decoded] == ["héllo", "b"]


def test_numbers_round_trip_through_a_response() -> None:
    ids = np.arange(6, dtype=np.int64).reshape(2, 3)
    request = service_pb2.ModelInferRequest()
    add_input(request, "input_ids", ids)
    assert request.inputs[0].datatype == "INT64"

    response = service_pb2.ModelInferResponse()
    output = response.outputs.add()
    output.name, output.datatype = "probabilities", "FP32"
    output.shape.extend([2, 2])
    response.raw_output_contents.append(np.array([0.25, 0.75, 1, 0], np.float32).tobytes())
    (probabilities,) = read_outputs(response, ["probabilities"]).values()
    np.testing.assert_array_equal(probabilities, [[0.25, 0.75], [1, 0]])


def test_an_answer_without_the_requested_output_is_a_triton_error() -> None:
    response = service_pb2.ModelInferResponse()
    with pytest.raises(TritonError, match="lacks output"):
        read_outputs(response, ["probabilities"])


def test_an_output_without_raw_contents_is_a_triton_error() -> None:
    response = service_pb2.ModelInferResponse()
    response.outputs.add(name="probabilities", datatype="FP32", shape=[1, 2])
    with pytest.raises(TritonError, match="without raw contents"):
        read_outputs(response, ["probabilities"])


def test_malformed_bytes_contents_are_a_triton_error() -> None:
    response = service_pb2.ModelInferResponse()
    response.outputs.add(name="label", datatype="BYTES", shape=[1, 1])
    response.raw_output_contents.append(b"\x09\x00\x00\x00short")  # 9 bytes announced, 5 sent
    with pytest.raises(TritonError, match="malformed BYTES"):
        read_outputs(response, ["label"])


def test_a_dtype_triton_cannot_carry_is_refused() -> None:
    with pytest.raises(TritonError, match="has no Triton type"):
        add_input(service_pb2.ModelInferRequest(), "x", np.array([1 + 2j]))


def test_an_http_request_is_a_json_header_then_the_raw_tensors() -> None:
    texts = np.array([["héllo"], ["b"]], dtype=object)
    body, header_length = http_request({"text": texts}, ["probabilities"], queue_timeout_us=7)

    header = orjson.loads(body[:header_length])
    assert header["inputs"] == [
        {
            "name": "text",
            "shape": [2, 1],
            "datatype": "BYTES",
            "parameters": {"binary_data_size": len(body) - header_length},
        }
    ]
    assert header["outputs"] == [{"name": "probabilities", "parameters": {"binary_data": True}}]
    assert header["parameters"] == {"timeout": 7}
    decoded = deserialize_bytes_tensor(body[header_length:])
    assert [item.decode() for item in decoded] == ["héllo", "b"]


def test_http_outputs_are_read_from_binary_parts_and_json_data() -> None:
    binary = np.array([[0.25, 0.75], [1, 0]], np.float32).tobytes()
    header = orjson.dumps(
        {
            "outputs": [
                {
                    "name": "probabilities",
                    "datatype": "FP32",
                    "shape": [2, 2],
                    "parameters": {"binary_data_size": len(binary)},
                },
                {"name": "label", "datatype": "INT64", "shape": [2], "data": [1, 0]},
            ]
        }
    )
    arrays = read_http_outputs(header + binary, len(header), ["probabilities", "label"])

    np.testing.assert_array_equal(arrays["probabilities"], [[0.25, 0.75], [1, 0]])
    assert arrays["label"].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("body", "header_length", "fragment"),
    [
        (b"<html>", None, "could not be read"),
        (b'{"outputs": [{"name": "p"}]}', None, "could not be read"),
        (b'{"outputs": []}', None, "lacks output"),
        (
            b'{"outputs": [{"name": "p", "datatype": "FP32", "shape": [2, 2], '
            b'"parameters": {"binary_data_size": 4}}]}\x00\x00\x80\x3f',
            104,
            "1 FP32 values for a tensor of shape [2, 2]",
        ),
    ],
    ids=["not json", "no shape", "missing output", "short binary part"],
)
def test_an_http_answer_that_does_not_fit_is_a_triton_error(
    body: bytes, header_length: int | None, fragment: str
) -> None:
    with pytest.raises(TritonError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        read_http_outputs(body, header_length, ["p"])
