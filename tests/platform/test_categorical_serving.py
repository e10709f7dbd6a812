"""A pipeline with a categorical (string) column, deployed and served through Triton.

String features travel as BYTES tensors. This runs on its own tritonserver (not the
session one) so that a backend failure on string inputs cannot take the shared server down
for other tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlserve.triton.client import TritonClient
from tests.platform.test_serving_adapters import FEATURES, Seams, frame, records
from tests.support.triton_server import TritonServer


@pytest.fixture(scope="module")
def own_triton() -> Iterator[TritonServer]:
    server = TritonServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_categorical_pipeline_predicts_like_sklearn(own_triton: TritonServer) -> None:
    data, y = frame()
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "income"]),
                        ("cat", OneHotEncoder(), ["plan"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(data, y)
    client = TritonClient(own_triton.grpc_url, timeout_s=30)
    try:
        seams = Seams(own_triton, client)
        await seams.deploy(model, "adapters-plans", 1, features=FEATURES)
        sample = data.iloc[:20]
        out = await seams.predict_records("adapters-plans", 1, records(sample, FEATURES))
    finally:
        await client.close()
    assert [o["prediction"] for o in out] == model.predict(sample).tolist()
    probs = np.array([[o["probabilities"]["0"], o["probabilities"]["1"]] for o in out])
    np.testing.assert_allclose(probs, model.predict_proba(sample), atol=1e-4)
