"""PyTorch models of ``benchmarks/conversion_zoo.py``: token classifiers of three shapes
and a tabular network, trained briefly and written as the files ``mlserve load`` takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlserve.converters.fidelity_torch import _token_spec, _vocabulary
from mlserve.converters.pytorch_file import spec_path_for


class MaxPoolBag(nn.Module):
    """Embeddings, masked max over positions, two layers."""

    def __init__(self, vocab: int, n_labels: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, 24)
        self.hidden = nn.Linear(24, 24)
        self.out = nn.Linear(24, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embedding(input_ids)
        x = x.masked_fill(attention_mask.unsqueeze(-1) == 0, -1e4).max(1).values
        logits: torch.Tensor = self.out(torch.relu(self.hidden(x)))
        return logits


class GRUClassifier(nn.Module):
    """A GRU over embeddings, masked mean of its outputs (causal: padding after a text
    changes none of its outputs)."""

    def __init__(self, vocab: int, n_labels: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, 16)
        self.gru = nn.GRU(16, 16, batch_first=True)
        self.out = nn.Linear(16, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.embedding(input_ids))
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        logits: torch.Tensor = self.out(pooled)
        return logits


class ConvClassifier(nn.Module):
    """Conv1d over masked embeddings (pads read as zeros, like the conv's own padding),
    masked max pooling."""

    def __init__(self, vocab: int, n_labels: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, 16)
        self.conv = nn.Conv1d(16, 16, kernel_size=3, padding=1)
        self.out = nn.Linear(16, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        x = (self.embedding(input_ids) * mask).transpose(1, 2)
        x = torch.relu(self.conv(x)).transpose(1, 2)
        x = x.masked_fill(mask == 0, -1e4).max(1).values
        logits: torch.Tensor = self.out(x)
        return logits


class TabularNet(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor, n_labels: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = nn.Sequential(nn.Linear(len(mean), 32), nn.Tanh(), nn.Linear(32, n_labels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net((features - self.mean) / self.std)
        return logits


def _fit(model: nn.Module, inputs: list[torch.Tensor], target: torch.Tensor, steps: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(*inputs), target)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    model.eval()


def write_token_model(
    folder: Path, kind: str, texts: list[str], labels: list[Any]
) -> tuple[Path, nn.Module]:
    """Train a ``kind`` (embeddingbag, gru, conv) token model; TorchScript for all but
    ``gru``, which is saved with ``torch.save`` (a pickled module)."""
    from mlserve.preprocessing.config import TokenizerConfig
    from mlserve.preprocessing.tokenization import build_tokenizer

    vocabulary = _vocabulary(texts, size=200)
    names = sorted({str(label) for label in labels})
    tokenizer = build_tokenizer(
        TokenizerConfig(kind="word", vocabulary=vocabulary, max_length=32), Path(".")
    )
    encoded = tokenizer.encode(texts)
    ids, mask = torch.from_numpy(encoded.input_ids), torch.from_numpy(encoded.attention_mask)
    target = torch.tensor([names.index(str(label)) for label in labels])
    torch.manual_seed(0)
    classes = {"embeddingbag": MaxPoolBag, "gru": GRUClassifier, "conv": ConvClassifier}
    model = classes[kind](len(vocabulary) + 2, len(names))
    _fit(model, [ids, mask], target, steps=60)
    path = folder / (f"{kind}.pt" if kind == "gru" else f"{kind}.ts")
    if kind == "gru":
        torch.save(model, path)
    else:
        torch.jit.save(torch.jit.script(model), path)
    spec = _token_spec(vocabulary)
    spec["labels"] = names
    spec_path_for(path).write_text(json.dumps(spec))
    return path, model


def write_tabular_model(folder: Path, frame: Any, classes: Any) -> tuple[Path, nn.Module]:
    """A standardizing network on ``frame``'s columns, TorchScript, with features named."""
    x = torch.tensor(frame.to_numpy(), dtype=torch.float32)
    target = torch.tensor(classes)
    n_labels = int(target.max()) + 1
    torch.manual_seed(0)
    model = TabularNet(x.mean(0), x.std(0), n_labels)
    _fit(model, [x], target, steps=200)
    path = folder / "tabular.ts"
    torch.jit.save(torch.jit.script(model), path)
    spec = {
        "inputs": [{"name": "features", "data_type": "FP32", "dims": [len(frame.columns)]}],
        "labels": [str(i) for i in range(n_labels)],
        "output_kind": "logits",
        "features": list(frame.columns),
    }
    spec_path_for(path).write_text(json.dumps(spec))
    return path, model
