"""Sentence embeddings from a Hugging Face encoder: mean pooling over real tokens.

This is how sentence-transformers models such as all-MiniLM-L6-v2 turn token states into
one vector per text, and how mlserve's encoder classifiers feed their heads. Importing
this module is cheap; torch and transformers are imported by the functions that use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mlserve.errors import ConversionError

if TYPE_CHECKING:
    import torch

    from mlserve.preprocessing.tokenization import Tokenizer


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average ``hidden_states [n, length, dim]`` over positions where the mask is 1.

    Padding positions contribute nothing, so a text embeds the same whatever it is padded
    to. Traceable: export to ONNX keeps it as plain arithmetic.
    """
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    summed = (hidden_states * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return summed / counts


def l2_normalize(embeddings: torch.Tensor) -> torch.Tensor:
    """Scale each row to unit length (sentence-transformers' ``Normalize`` step)."""
    norms: torch.Tensor = embeddings.norm(p=2, dim=-1, keepdim=True)
    return embeddings / norms.clamp(min=1e-12)


def load_encoder(folder: Path) -> Any:
    """``AutoModel.from_pretrained(folder)`` offline, in eval mode, on the CPU.

    Uses eager attention: its graph exports to ONNX with dynamic batch and sequence axes.
    """
    if not (folder / "config.json").is_file():
        raise ConversionError(
            f"no Hugging Face model in {folder}: expected config.json and weights there "
            "(save it with model.save_pretrained(folder))"
        )
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(
            str(folder), local_files_only=True, attn_implementation="eager"
        )
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot load the encoder in {folder}: {exc}") from exc
    return model.eval()


def embed_texts(
    encoder: Any,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    *,
    normalize: bool = True,
    batch_size: int = 64,
) -> npt.NDArray[np.float32]:
    """Mean-pooled (optionally L2-normalized) float32 embeddings ``[n_texts, hidden]``.

    ``encoder`` is a Hugging Face encoder (:func:`load_encoder`); texts are tokenized with
    ``tokenizer`` in batches of ``batch_size`` without gradients.
    """
    import torch

    chunks: list[npt.NDArray[np.float32]] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            encoded = tokenizer.encode(texts[start : start + batch_size])
            input_ids = torch.from_numpy(encoded.input_ids)
            attention_mask = torch.from_numpy(encoded.attention_mask)
            states = encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            pooled = mean_pool(states, attention_mask)
            if normalize:
                pooled = l2_normalize(pooled)
            chunks.append(pooled.float().numpy())
    if not chunks:
        return np.zeros((0, int(encoder.config.hidden_size)), dtype=np.float32)
    return np.concatenate(chunks)
