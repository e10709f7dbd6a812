"""Arrays to and from Triton's gRPC tensors (pure encoding, no server)."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.grpc import service_pb2
from tritonclient.utils import deserialize_bytes_tensor

from mlserve.errors import TritonError
from mlserve.triton.tensors import add_input, read_outputs


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


def test_a_dtype_triton_cannot_carry_is_refused() -> None:
    with pytest.raises(TritonError, match="has no Triton type"):
        add_input(service_pb2.ModelInferRequest(), "x", np.array([1 + 2j]))
