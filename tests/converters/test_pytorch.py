"""PyTorch classifiers -> ONNX from each input form, with parity and mismatch errors."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
import torch

from mlserve.converters.pytorch import (
    InputDeclaration,
    PickledModuleFile,
    PyTorchFileSpec,
    StateDictFile,
    TorchScriptFile,
    export_pytorch,
    export_pytorch_file,
    load_pytorch_module,
    looks_like_pytorch_file,
    spec_path_for,
)
from mlserve.errors import ConversionError, ParityError
from mlserve.preprocessing.config import PreprocessingConfig, TokenizerConfig
from mlserve.preprocessing.tokenization import HuggingFaceTokenizer, build_tokenizer
from mlserve.repository.store import ModelRepository
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


@pytest.fixture(scope="module")
def user_package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("user_package")
    (folder / "user_models.py").write_text(textwrap.dedent(USER_PACKAGE))
    sys.path.insert(0, str(folder))
    import user_models

    yield user_models
    sys.path.remove(str(folder))
    sys.modules.pop("user_models", None)


@pytest.fixture(scope="module")
def model_files(user_package: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One trained-looking BagOfWords saved in all three forms."""
    folder = tmp_path_factory.mktemp("model_files")
    model = user_package.build().eval()
    torch.jit.save(torch.jit.script(model), folder / "model.ts")
    torch.save(model.state_dict(), folder / "weights.pt")
    torch.save(model, folder / "module.pt")
    return {
        "native": model,
        "torchscript": TorchScriptFile(folder / "model.ts"),
        "state_dict": StateDictFile(folder / "weights.pt", factory="user_models:build"),
        "pickled": PickledModuleFile(folder / "module.pt"),
    }


def word_preprocessing() -> PreprocessingConfig:
    return PreprocessingConfig(
        tokenizer=TokenizerConfig(kind="word", vocabulary=VOCABULARY, max_length=8)
    )


def token_samples() -> dict[str, npt.NDArray[np.int64]]:
    encoded = build_tokenizer(word_preprocessing().tokenizer, Path(".")).encode(TEXTS)
    return encoded.tensors()


@pytest.mark.parametrize("form", ["torchscript", "state_dict", "pickled"])
def test_each_input_form_exports_with_parity(form: str, model_files: dict[str, Any]) -> None:
    exported = export_pytorch(
        model_files[form],
        input_spec=TOKEN_SPEC,
        labels=LABELS,
        sample_inputs=token_samples(),
        output_kind="logits",
        preprocessing=word_preprocessing(),
    )

    assert exported.parity.passed, exported.parity.summary()
    assert exported.parity.n_samples == 2 * len(TEXTS)  # as given, and padded longer
    assert exported.framework == "pytorch"
    assert exported.input_kind == "tokens"
    assert exported.labels == LABELS
    assert [o.name for o in exported.outputs] == ["probabilities"]
    assert exported.outputs[0].dims == (3,)
    assert exported.preprocessing["tokenizer"]["kind"] == "word"

    # The ONNX graph gives what the native module gives, softmaxed, at any batch/length.
    session = ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    batch = build_tokenizer(word_preprocessing().tokenizer, Path(".")).encode(
        ["great movie", "awful awful bad", "the movie was fine okay good", "x"]
    )
    (served,) = session.run(["probabilities"], batch.tensors())
    with torch.no_grad():
        logits = model_files["native"](
            torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask)
        )
    np.testing.assert_allclose(served, torch.softmax(logits, -1).numpy(), atol=1e-5)
    np.testing.assert_allclose(served.sum(axis=1), 1.0, atol=1e-5)


def test_graph_declares_dynamic_batch_and_sequence(model_files: dict[str, Any]) -> None:
    exported = export_pytorch(
        model_files["torchscript"],
        input_spec=TOKEN_SPEC,
        labels=LABELS,
        sample_inputs=token_samples(),
        preprocessing=word_preprocessing(),
    )
    graph_inputs = {i.name: i for i in exported.onnx_model.graph.input}
    for name in ("input_ids", "attention_mask"):
        dims = graph_inputs[name].type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "sequence"]


def test_tabular_model_that_emits_probabilities(user_package: Any) -> None:
    features = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    exported = export_pytorch(
        user_package.Tabular().eval(),
        input_spec=[TensorSpec("features", DataType.FP32, (4,))],
        labels=LABELS,
        sample_inputs={"features": features},
        output_kind="probabilities",
        features=["a", "b", "c", "d"],
    )
    assert exported.parity.passed
    assert exported.input_kind == "tabular"
    assert exported.features == ["a", "b", "c", "d"]


def test_probabilities_declared_for_a_logits_model_is_refused(model_files: dict[str, Any]) -> None:
    with pytest.raises(ConversionError, match="output_kind='logits'"):
        export_pytorch(
            model_files["native"],
            input_spec=TOKEN_SPEC,
            labels=LABELS,
            sample_inputs=token_samples(),
            output_kind="probabilities",
            preprocessing=word_preprocessing(),
        )


