"""Hugging Face sequence classifiers -> ONNX, with their tokenizer shipped beside them.

The exported graph takes ``input_ids`` and ``attention_mask`` (INT64, ``[-1]`` after the
batch dim, right-padded with 0) and returns ``probabilities`` (FP32, ``[n_labels]``). The
tokenizer is saved with the version (``extra_files["tokenizer"]``) and the preprocessing
config names it, so serving tokenizes exactly as the parity check did.

Two saved-folder formats load with :func:`export_transformer_folder`:

- **Hugging Face**: an ``AutoModelForSequenceClassification`` folder (``config.json``
  with a ``*ForSequenceClassification`` architecture, weights, tokenizer files). Labels
  come from ``config.id2label``; single-label only (softmax over the logits).
- **mlserve encoder classifier** (written by :func:`save_encoder_classifier`)::

      <folder>/mlserve_classifier.json  {"format": "mlserve.encoder-classifier",
                                          "format_version": 1, "labels": [...],
                                          "normalize": true, "max_length": 128,
                                          "cleaning": {...CleaningConfig...}}
      <folder>/head.safetensors         "weight" [n_labels, hidden], "bias" [n_labels]
      <folder>/encoder/                 a Hugging Face AutoModel folder + tokenizer files

  The head is a linear layer on the mean-pooled (and, with ``normalize``, L2-normalized)
  token states of the encoder: a sentence-transformers embedding plus a classifier.

Everything loads offline (``local_files_only``); torch and transformers are imported by
the functions that need them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlserve.converters.base import ExportedModel
from mlserve.converters.torch_export import PROBABILITIES, export_classifier_module
from mlserve.errors import ConversionError
from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import CleaningConfig, PreprocessingConfig, TokenizerConfig
from mlserve.preprocessing.tokenization import HuggingFaceTokenizer
from mlserve.triton.model_config import DataType, TensorSpec

FORMAT_NAME = "mlserve.encoder-classifier"
FORMAT_FILE = "mlserve_classifier.json"
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"
TOKENIZER_DIR = "tokenizer"
"""Where the tokenizer lives inside a published version folder."""
TOKEN_SPEC = (
    TensorSpec("input_ids", DataType.INT64, (-1,)),
    TensorSpec("attention_mask", DataType.INT64, (-1,)),
)
DEFAULT_PARITY_TEXTS = (
    "I love this, it works really well.",
    "Terrible. It broke after one day and support never answered.",
    "The package arrived on Tuesday.",
    "ok",
    "Not bad at all, though the price could be lower!",
    "Café crème, naïve façade — unicode survives cleaning and tokenization.",
    " ".join(["a long review that keeps going"] * 60),
)
"""Used when a caller gives no parity texts; the last one is longer than any max_length."""


@dataclass
class EncoderClassifierFolder:
    """What :func:`load_encoder_classifier` reads from an mlserve encoder-classifier folder."""

    module: Any
    """An :class:`~mlserve.converters.torch_modules.EncoderClassifier` in eval mode."""
    labels: list[str]
    tokenizer_folder: Path
    max_length: int
    cleaning: CleaningConfig


def export_sequence_classifier(
    module: Any,
    *,
    tokenizer_folder: Path,
    labels: Sequence[str],
    max_length: int = 128,
    padding: str = "longest",
    cleaning: CleaningConfig | None = None,
    parity_texts: Sequence[str] | None = None,
    work_dir: Path | None = None,
    metrics: Mapping[str, float] | None = None,
    training: Mapping[str, Any] | None = None,
    reference_data: list[Any] | None = None,
) -> ExportedModel:
    """Export ``module`` (``forward(input_ids, attention_mask) -> logits``) with its tokenizer.

    The tokenizer of ``tokenizer_folder`` is saved to ``work_dir/tokenizer`` (a new temp
    folder when none is given; it must live until the version is published) and parity
    runs through that saved copy, tokenizing as serving will: the texts cleaned with
    ``cleaning``, all in one batch (padded per ``padding``, cut at ``max_length``) and each
    alone. Raises :class:`ConversionError` if the module or tokenizer does not fit.
    """
    cleaning = cleaning or CleaningConfig()
    tokenizer_config = TokenizerConfig(
        kind="huggingface",
        path=TOKENIZER_DIR,
        max_length=max_length,
        padding="max_length" if padding == "max_length" else "longest",
        truncation=True,
    )
    source = HuggingFaceTokenizer(tokenizer_folder, max_length=max_length, padding=padding)
    work_dir = work_dir or Path(tempfile.mkdtemp(prefix="mlserve-transformer-"))
    saved = work_dir / TOKENIZER_DIR
    source.hf_tokenizer.save_pretrained(str(saved))
    tokenizer = HuggingFaceTokenizer(saved, max_length=max_length, padding=padding)

    texts = [clean_text(t, cleaning) for t in (parity_texts or DEFAULT_PARITY_TEXTS)]
    together = tokenizer.encode(texts)
    if (together.input_ids != source.encode(texts).input_ids).any():
        raise ConversionError(
            f"the tokenizer saved from {tokenizer_folder} tokenizes differently from the "
            "original; save it with tokenizer.save_pretrained() and export from that folder"
        )
    batches = [together.tensors()] + [tokenizer.encode([t]).tensors() for t in texts]
    onnx_model, parity = export_classifier_module(
        module,
        input_spec=TOKEN_SPEC,
        labels=labels,
        sample_batches=batches,
        descriptions=texts + texts,
        output_kind="logits",
    )
    preprocessing = PreprocessingConfig(cleaning=cleaning, tokenizer=tokenizer_config)
    return ExportedModel(
        onnx_model=onnx_model,
        framework="transformers",
        input_kind="tokens",
        inputs=TOKEN_SPEC,
        outputs=(TensorSpec(PROBABILITIES, DataType.FP32, (len(labels),)),),
        parity=parity,
        labels=[str(label) for label in labels],
        preprocessing=preprocessing.model_dump(),
        metrics=dict(metrics or {}),
        training=dict(training or {}),
        extra_files={TOKENIZER_DIR: saved},
        reference_data=reference_data,
        extra={"truncated_parity_texts": sum(together.truncated)},
    )


def export_transformer_folder(
    path: Path,
    *,
    parity_texts: Sequence[str] | None = None,
    max_length: int | None = None,
    work_dir: Path | None = None,
) -> ExportedModel:
    """Export a saved classifier folder in either format (see the module docstring).

    ``max_length`` defaults to the folder's own (mlserve format) or 128, capped at the
    tokenizer's limit. Raises :class:`ConversionError` naming what the folder lacks.
    """
    if not path.is_dir():
        raise ConversionError(f"{path} is not a folder; a transformer model is a saved folder")
    if (path / FORMAT_FILE).is_file():
        loaded = load_encoder_classifier(path)
        return export_sequence_classifier(
            loaded.module,
            tokenizer_folder=loaded.tokenizer_folder,
            labels=loaded.labels,
            max_length=max_length or loaded.max_length,
            cleaning=loaded.cleaning,
            parity_texts=parity_texts,
            work_dir=work_dir,
            training={"source": str(path), "format": FORMAT_NAME},
        )
    module, labels = load_hf_sequence_classifier(path)
    limit = int(getattr(module.model.config, "max_position_embeddings", 512))
    return export_sequence_classifier(
        module,
        tokenizer_folder=path,
        labels=labels,
        max_length=max_length or min(128, limit),
        parity_texts=parity_texts,
        work_dir=work_dir,
        training={"source": str(path), "format": "huggingface"},
    )


def load_hf_sequence_classifier(path: Path) -> tuple[Any, list[str]]:
    """An ``AutoModelForSequenceClassification`` folder as a logits module and its labels."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ConversionError(
            f"{path} is neither an mlserve encoder classifier ({FORMAT_FILE}) nor a Hugging "
            "Face model folder (config.json): save the model with save_pretrained(folder)"
        )
    config = json.loads(config_file.read_text())
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ConversionError(
            f"{path} holds a {architectures or 'model without architectures'}; mlserve "
            "serves sequence classifiers (AutoModelForSequenceClassification) or its own "
            f"encoder-classifier format ({FORMAT_FILE})"
        )
    if config.get("problem_type") in ("multi_label_classification", "regression"):
        raise ConversionError(
            f"{path} is a {config['problem_type']} model; only single-label classification "
            "(softmax over the labels) is supported"
        )
    from transformers import AutoModelForSequenceClassification

    from mlserve.converters.torch_modules import SequenceClassifierLogits

    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(path), local_files_only=True, attn_implementation="eager"
        )
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot load the model in {path}: {exc}") from exc
    id2label = model.config.id2label
    labels = [str(id2label[i]) for i in range(int(model.config.num_labels))]
    if len(labels) < 2:
        raise ConversionError(f"{path} has {len(labels)} label(s); a classifier needs two or more")
    return SequenceClassifierLogits(model.eval()).eval(), labels


