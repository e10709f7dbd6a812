"""The ``torch.nn.Module`` wrappers mlserve exports: encoder classifiers.

This module imports torch at import time. Converters import it inside their functions, so
``import mlserve.converters.pytorch`` stays cheap.
"""

from __future__ import annotations

import torch
from torch import nn

from mlserve.preprocessing.embeddings import l2_normalize, mean_pool


class EncoderClassifier(nn.Module):
    """A Hugging Face encoder, mean pooling, optional L2 normalization and a linear head.

    ``forward(input_ids, attention_mask) -> logits [n, n_labels]``. With MiniLM and
    ``normalize=True`` the pooled vector is exactly the all-MiniLM-L6-v2 sentence embedding.
    """

    def __init__(self, encoder: nn.Module, head: nn.Linear, *, normalize: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.normalize = normalize

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The pooled sentence embeddings the head sees."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        pooled = mean_pool(states, attention_mask)
        return l2_normalize(pooled) if self.normalize else pooled

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.embed(input_ids, attention_mask))
        return logits


class SequenceClassifierLogits(nn.Module):
    """Adapts ``AutoModelForSequenceClassification`` (which returns a ModelOutput) to
    ``forward(input_ids, attention_mask) -> logits``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
        return logits
