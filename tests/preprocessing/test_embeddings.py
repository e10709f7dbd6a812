"""Mean-pooled sentence embeddings: padding-invariant and equal to all-MiniLM-L6-v2's own."""

from __future__ import annotations

import numpy as np
import torch

from mlserve.preprocessing.embeddings import embed_texts, l2_normalize, load_encoder, mean_pool
from mlserve.preprocessing.tokenization import HuggingFaceTokenizer
from mlserve.samples.minilm import minilm_path

TEXTS = ["The battery lasts all day.", "Awful support, never again!", "ok"]


def test_mean_pool_ignores_padding_positions() -> None:
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    pooled = mean_pool(states, torch.tensor([[1, 1, 0]]))
    assert pooled.tolist() == [[2.0, 3.0]]
    unit = l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(unit.numpy(), [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)


def test_embeddings_match_sentence_transformers_and_do_not_depend_on_the_batch() -> None:
    from sentence_transformers import SentenceTransformer

    encoder = load_encoder(minilm_path())
    tokenizer = HuggingFaceTokenizer(minilm_path(), max_length=128)

    together = embed_texts(encoder, tokenizer, TEXTS)
    alone = np.concatenate([embed_texts(encoder, tokenizer, [t]) for t in TEXTS])
    reference = SentenceTransformer(str(minilm_path()), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )

    assert together.shape == (3, 384)
    assert together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(together, reference, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert embed_texts(encoder, tokenizer, []).shape == (0, 384)