def save_encoder_classifier(
    module: Any,
    folder: Path,
    *,
    tokenizer_folder: Path,
    labels: Sequence[str],
    max_length: int = 128,
    cleaning: CleaningConfig | None = None,
) -> Path:
    """Write an :class:`EncoderClassifier` in mlserve's folder format; returns ``folder``."""
    from safetensors.torch import save_file

    from mlserve.preprocessing.tokenization import load_hf_tokenizer

    head = module.head
    if int(head.out_features) != len(labels):
        raise ConversionError(
            f"the head has {head.out_features} outputs but {len(labels)} labels were given"
        )
    folder.mkdir(parents=True, exist_ok=True)
    module.encoder.save_pretrained(str(folder / ENCODER_DIR))
    load_hf_tokenizer(tokenizer_folder).save_pretrained(str(folder / ENCODER_DIR))
    weights = {"weight": head.weight.detach().contiguous(), "bias": head.bias.detach()}
    save_file(weights, str(folder / HEAD_FILE))
    description = {
        "format": FORMAT_NAME,
        "format_version": 1,
        "labels": [str(label) for label in labels],
        "normalize": bool(module.normalize),
        "max_length": max_length,
        "cleaning": (cleaning or CleaningConfig()).model_dump(),
    }
    (folder / FORMAT_FILE).write_text(json.dumps(description, indent=2))
    return folder


