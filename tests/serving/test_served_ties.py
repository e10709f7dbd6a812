"""On a tie the server answers what scikit-learn's ``predict`` answers: the first class in
``classes_`` order (real Triton, real control plane)."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
from mlserve_sdk.client import MLServeClient
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from mlserve.converters.loading import export_native_model
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack

UNKNOWN_WORDS = "zzz qqq"


async def test_a_text_with_no_known_word_ties_and_answers_the_first_class(
    stack: Stack,
) -> None:
    # Balanced classes and no known word: every class has the same probability.
    texts = ["good great fine", "bad awful poor", "meh okay average"] * 10
    labels = ["zeta", "alpha", "mu"] * 10
    pipeline = Pipeline([("v", CountVectorizer()), ("nb", MultinomialNB())]).fit(texts, labels)
    native = pipeline.predict_proba([UNKNOWN_WORDS])[0]
    assert np.all(native == native[0])
    exported = export_native_model(pipeline, name="ties-text")
    assert exported.parity.passed, exported.parity.summary()
    triton = TritonClient(stack.triton.grpc_url)
    await Publisher(stack.repository, triton).publish(exported, "ties-text")
    await triton.close()

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        response = await http.post(
            "/predict", json={"text": UNKNOWN_WORDS, "model_version": "ties-text"}
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == pipeline.predict([UNKNOWN_WORDS])[0] == "alpha"
    assert len(set(body["probabilities"].values())) == 1


def test_a_tabular_leaf_with_equal_counts_answers_the_first_class(stack: Stack) -> None:
    frame = pd.DataFrame({"x": [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]})
    y = np.array(["a", "b", "a", "b", "b", "b", "b", "b"])  # x < 1.5: one a per b
    tree = DecisionTreeClassifier(max_depth=1, random_state=0).fit(frame, y)
    assert tree.predict_proba(frame.iloc[[0]])[0].tolist() == [0.5, 0.5]
    client = MLServeClient(server_url=stack.base_url)
    client.login(ADMIN_USER, ADMIN_PASSWORD)
    started = client.deploy(
        model=tree,
        name="ties-tabular",
        version="v1",
        features=["x"],
        background_df=frame,
        metrics={},
    )
    final = client.wait_for_deployment(started["deployment_id"], poll_interval=1, timeout=300)
    assert final["status"] == "success", final

    answer = client.predict("ties-tabular", "v1", {"inputs": [{"x": 0.0}]})

    assert answer["predictions"] == tree.predict(frame.iloc[[0]]).tolist() == ["a"]
