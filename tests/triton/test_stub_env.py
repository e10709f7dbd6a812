"""The server runs numpy 2; the embedded Triton's Python-backend stub runs numpy 1.26 from a
folder of its own, and without that folder nothing starts that would answer wrongly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient

from mlserve.samples.sentiment_model import train_sentiment
from mlserve.triton.launcher import EmbeddedTriton
from mlserve.triton.stub_env import (
    StubEnvironmentError,
    default_stub_site,
    numpy_major,
    stub_paths,
)
from tests.support.redis_server import free_port
from tests.support.triton_server import TritonServer


def test_the_server_has_numpy_2_and_the_stub_folder_numpy_1() -> None:
    assert numpy_major() == int(np.__version__.split(".")[0]) >= 2
    assert numpy_major(default_stub_site()) == 1
    assert stub_paths() == [default_stub_site()]


def test_a_missing_stub_folder_is_refused_with_the_command_that_makes_it(tmp_path: Path) -> None:
    with pytest.raises(StubEnvironmentError) as caught:
        stub_paths(tmp_path / "absent")
    message = caught.value.message
    assert f"{tmp_path / 'absent'} does not exist" in message
    assert "pip install --no-deps --target" in message
    assert "numpy==1.26.4" in message
    assert "MLSERVE_TRITON__STUB_SITE" in message


def test_a_stub_folder_without_numpy_1_is_refused(tmp_path: Path) -> None:
    (tmp_path / "numpy-2.4.6.dist-info").mkdir()
    with pytest.raises(StubEnvironmentError, match=r"has no numpy 1\.x"):
        stub_paths(tmp_path)


def test_embedded_triton_does_not_start_without_the_stub_numpy(tmp_path: Path) -> None:
    server = EmbeddedTriton(
        tmp_path / "repo",
        workdir=tmp_path / "var",
        http_port=free_port(),
        grpc_port=free_port(),
        metrics_port=free_port(),
        stub_site=tmp_path / "absent",
    )
    with pytest.raises(StubEnvironmentError, match=r"needs numpy 1\.x"):
        server.start()
    assert server.pid is None


def test_a_stub_given_numpy_2_refuses_to_load_the_model(tmp_path: Path) -> None:
    # A folder that looks like the stub's numpy 1.x to the launcher but holds a link to this
    # environment's numpy 2: the runner itself must refuse, not serve misread tensors.
    fake = tmp_path / "fake-site"
    fake.mkdir()
    (fake / "numpy-1.26.4.dist-info").mkdir()
    (fake / "numpy").symlink_to(Path(np.__file__).parent, target_is_directory=True)
    with TritonServer(tmp_path) as triton:
        triton.server.stop()
        triton.server.stub_site = fake
        triton.repository.publish_version(train_sentiment(1), "sentiment")
        triton.server.start()
        with pytest.raises(Exception, match="misreads tensors") as caught:
            triton.server.load_model("sentiment")
        assert "numpy 2." in str(caught.value)


def test_text_served_through_the_stub_matches_onnx_runtime_in_process(
    triton_server: TritonServer,
) -> None:
    # BYTES in, FP32 out, on numpy 2 in the control plane: the values, not only the shapes.
    texts = ["This product is amazing!", "The screen is broken.", "okay I guess", "génial"]
    exported = train_sentiment(1)
    assert exported.onnx_model is not None
    session = ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feed = {session.get_inputs()[0].name: np.array([[t] for t in texts], dtype=object)}
    native = session.run(["probabilities"], feed)[0]
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    try:
        array = np.array([[t.encode()] for t in texts], dtype=object)
        text_input = grpcclient.InferInput("text", list(array.shape), "BYTES")
        text_input.set_data_from_numpy(array)
        served = client.infer("sentiment", [text_input]).as_numpy("probabilities")
    finally:
        client.close()
    np.testing.assert_allclose(served, native, atol=1e-5)
