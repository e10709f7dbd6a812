"""Transformer classifiers -> ONNX: MiniLM + head, saved folders in both formats, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
import torch
import transformers

from mlserve.converters.base import ExportedModel
from mlserve.converters.transformer import (
    FORMAT_FILE,
    HEAD_FILE,
    export_sequence_classifier,
    export_transformer_folder,
    save_encoder_classifier,
)
from mlserve.errors import ConversionError
from mlserve.preprocessing.cleaning import clean_text
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.preprocessing.tokenization import HuggingFaceTokenizer, build_tokenizer
from mlserve.samples.minilm import minilm_path
from mlserve.triton.model_config import DataType

LABELS = ["negative", "neutral", "positive"]
TEXTS = [
    "The battery is absolutely wonderful!",
    "Customer support was rude, never again.",
    "The hotel opens at nine.",
    "  Spaces   and\tTABS are normalized  ",
    "hmm",
]


def session_for(exported: ExportedModel) -> ort.InferenceSession:
    return ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def serve(exported: ExportedModel, version_dir: Path, texts: list[str]) -> tuple[Any, list[bool]]:
    """What serving does: clean, tokenize with the shipped tokenizer, run ONNX Runtime."""
    config = PreprocessingConfig.from_metadata(exported.preprocessing)
    tokenizer = build_tokenizer(config.tokenizer, version_dir)
    encoded = tokenizer.encode([clean_text(t, config.cleaning) for t in texts])
    (probabilities,) = session_for(exported).run(["probabilities"], encoded.tensors())
    return probabilities, encoded.truncated


def native_probabilities(module: Any, encoded: Any) -> npt.NDArray[np.float32]:
    with torch.no_grad():
        logits = module(
            torch.from_numpy(encoded.input_ids), torch.from_numpy(encoded.attention_mask)
        )
    probabilities: npt.NDArray[np.float32] = torch.softmax(logits, -1).numpy()
    return probabilities


@pytest.fixture(scope="module")
def minilm_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ExportedModel, Path]:
    """MiniLM with an untrained head, exported once for the module's tests."""
    from mlserve.converters.torch_modules import EncoderClassifier
    from mlserve.preprocessing.embeddings import load_encoder

    torch.manual_seed(0)
    module = EncoderClassifier(load_encoder(minilm_path()), torch.nn.Linear(384, 3)).eval()
    work_dir = tmp_path_factory.mktemp("minilm")
    exported = export_sequence_classifier(
        module, tokenizer_folder=minilm_path(), labels=LABELS, parity_texts=TEXTS, work_dir=work_dir
    )
    return module, exported, work_dir


@pytest.mark.slow
def test_minilm_export_declares_token_inputs_and_probabilities(
    minilm_export: tuple[Any, ExportedModel, Path],
) -> None:
    _, exported, work_dir = minilm_export

    assert exported.parity.passed, exported.parity.summary()
    assert exported.parity.n_samples == 2 * len(TEXTS)  # one batch, then each text alone
    assert exported.framework == "transformers"
    assert exported.input_kind == "tokens"
    assert [(i.name, i.data_type, i.dims) for i in exported.inputs] == [
        ("input_ids", DataType.INT64, (-1,)),
        ("attention_mask", DataType.INT64, (-1,)),
    ]
    assert [(o.name, o.data_type, o.dims) for o in exported.outputs] == [
        ("probabilities", DataType.FP32, (3,))
    ]
    assert exported.preprocessing["tokenizer"] == {
        "kind": "huggingface",
        "path": "tokenizer",
        "max_length": 128,
        "vocabulary": None,
        "padding": "longest",
        "truncation": True,
    }
    assert exported.extra_files == {"tokenizer": work_dir / "tokenizer"}
    assert (work_dir / "tokenizer" / "tokenizer.json").is_file()
    assert not (work_dir / "tokenizer" / "model.safetensors").exists()


@pytest.mark.slow
def test_minilm_served_like_triton_matches_native(
    minilm_export: tuple[Any, ExportedModel, Path],
) -> None:
    module, exported, work_dir = minilm_export
    texts = ["Great screen, love it", "word " * 300, "The food was dreadful."]

    served, truncated = serve(exported, work_dir, texts)

    assert truncated == [False, True, False]
    config = PreprocessingConfig.from_metadata(exported.preprocessing)
    encoded = build_tokenizer(config.tokenizer, work_dir).encode(texts)
    assert encoded.input_ids.shape == (3, 128)
    np.testing.assert_allclose(served, native_probabilities(module, encoded), atol=1e-4)
    assert (served.argmax(1) == native_probabilities(module, encoded).argmax(1)).all()


@pytest.fixture(scope="module")
def tiny_bert_config() -> Any:
    """A 2-layer, 32-wide BERT using MiniLM's vocabulary: exports in about a second."""
    return transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        id2label={0: "spam", 1: "ham"},
        label2id={"spam": 0, "ham": 1},
    )


