"""PyTorch classifiers -> ONNX from each input form, with parity and mismatch errors
(files declared by a spec sidecar: test_pytorch_file.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
import torch

from mlserve.converters.pytorch import (
    PickledModuleFile,
    StateDictFile,
    TorchScriptFile,
    export_pytorch,
    load_pytorch_module,
)
from mlserve.errors import ConversionError, ParityError
from mlserve.preprocessing.config import PreprocessingConfig, TokenizerConfig
from mlserve.preprocessing.tokenization import build_tokenizer
from mlserve.repository.store import ModelRepository
from mlserve.triton.model_config import DataType, TensorSpec
from tests.support.pytorch_models import LABELS, TEXTS, TOKEN_SPEC, VOCABULARY


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
