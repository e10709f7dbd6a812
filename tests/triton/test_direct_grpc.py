"""Triton users keep their own clients: the repository serves tritonclient gRPC directly."""

from __future__ import annotations

import numpy as np
import tritonclient.grpc as grpcclient

from tests.support.triton_server import TritonServer


def test_tritonclient_grpc_gets_probabilities_and_class_labels(
    triton_server: TritonServer,
) -> None:
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    try:
        assert client.is_model_ready("sentiment")
        texts = np.array([[b"This product is amazing!"], [b"The screen is broken."]], dtype=object)
        text_input = grpcclient.InferInput("text", list(texts.shape), "BYTES")
        text_input.set_data_from_numpy(texts)
        outputs = [grpcclient.InferRequestedOutput("probabilities", class_count=1)]

        result = client.infer("sentiment", [text_input], outputs=outputs)

        top = [row[0].decode().split(":") for row in result.as_numpy("probabilities")]
        assert [label for _, _, label in top] == ["positive", "negative"]
        assert all(0.5 < float(score) <= 1.0 for score, _, _ in top)
    finally:
        client.close()


def test_raw_probabilities_cover_every_label(triton_server: TritonServer) -> None:
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    try:
        texts = np.array([[b"okay"]] * 3, dtype=object)
        text_input = grpcclient.InferInput("text", [3, 1], "BYTES")
        text_input.set_data_from_numpy(texts)
        result = client.infer("sentiment", [text_input])
        probabilities = result.as_numpy("probabilities")
        assert probabilities.shape == (3, 3)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    finally:
        client.close()
