"""The sentiment-minilm sample: trained head, held-out accuracy, parity, publishable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.preprocessing.tokenization import build_tokenizer
from mlserve.repository.store import ModelRepository
from mlserve.samples.minilm import SAMPLE_NAME, TrainedMiniLM, train_sentiment_minilm
from mlserve.samples.sentiment_data import LABELS, generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedMiniLM:
    return train_sentiment_minilm(work_dir=tmp_path_factory.mktemp("minilm"))


def test_head_learns_the_sample_sentiment(trained: TrainedMiniLM) -> None:
    exported = trained.exported

    assert exported.metrics["accuracy"] >= 0.9
    assert exported.parity.passed, exported.parity.summary()
    assert exported.extra["truncated_parity_texts"] == 1
    assert exported.labels == list(LABELS)
    assert exported.framework == "transformers"
    assert exported.input_kind == "tokens"
    assert exported.reference_data == generate(600, seed=7).test_texts
    assert exported.training["n_train"] == 480


def test_published_version_serves_what_the_native_module_predicts(
    trained: TrainedMiniLM, tmp_path: Path
) -> None:
    repository = ModelRepository(tmp_path / "models")
    metadata = repository.publish_version(trained.exported, SAMPLE_NAME)
    version_dir = repository.version_dir(SAMPLE_NAME, metadata.version)

    assert (version_dir / "tokenizer" / "tokenizer.json").is_file()
    stored = json.loads((version_dir / "metadata.json").read_text())
    assert stored["preprocessing"]["tokenizer"]["path"] == "tokenizer"
    assert [i["name"] for i in stored["inputs"]] == ["input_ids", "attention_mask"]

    # Fresh sentences, preprocessed from the published version alone, as serving will.
    texts = generate(30, seed=99).test_texts + generate(30, seed=98).train_texts[:10]
    config = PreprocessingConfig.from_metadata(metadata.preprocessing)
    encoded = build_tokenizer(config.tokenizer, version_dir).encode(
        [clean_text(t, config.cleaning) for t in texts]
    )
    session = ort.InferenceSession(
        str(version_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (served,) = session.run(["probabilities"], encoded.tensors())
    with torch.no_grad():
        logits = trained.module(
            torch.from_numpy(encoded.input_ids), torch.from_numpy(encoded.attention_mask)
        )
    native = torch.softmax(logits, -1).numpy()

    assert (served.argmax(1) == native.argmax(1)).all()
    np.testing.assert_allclose(served, native, atol=1e-4)
