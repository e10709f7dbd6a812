"""What the server answers for a text model is what scikit-learn answers for the same
string: no serving-side cleaning changes a character n-gram (real Triton and control
plane)."""

from __future__ import annotations

import httpx
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlserve.converters.loading import export_native_model
from mlserve.samples.sentiment_data import generate
from mlserve.serving.publisher import Publisher
from mlserve.triton.client import TritonClient
from tests.conftest import Stack

TEXTS = [
    "  great product, leading and trailing spaces  ",
    "awful\t\tservice\nwith  odd   whitespace",
    "génial café très bon 😀",
    "東京 terrible delivery",
]


async def test_a_character_ngram_model_answers_as_scikit_learn_on_odd_whitespace(
    stack: Stack,
) -> None:
    data = generate(300, seed=4)
    pipeline = Pipeline(
        [
            ("v", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))),
            ("c", LogisticRegression(max_iter=300)),
        ]
    ).fit(data.train_texts, data.train_labels)
    exported = export_native_model(pipeline, name="chars", sample_texts=data.test_texts + TEXTS)
    assert exported.parity.passed, exported.parity.summary()
    assert exported.preprocessing["cleaning"]["normalize_whitespace"] is False
    triton = TritonClient(stack.triton.grpc_url)
    await Publisher(stack.repository, triton).publish(exported, "chars")
    await triton.close()

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        response = await http.post(
            "/batch-predict", json={"texts": TEXTS, "model_version": "chars"}
        )

    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    native = pipeline.predict_proba(TEXTS)
    labels = list(pipeline.classes_)
    served = np.array([[p["probabilities"][label] for label in labels] for p in predictions])
    assert np.abs(served - native).max() < 1e-4
    assert [p["label"] for p in predictions] == list(pipeline.predict(TEXTS))