def load_encoder_classifier(folder: Path) -> EncoderClassifierFolder:
    """Read mlserve's encoder-classifier format (see the module docstring)."""
    import torch
    from safetensors.torch import load_file

    from mlserve.converters.torch_modules import EncoderClassifier
    from mlserve.preprocessing.embeddings import load_encoder

    description = json.loads((folder / FORMAT_FILE).read_text())
    if description.get("format") != FORMAT_NAME or description.get("format_version") != 1:
        raise ConversionError(
            f"{folder / FORMAT_FILE} is not {FORMAT_NAME} version 1 "
            f"(format {description.get('format')!r}, version "
            f"{description.get('format_version')!r})"
        )
    labels = [str(label) for label in description.get("labels") or []]
    if len(labels) < 2:
        raise ConversionError(f"{folder / FORMAT_FILE} lists {len(labels)} labels; need 2+")
    if not (folder / HEAD_FILE).is_file():
        raise ConversionError(f"{folder} has no {HEAD_FILE} with the head's weight and bias")
    encoder = load_encoder(folder / ENCODER_DIR)
    weights = load_file(str(folder / HEAD_FILE))
    if set(weights) != {"weight", "bias"}:
        raise ConversionError(
            f"{folder / HEAD_FILE} holds {sorted(weights)}; expected 'weight' and 'bias'"
        )
    hidden = int(encoder.config.hidden_size)
    if tuple(weights["weight"].shape) != (len(labels), hidden):
        raise ConversionError(
            f"head weight has shape {list(weights['weight'].shape)}; expected "
            f"[{len(labels)}, {hidden}] for {len(labels)} labels on a {hidden}-wide encoder"
        )
    head = torch.nn.Linear(hidden, len(labels))
    head.load_state_dict(weights)
    module = EncoderClassifier(encoder, head, normalize=bool(description.get("normalize", True)))
    return EncoderClassifierFolder(
        module=module.eval(),
        labels=labels,
        tokenizer_folder=folder / ENCODER_DIR,
        max_length=int(description.get("max_length", 128)),
        cleaning=CleaningConfig.model_validate(description.get("cleaning") or {}),
    )
