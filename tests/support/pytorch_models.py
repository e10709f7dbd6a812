"""PyTorch classifiers the converter tests export: a user's own package, as source text,
and the labels, vocabulary and texts they are checked on."""

from __future__ import annotations

from mlserve.triton.model_config import DataType, TensorSpec

LABELS = ["negative", "neutral", "positive"]
VOCABULARY = ["good", "bad", "fine", "great", "awful", "okay", "the", "movie", "was"]
TOKEN_SPEC = (
    TensorSpec("input_ids", DataType.INT64, (-1,)),
    TensorSpec("attention_mask", DataType.INT64, (-1,)),
)
TEXTS = ["the movie was good", "bad", "great great great", "okay fine", "was it awful", "meh"]

# A user's own package: the state-dict form names its factory, the pickled form its class.
USER_PACKAGE = '''
import torch
from torch import nn


class BagOfWords(nn.Module):
    """Mean of word embeddings over real tokens, then a linear layer: emits logits."""

    def __init__(self, vocab_size: int = 12, dim: int = 8, n_labels: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.out = nn.Linear(dim, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.out(pooled)


class IdsOnly(nn.Module):
    """Takes only input_ids: a mismatch for a spec that declares attention_mask too."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(12, 3)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(input_ids).mean(1)


class TwoOutputs(BagOfWords):
    def forward(self, input_ids, attention_mask):
        logits = super().forward(input_ids, attention_mask)
        return logits, logits


class Tabular(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Softmax(-1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


def build(**kwargs):
    torch.manual_seed(0)
    return BagOfWords(**kwargs)
'''