def test_forward_missing_a_declared_input_is_refused_and_nothing_published(
    user_package: Any, tmp_path: Path
) -> None:
    repository = ModelRepository(tmp_path / "models")

    def export_and_publish() -> None:
        exported = export_pytorch(
            user_package.IdsOnly(),
            input_spec=TOKEN_SPEC,
            labels=LABELS,
            sample_inputs=token_samples(),
            preprocessing=word_preprocessing(),
        )
        repository.publish_version(exported, "bag")

    with pytest.raises(ConversionError, match=r"\['attention_mask'\].*forward\(input_ids\)"):
        export_and_publish()
    assert repository.model_names() == []


def test_forward_requiring_an_undeclared_input_is_refused(model_files: dict[str, Any]) -> None:
    with pytest.raises(ConversionError, match=r"requires \['attention_mask'\]"):
        export_pytorch(
            model_files["torchscript"],
            input_spec=TOKEN_SPEC[:1],
            labels=LABELS,
            sample_inputs={"input_ids": token_samples()["input_ids"]},
            preprocessing=word_preprocessing(),
        )


def test_output_width_not_matching_labels_is_refused(model_files: dict[str, Any]) -> None:
    with pytest.raises(ConversionError, match=r"shape \[6, 3\] but 2 labels"):
        export_pytorch(
            model_files["state_dict"],
            input_spec=TOKEN_SPEC,
            labels=["negative", "positive"],
            sample_inputs=token_samples(),
            preprocessing=word_preprocessing(),
        )


def test_tuple_output_is_refused(user_package: Any) -> None:
    with pytest.raises(ConversionError, match="returned a tuple"):
        export_pytorch(
            user_package.TwoOutputs(),
            input_spec=TOKEN_SPEC,
            labels=LABELS,
            sample_inputs=token_samples(),
            preprocessing=word_preprocessing(),
        )


def test_sample_dtype_not_matching_spec_is_refused(model_files: dict[str, Any]) -> None:
    samples = token_samples()
    samples["input_ids"] = samples["input_ids"].astype(np.int32)
    with pytest.raises(ConversionError, match="'input_ids' is int32 but the spec declares INT64"):
        export_pytorch(
            model_files["native"],
            input_spec=TOKEN_SPEC,
            labels=LABELS,
            sample_inputs=samples,
            preprocessing=word_preprocessing(),
        )


def test_token_model_without_tokenizer_is_refused(model_files: dict[str, Any]) -> None:
    with pytest.raises(ConversionError, match="needs its tokenizer"):
        export_pytorch(
            model_files["native"],
            input_spec=TOKEN_SPEC,
            labels=LABELS,
            sample_inputs=token_samples(),
        )


def test_state_dict_for_another_architecture_is_refused(
    model_files: dict[str, Any], tmp_path: Path
) -> None:
    torch.save({"other.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ConversionError, match=r"missing \['embedding.weight'"):
        load_pytorch_module(StateDictFile(tmp_path / "other.pt", factory="user_models:build"))


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("user_models", "not of the form"),
        ("no_such_package.models:build", "cannot import factory"),
        ("user_models:missing", "cannot import factory"),
    ],
)
def test_bad_factory_reference_is_refused(
    factory: str, message: str, model_files: dict[str, Any]
) -> None:
    with pytest.raises(ConversionError, match=message):
        load_pytorch_module(StateDictFile(model_files["state_dict"].path, factory=factory))


def test_file_of_the_wrong_form_is_refused(model_files: dict[str, Any]) -> None:
    with pytest.raises(ConversionError, match="not a TorchScript archive"):
        load_pytorch_module(TorchScriptFile(model_files["pickled"].path))
    with pytest.raises(ConversionError, match="does not exist"):
        load_pytorch_module(PickledModuleFile(Path("/nonexistent/model.pt")))


def test_failed_parity_is_reported_and_publish_refuses(
    model_files: dict[str, Any], tmp_path: Path
) -> None:
    """A module whose traced graph differs from its eager behaviour fails parity."""

    class BatchDependent(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            logits: torch.Tensor = self.inner(input_ids, attention_mask)
            # Python control flow on a shape: the trace bakes in the traced batch of 2.
            return logits * 3.0 if input_ids.shape[0] == 2 else logits

    exported = export_pytorch(
        BatchDependent(model_files["native"]),
        input_spec=TOKEN_SPEC,
        labels=LABELS,
        sample_inputs=token_samples(),
        preprocessing=word_preprocessing(),
    )
    assert not exported.parity.passed
    assert exported.parity.mismatches
    with pytest.raises(ParityError):
        ModelRepository(tmp_path / "models").publish_version(exported, "bag")


def test_export_is_deterministic(model_files: dict[str, Any]) -> None:
    def export() -> bytes:
        exported = export_pytorch(
            model_files["state_dict"],
            input_spec=TOKEN_SPEC,
            labels=LABELS,
            sample_inputs=token_samples(),
            preprocessing=word_preprocessing(),
        )
        return bytes(exported.onnx_model.SerializeToString())

    assert export() == export()


# -- files on disk, declared by a spec sidecar (what `mlserve load` exports) -------------

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
    torch.save(user_package.Tabular().eval(), model_file)
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

    rows = [[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0], [-1.0, 0.5, 0.0, 2.0]]
    given = export_pytorch_file(
        model_file, spec.model_copy(update={"sample_inputs": {"features": rows}})
    )
    assert given.parity.n_samples == 3

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
