"""Uploaded model files: loading them safely and dispatching to the right converter."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlserve.converters.loading import export_file, export_native_model, load_model_file
from mlserve.converters.tabular import (
    NUMERIC_INPUT,
    PROBABILITIES,
    TabularSpec,
    records_to_inputs,
)
from mlserve.converters.text_parity import vocabulary_texts
from mlserve.errors import (
    ConversionError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
)
from mlserve.samples import sentiment_data
from mlserve.triton.model_config import DataType, TensorSpec

LIMIT = 10_000_000
FEATURES = ["tenure", "spend", "visits", "tickets"]


def frame(n_samples: int = 200) -> tuple[pd.DataFrame, npt.NDArray[Any]]:
    x, y = make_classification(
        n_samples=n_samples, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    return pd.DataFrame(x, columns=FEATURES), y


def records(data: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = data.to_dict(orient="records")
    return rows


def test_joblib_file_gives_back_the_fitted_model(tmp_path: Path) -> None:
    data, y = frame()
    path = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression().fit(data, y), path)
    model = load_model_file(path, max_bytes=LIMIT)
    assert isinstance(model, LogisticRegression)
    assert list(model.feature_names_in_) == FEATURES


def test_plain_pickle_file_loads_too(tmp_path: Path) -> None:
    data, y = frame()
    path = tmp_path / "model.pickle"
    path.write_bytes(pickle.dumps(LogisticRegression().fit(data, y)))
    assert isinstance(load_model_file(path, max_bytes=LIMIT), LogisticRegression)


def test_file_over_the_limit_is_refused_with_the_limit_named(tmp_path: Path) -> None:
    data, y = frame()
    path = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression().fit(data, y), path)
    with pytest.raises(PayloadTooLargeError) as caught:
        load_model_file(path, max_bytes=100)
    assert "above the 0.0 MB limit (100 bytes)" in caught.value.message
    assert caught.value.status_code == 413


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is a csv file\n1,2,3\n", id="text"),
        pytest.param(bytes(range(256)) * 4, id="binary-noise"),
        pytest.param(pickle.dumps(list(range(1000)))[:200], id="truncated-pickle"),
    ],
)
def test_corrupt_file_gives_a_one_line_reason(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(content)
    with pytest.raises(ConversionError) as caught:
        load_model_file(path, max_bytes=LIMIT)
    assert caught.value.message.startswith("model file is not a readable joblib/pickle file")
    assert "joblib.dump(model, path)" in caught.value.message
    assert "\n" not in caught.value.message
    assert "Traceback" not in caught.value.message


def test_truncated_joblib_file_is_corrupt(tmp_path: Path) -> None:
    data, y = frame()
    whole = tmp_path / "whole.pkl"
    joblib.dump(LogisticRegression().fit(data, y), whole)
    path = tmp_path / "model.pkl"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ConversionError, match="not a readable joblib/pickle file"):
        load_model_file(path, max_bytes=LIMIT)


def test_pickle_of_something_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    joblib.dump({"weights": [1.0, 2.0]}, path)
    with pytest.raises(ConversionError, match="holds a dict, not a model"):
        load_model_file(path, max_bytes=LIMIT)


def test_pickle_needing_a_missing_module_names_it(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"cmlserve_no_such_package.models\nFancyModel\n.")
    with pytest.raises(ConversionError, match="needs the Python module 'mlserve_no_such_package"):
        load_model_file(path, max_bytes=LIMIT)


def test_empty_and_absent_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(ConversionError, match="model file is empty"):
        load_model_file(empty, max_bytes=LIMIT)
    with pytest.raises(NotFoundError, match="does not exist"):
        load_model_file(tmp_path / "absent.pkl", max_bytes=LIMIT)


def test_tabular_model_carries_the_deploy_metadata(tmp_path: Path) -> None:
    data, y = frame(n_samples=1200)
    path = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression().fit(data, y), path)
    exported = export_native_model(
        load_model_file(path, max_bytes=LIMIT),
        name="churn",
        features=FEATURES,
        background=records(data),
        metrics={"accuracy": 0.91, "auc": 1},
        task_type="binary_classification",
    )
    assert exported.parity.passed, exported.parity.summary()
    assert exported.input_kind == "tabular"
    assert exported.features == FEATURES
    assert exported.metrics == {"accuracy": 0.91, "auc": 1.0}
    assert exported.extra["task_type"] == "binary_classification"
    assert exported.reference_data is not None
    assert len(exported.reference_data) == 1000
    assert exported.reference_data[0] == records(data)[0]


def test_task_type_that_contradicts_the_model_is_refused() -> None:
    data, y = frame()
    with pytest.raises(ConversionError, match="task_type 'regression' does not match"):
        export_native_model(LogisticRegression().fit(data, y), name="churn", task_type="regression")


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"accuracy": "high"}, "metrics.accuracy is 'high': metric values must be finite"),
        ({"auc": float("nan")}, "metrics.auc is nan"),
        ({"ok": True}, "metrics.ok is True"),
        ([0.9], "metrics must be an object"),
    ],
)
def test_metrics_must_be_numbers(metrics: Any, expected: str) -> None:
    data, y = frame()
    with pytest.raises(InvalidInputError) as caught:
        export_native_model(LogisticRegression().fit(data, y), name="churn", metrics=metrics)
    assert expected in caught.value.message


def test_unsupported_model_is_refused_by_the_dispatcher() -> None:
    data, _ = frame()
    with pytest.raises(ConversionError, match="KMeans is neither a classifier"):
        export_native_model(KMeans(n_clusters=2, n_init=1).fit(data), name="clusters")


def test_text_pipeline_goes_to_the_text_converter() -> None:
    dataset = sentiment_data.generate(300, seed=3)
    pipeline = Pipeline(
        [("tfidf", TfidfVectorizer()), ("model", LogisticRegression(max_iter=300))]
    ).fit(dataset.train_texts, dataset.train_labels)
    samples = dataset.test_texts[:20]
    exported = export_native_model(pipeline, name="sentiment", sample_texts=samples)
    assert exported.input_kind == "text"
    assert exported.parity.passed, exported.parity.summary()
    assert exported.reference_data is not None
    assert len(exported.reference_data) >= len(samples)


def tiny_network(softmax: bool = False) -> Any:
    import torch

    torch.manual_seed(0)
    layers = [torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)]
    if softmax:
        layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers).eval()


def test_torch_module_is_exported_as_a_tabular_classifier(tmp_path: Path) -> None:
    import torch

    data, _ = frame()
    path = tmp_path / "model.pkl"
    joblib.dump(tiny_network(), path)
    module: Any = load_model_file(path, max_bytes=LIMIT)
    exported = export_native_model(module, name="mlp", features=FEATURES, background=records(data))
    assert exported.parity.passed, exported.parity.summary()
    assert exported.framework == "pytorch"
    assert exported.input_kind == "tabular"
    assert exported.inputs == (TensorSpec(NUMERIC_INPUT, DataType.FP64, (4,)),)
    assert exported.outputs == (TensorSpec(PROBABILITIES, DataType.FP32, (3,)),)
    assert exported.labels == ["0", "1", "2"]
    assert exported.extra["output_kind"] == "logits"

    spec = TabularSpec.from_dict(exported.preprocessing)
    inputs = records_to_inputs(records(data[:10]), spec)
    session = ort.InferenceSession(exported.onnx_model.SerializeToString())
    (served,) = session.run([PROBABILITIES], inputs)
    with torch.no_grad():
        native = torch.softmax(
            module(torch.from_numpy(inputs[NUMERIC_INPUT].astype(np.float32))), dim=1
        ).numpy()
    assert np.abs(served - native).max() < 1e-4


def test_torch_module_emitting_probabilities_gets_no_second_softmax() -> None:
    data, _ = frame()
    exported = export_native_model(
        tiny_network(softmax=True), name="mlp", features=FEATURES, background=records(data)
    )
    assert exported.parity.passed, exported.parity.summary()
    assert exported.extra["output_kind"] == "probabilities"


def test_torch_module_needs_features_and_background() -> None:
    data, _ = frame()
    with pytest.raises(ConversionError, match="pass `features`"):
        export_native_model(tiny_network(), name="mlp", background=records(data))
    with pytest.raises(ConversionError, match="needs background_data"):
        export_native_model(tiny_network(), name="mlp", features=FEATURES)


def test_torch_module_with_a_feature_list_of_the_wrong_width_is_explained() -> None:
    data, _ = frame()
    with pytest.raises(ConversionError, match=r"failed on a \[batch, 3\] float32 input"):
        export_native_model(
            tiny_network(),
            name="mlp",
            features=FEATURES[:3],
            background=records(data.drop(columns="tickets")),
        )


def text_pipeline() -> Pipeline:
    dataset = sentiment_data.generate(300, seed=3)
    return Pipeline(
        [("tfidf", TfidfVectorizer()), ("model", LogisticRegression(max_iter=300))]
    ).fit(dataset.train_texts, dataset.train_labels)


def test_export_file_checks_a_text_pipeline_on_its_vocabulary_by_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sentiment.joblib"
    pipeline = text_pipeline()
    joblib.dump(pipeline, path)
    exported = export_file(path, name="sentiment", sample_texts=None, max_bytes=LIMIT)
    assert exported.input_kind == "text"
    assert exported.parity.passed, exported.parity.summary()
    assert exported.parity.n_samples == len(vocabulary_texts(pipeline)) == 600
    assert exported.reference_data is None  # no user texts: no drift reference
    assert exported.extra["parity_data"] == "vocabulary"

    given = ["great product", "awful service", "it arrived on tuesday"]
    chosen = export_file(path, name="sentiment", sample_texts=given, max_bytes=LIMIT)
    assert chosen.parity.n_samples == 3
    assert chosen.reference_data == given


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param("one text", "must be a list of strings", id="bare-string"),
        pytest.param(["  ", ""], "sample texts are empty", id="blank"),
    ],
)
def test_export_file_refuses_unusable_sample_texts(
    tmp_path: Path, texts: Any, expected: str
) -> None:
    path = tmp_path / "sentiment.joblib"
    joblib.dump(text_pipeline(), path)
    with pytest.raises(InvalidInputError, match=expected):
        export_file(path, name="sentiment", sample_texts=texts, max_bytes=LIMIT)


def test_export_file_sends_a_tabular_model_to_the_tabular_converter(tmp_path: Path) -> None:
    data, y = frame()
    path = tmp_path / "churn.pkl"
    joblib.dump(LogisticRegression().fit(data, y), path)
    exported = export_file(path, name="churn", sample_texts=None, max_bytes=LIMIT)
    assert exported.parity.passed, exported.parity.summary()
    assert (exported.input_kind, exported.framework) == ("tabular", "sklearn")
    assert exported.features == FEATURES
    assert exported.extra["parity_data"] == "synthetic"


def test_export_file_exports_a_torchscript_file_declared_by_its_sidecar(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "mlp.pt"
    torch.jit.save(torch.jit.script(tiny_network()), path)
    sidecar = {
        "inputs": [{"name": "input", "data_type": "FP32", "dims": [4]}],
        "labels": ["a", "b", "c"],
        "output_kind": "logits",
        "features": FEATURES,
    }
    (tmp_path / "mlp.mlserve.json").write_text(json.dumps(sidecar))
    exported = export_file(path, name="mlp", sample_texts=None, max_bytes=LIMIT)
    assert exported.parity.passed, exported.parity.summary()
    assert (exported.framework, exported.input_kind) == ("pytorch", "tabular")
    assert exported.labels == ["a", "b", "c"]
    assert exported.inputs == (TensorSpec("input", DataType.FP64, (4,)),)

    with pytest.raises(PayloadTooLargeError, match="limit"):
        export_file(path, name="mlp", sample_texts=None, max_bytes=100)
    (tmp_path / "mlp.mlserve.json").unlink()
    with pytest.raises(ConversionError, match="no spec file"):
        export_file(path, name="mlp", sample_texts=None, max_bytes=LIMIT)


def test_export_file_exports_a_transformer_folder(tmp_path: Path) -> None:
    import torch
    import transformers

    from mlserve.preprocessing.tokenization import HuggingFaceTokenizer
    from mlserve.samples.minilm import minilm_path

    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        id2label={0: "spam", 1: "ham"},
        label2id={"spam": 0, "ham": 1},
    )
    torch.manual_seed(0)
    folder = tmp_path / "classifier"
    transformers.BertForSequenceClassification(config).save_pretrained(str(folder))
    HuggingFaceTokenizer(minilm_path(), max_length=64).hf_tokenizer.save_pretrained(str(folder))
    texts = ["free money, click now", "see you at lunch tomorrow"]
    exported = export_file(folder, name="spam", sample_texts=texts, max_bytes=LIMIT)
    assert exported.parity.passed, exported.parity.summary()
    assert (exported.framework, exported.input_kind) == ("transformers", "tokens")
    assert exported.labels == ["spam", "ham"]


def test_export_file_refuses_what_it_cannot_export_with_one_line(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(ConversionError, match="not a readable joblib/pickle file") as caught:
        export_file(csv, name="m", sample_texts=None, max_bytes=LIMIT)
    assert "\n" not in caught.value.message

    onnx_file = tmp_path / "model.onnx"
    onnx_file.write_bytes(b"\x08\x07")
    with pytest.raises(ConversionError, match="has no metadata"):
        export_file(onnx_file, name="m", sample_texts=None, max_bytes=LIMIT)

    with pytest.raises(NotFoundError, match="does not exist"):
        export_file(tmp_path / "absent.pkl", name="m", sample_texts=None, max_bytes=LIMIT)

    big = tmp_path / "big.pkl"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(PayloadTooLargeError, match=r"\(1000 bytes\)"):
        export_file(big, name="m", sample_texts=None, max_bytes=1000)

    empty_folder = tmp_path / "folder"
    empty_folder.mkdir()
    with pytest.raises(ConversionError, match="nor a Hugging Face model folder"):
        export_file(empty_folder, name="m", sample_texts=None, max_bytes=LIMIT)


NUMPY2_RANDOM_STATE = (
    b"\x80\x02cnumpy.random._pickle\n__randomstate_ctor\nX\x07\x00\x00\x00MT19937"
    b"cnumpy.random._mt19937\nMT19937\n\x86R."
)
"""A RandomState stream (crafted: the bit generator's class where its name belongs) that
numpy's constructor rejects, as numpy 1.26 rejected numpy 2's. Whole models pickled under
numpy 1.26 and 2 load: test_numpy_pickles.py."""


def test_a_pickle_from_another_numpy_names_the_version_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "numpy2.pkl"
    path.write_bytes(NUMPY2_RANDOM_STATE)

    with pytest.raises(ConversionError) as caught:
        load_model_file(path, max_bytes=LIMIT)

    message = caught.value.message
    assert message.startswith("model file was pickled with another numpy version")
    assert f"numpy {np.__version__}" in message
    assert "not a readable" not in message


def test_a_scikit_learn_version_warning_names_both_versions() -> None:
    import warnings

    from sklearn.exceptions import InconsistentVersionWarning

    from mlserve.converters.loading import _version_mismatch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name="GradientBoostingClassifier",
                current_sklearn_version="1.9.1",
                original_sklearn_version="1.3.0",
            ),
            stacklevel=1,
        )
    message = _version_mismatch(AttributeError("no attribute '_loss'"), caught)

    assert message is not None
    assert "pickled with scikit-learn 1.3.0" in message
    assert "AttributeError: no attribute '_loss'" in message
