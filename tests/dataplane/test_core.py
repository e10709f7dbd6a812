"""The predict core on its own (no HTTP), against the session's real Triton."""

from __future__ import annotations

import pytest

from mlserve.dataplane.request import PredictRequest
from mlserve.errors import InvalidInputError
from mlserve.kinds import RecordInputs, TextInputs
from mlserve.triton.client import TritonClient
from tests.support.dataplane import dataplane_for
from tests.support.triton_server import TritonServer


async def test_a_record_without_a_model_and_no_default_tabular_model_is_a_clear_422(
    triton_server: TritonServer,
) -> None:
    client = TritonClient(triton_server.grpc_url, timeout_s=30)
    plane = dataplane_for(triton_server.repository, client, default_record_model="not-here")
    try:
        with pytest.raises(InvalidInputError, match="default tabular model 'not-here'"):
            await plane.predict(PredictRequest(RecordInputs([{"txt": 1}])))
        answered = await plane.predict(PredictRequest(TextInputs(["great"])))
    finally:
        await client.close()
    assert answered.model == "sentiment"
    assert answered.routed_by == "default"
