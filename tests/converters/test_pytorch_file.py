"""PyTorch files on disk, declared by a spec sidecar: what ``mlserve load`` exports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from mlserve.converters.pytorch_file import (
    InputDeclaration,
    PyTorchFileSpec,
    export_pytorch_file,
    looks_like_pytorch_file,
    spec_path_for,
)
from mlserve.converters.tabular import TabularSpec, records_to_inputs
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.preprocessing.tokenization import HuggingFaceTokenizer, build_tokenizer
from mlserve.repository.store import ModelRepository
from tests.support.pytorch_models import LABELS, TEXTS, VOCABULARY

WORD_SPEC: dict[str, Any] = {
    "inputs": [
        {"name": "input_ids", "data_type": "INT64", "dims": [-1]},
        {"name": "attention_mask", "data_type": "INT64", "dims": [-1]},
    ],
    "labels": LABELS,
    "output_kind": "logits",
    "preprocessing": {"tokenizer": {"kind": "word", "vocabulary": VOCABULARY, "max_length": 8}},
}


def write_spec(model_file: Path, spec: dict[str, Any]) -> Path:
    sidecar = spec_path_for(model_file)
    sidecar.write_text(json.dumps(spec))
    return sidecar


@pytest.mark.parametrize(
    ("form", "extra"),
    [("model.ts", {}), ("weights.pt", {"factory": "user_models:build"}), ("module.pt", {})],
)
def test_file_with_a_spec_sidecar_exports_in_every_form(
    form: str, extra: dict[str, Any], model_files: dict[str, Any], tmp_path: Path
) -> None:
    model_file = tmp_path / form
    shutil.copy(model_files["torchscript"].path.parent / form, model_file)
    write_spec(model_file, {**WORD_SPEC, **extra})

    assert looks_like_pytorch_file(model_file)
    exported = export_pytorch_file(model_file, sample_texts=TEXTS)

    assert exported.parity.passed, exported.parity.summary()
    assert exported.labels == LABELS
    assert exported.input_kind == "tokens"
    assert exported.preprocessing["tokenizer"]["vocabulary"] == VOCABULARY
    assert exported.reference_data == TEXTS
    expected_form = {"model.ts": "TorchScriptFile", "weights.pt": "StateDictFile"}
    assert exported.training["form"] == expected_form.get(form, "PickledModuleFile")


def test_file_whose_forward_does_not_match_the_spec_is_refused(
    user_package: Any, tmp_path: Path
) -> None:
    model_file = tmp_path / "ids_only.pt"
    torch.jit.save(torch.jit.script(user_package.IdsOnly()), model_file)
    write_spec(model_file, WORD_SPEC)
    with pytest.raises(ConversionError, match=r"\['attention_mask'\].*forward\(input_ids\)"):
        export_pytorch_file(model_file)

    two_outputs = tmp_path / "two_outputs.pt"
    torch.save(user_package.TwoOutputs(), two_outputs)
    write_spec(two_outputs, WORD_SPEC)
    with pytest.raises(ConversionError, match=r"forward returned a tuple; .* \[batch, 3\]"):
        export_pytorch_file(two_outputs)


def test_file_outputs_not_matching_the_declared_labels_are_refused(
    model_files: dict[str, Any], tmp_path: Path
) -> None:
    model_file = tmp_path / "model.ts"
    shutil.copy(model_files["torchscript"].path, model_file)
    spec_file = tmp_path / "elsewhere.json"
    spec_file.write_text(json.dumps({**WORD_SPEC, "labels": ["no", "yes"]}))
    with pytest.raises(ConversionError, match=r"shape \[7, 3\] but 2 labels"):
        export_pytorch_file(model_file, spec_file)


def test_file_without_a_valid_spec_is_refused(model_files: dict[str, Any], tmp_path: Path) -> None:
    model_file = tmp_path / "model.ts"
    shutil.copy(model_files["torchscript"].path, model_file)
    with pytest.raises(ConversionError, match=r"no spec file .*model\.mlserve\.json"):
        export_pytorch_file(model_file)

    write_spec(model_file, {**WORD_SPEC, "labels": ["only-one"], "shape": 3})
    with pytest.raises(ConversionError, match=r"invalid spec .*labels: .*shape: Extra inputs"):
        export_pytorch_file(model_file)

    write_spec(model_file, {**WORD_SPEC, "form": "state_dict"})
    with pytest.raises(ConversionError, match="names no factory"):
        export_pytorch_file(model_file)


def test_tabular_file_is_checked_on_generated_or_given_rows(
    user_package: Any, tmp_path: Path
) -> None:
    model_file = tmp_path / "tabular.pt"
    module = user_package.Tabular().eval()
    torch.save(module, model_file)
    spec = PyTorchFileSpec(
        inputs=[InputDeclaration(name="features", data_type="FP32", dims=[4])],
        labels=LABELS,
        output_kind="probabilities",
        features=["a", "b", "c", "d"],
    )
    generated = export_pytorch_file(model_file, spec)
    assert generated.parity.passed
    assert generated.parity.n_samples == 8
    assert generated.input_kind == "tabular"
    # served like any tabular model: records -> the "input" tensor of the feature spec
    tabular = TabularSpec.from_dict(generated.preprocessing)
    assert tabular.names == ["a", "b", "c", "d"]
    session = ort.InferenceSession(
        generated.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    records = [{"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}]
    (served,) = session.run(None, records_to_inputs(records, tabular))
    with torch.no_grad():
        native = module(torch.tensor([[0.0, 1.0, 2.0, 3.0]]))
    assert np.abs(served - native.numpy()).max() < 1e-5
    unnamed = spec.model_copy(update={"features": []})
    with pytest.raises(ConversionError, match="`features` naming its n columns"):
        export_pytorch_file(model_file, unnamed)

    rows = [[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0], [-1.0, 0.5, 0.0, 2.0]]
    given = export_pytorch_file(
        model_file, spec.model_copy(update={"sample_inputs": {"features": rows}})
    )
    assert given.parity.n_samples == 3
    background = [dict(zip("abcd", row, strict=True)) for row in rows * 4]
    from_background = export_pytorch_file(model_file, spec, background=background)
    assert from_background.parity.passed
    assert from_background.parity.n_samples == 12
    assert from_background.reference_data == background  # drift compares with the user's rows
    with pytest.raises(ConversionError, match=r"background row 1 lacks feature\(s\) \['d'\]"):
        export_pytorch_file(model_file, spec, background=[background[0], {"a": 1, "b": 2, "c": 3}])
    with pytest.raises(ConversionError, match="background row 0 has a value that is not a number"):
        export_pytorch_file(model_file, spec, background=[{**background[0], "a": "x"}])

    ragged = spec.model_copy(update={"sample_inputs": {"features": [[1.0], [1.0, 2.0]]}})
    with pytest.raises(ConversionError, match=r"sample_inputs\.features is not a rectangular"):
        export_pytorch_file(model_file, ragged)
    dynamic = spec.model_copy(
        update={"inputs": [InputDeclaration(name="features", data_type="FP32", dims=[-1])]}
    )
    with pytest.raises(ConversionError, match=r"'features' \(FP32 \[-1\]\) needs sample rows"):
        export_pytorch_file(model_file, dynamic)


def test_hugging_face_tokenizer_beside_the_file_ships_with_the_version(
    user_package: Any, tmp_path: Path
) -> None:
    from mlserve.samples.minilm import minilm_path

    HuggingFaceTokenizer(minilm_path(), max_length=32).hf_tokenizer.save_pretrained(
        str(tmp_path / "my_tokenizer")
    )
    model_file = tmp_path / "weights.pt"
    torch.save(user_package.build(vocab_size=30522).state_dict(), model_file)
    spec = {
        **WORD_SPEC,
        "factory": "user_models:build",
        "factory_kwargs": {"vocab_size": 30522},
        "preprocessing": {
            "cleaning": {"lowercase": True},
            "tokenizer": {"kind": "huggingface", "path": "my_tokenizer", "max_length": 32},
        },
    }
    write_spec(model_file, spec)

    exported = export_pytorch_file(model_file)

    assert exported.parity.passed, exported.parity.summary()
    assert exported.preprocessing["tokenizer"]["path"] == "tokenizer"
    assert exported.extra_files == {"tokenizer": (tmp_path / "my_tokenizer").resolve()}
    repository = ModelRepository(tmp_path / "models")
    metadata = repository.publish_version(exported, "hf-bag")
    version_dir = repository.version_dir("hf-bag", metadata.version)
    config = PreprocessingConfig.from_metadata(metadata.preprocessing)
    encoded = build_tokenizer(config.tokenizer, version_dir).encode(["great screen"])
    assert encoded.input_ids[0, 0] == 101  # [CLS] from the shipped MiniLM tokenizer