@pytest.fixture(scope="module")
def hf_folder(tiny_bert_config: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf_classifier")
    torch.manual_seed(1)
    model = transformers.BertForSequenceClassification(tiny_bert_config)
    model.save_pretrained(str(folder))
    HuggingFaceTokenizer(minilm_path(), max_length=128).hf_tokenizer.save_pretrained(str(folder))
    return folder


def test_hugging_face_sequence_classifier_folder_exports(hf_folder: Path, tmp_path: Path) -> None:
    exported = export_transformer_folder(hf_folder, work_dir=tmp_path)

    assert exported.parity.passed, exported.parity.summary()
    assert exported.labels == ["spam", "ham"]
    assert exported.outputs[0].dims == (2,)
    assert exported.training["format"] == "huggingface"

    model: Any = transformers.BertForSequenceClassification.from_pretrained(str(hf_folder))
    model.eval()
    served, _ = serve(exported, tmp_path, TEXTS)
    encoded = HuggingFaceTokenizer(hf_folder, max_length=128).encode(
        [clean_text(t, PreprocessingConfig().cleaning) for t in TEXTS]
    )
    with torch.no_grad():
        logits = model(
            input_ids=torch.from_numpy(encoded.input_ids),
            attention_mask=torch.from_numpy(encoded.attention_mask),
        ).logits
    np.testing.assert_allclose(served, torch.softmax(logits, -1).numpy(), atol=1e-4)


def test_mlserve_encoder_classifier_folder_round_trips(
    tiny_bert_config: Any, tmp_path: Path
) -> None:
    from mlserve.converters.torch_modules import EncoderClassifier

    torch.manual_seed(2)
    encoder: Any = transformers.BertModel(tiny_bert_config)
    module = EncoderClassifier(encoder.eval(), torch.nn.Linear(32, 3), normalize=True).eval()
    folder = save_encoder_classifier(
        module, tmp_path / "saved", tokenizer_folder=minilm_path(), labels=LABELS, max_length=64
    )

    exported = export_transformer_folder(folder, work_dir=tmp_path / "work")

    assert exported.parity.passed, exported.parity.summary()
    assert exported.labels == LABELS
    assert exported.preprocessing["tokenizer"]["max_length"] == 64
    served, truncated = serve(exported, tmp_path / "work", [*TEXTS, "long " * 100])
    assert truncated == [False] * len(TEXTS) + [True]
    encoded = build_tokenizer(
        PreprocessingConfig.from_metadata(exported.preprocessing).tokenizer, tmp_path / "work"
    ).encode([clean_text(t, PreprocessingConfig().cleaning) for t in [*TEXTS, "long " * 100]])
    np.testing.assert_allclose(served, native_probabilities(module, encoded), atol=1e-4)


def test_head_not_matching_labels_is_refused(tiny_bert_config: Any, tmp_path: Path) -> None:
    from mlserve.converters.torch_modules import EncoderClassifier

    module = EncoderClassifier(transformers.BertModel(tiny_bert_config), torch.nn.Linear(32, 3))
    folder = save_encoder_classifier(
        module, tmp_path, tokenizer_folder=minilm_path(), labels=LABELS
    )
    description = json.loads((folder / FORMAT_FILE).read_text())
    description["labels"] = ["a", "b"]
    (folder / FORMAT_FILE).write_text(json.dumps(description))
    with pytest.raises(
        ConversionError, match=r"head weight has shape \[3, 32\]; expected \[2, 32\]"
    ):
        export_transformer_folder(folder)

    (folder / HEAD_FILE).unlink()
    with pytest.raises(ConversionError, match=r"has no head\.safetensors"):
        export_transformer_folder(folder)


def test_folders_that_are_not_sequence_classifiers_are_refused(
    tiny_bert_config: Any, hf_folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConversionError, match="is not a folder"):
        export_transformer_folder(tmp_path / "missing")
    with pytest.raises(ConversionError, match=r"neither an mlserve encoder classifier"):
        export_transformer_folder(tmp_path)

    encoder_only = tmp_path / "encoder_only"
    transformers.BertModel(tiny_bert_config).save_pretrained(str(encoder_only))
    with pytest.raises(ConversionError, match=r"holds a \['BertModel'\]"):
        export_transformer_folder(encoder_only)

    config = json.loads((hf_folder / "config.json").read_text())
    multi_label = tmp_path / "multi_label"
    multi_label.mkdir()
    (multi_label / "config.json").write_text(
        json.dumps({**config, "problem_type": "multi_label_classification"})
    )
    with pytest.raises(ConversionError, match="only single-label classification"):
        export_transformer_folder(multi_label)


def test_classifier_folder_without_tokenizer_is_refused(
    tiny_bert_config: Any, tmp_path: Path
) -> None:
    transformers.BertForSequenceClassification(tiny_bert_config).save_pretrained(str(tmp_path))
    with pytest.raises(ConversionError, match="no Hugging Face tokenizer in"):
        export_transformer_folder(tmp_path)
