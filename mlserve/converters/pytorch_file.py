"""A PyTorch file on disk, declared by a JSON sidecar, exported to ONNX (``mlserve load``).

A PyTorch file cannot say what its inputs are called, their types, its labels or whether it
emits logits; the :class:`PyTorchFileSpec` does, by default from ``<stem>.mlserve.json``
next to the file. :func:`export_pytorch_file` reads both, picks the file's form
(TorchScript, state dict + factory, pickled module), builds sample batches for the checks
(given rows, tokenized texts or generated rows) and hands over to
:func:`mlserve.converters.pytorch.export_pytorch`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlserve.converters.base import ExportedModel
from mlserve.converters.pytorch import (
    PickledModuleFile,
    PyTorchSource,
    StateDictFile,
    TorchScriptFile,
    export_pytorch,
    input_kind,
    load_pytorch_module,
)
from mlserve.converters.torch_export import NUMPY_DTYPES, OutputKind
from mlserve.errors import ConversionError
from mlserve.preprocessing.config import PreprocessingConfig
from mlserve.triton.model_config import DataType, TensorSpec

SPEC_SUFFIX = ".mlserve.json"
"""``model.pt`` is declared by ``model.mlserve.json`` beside it."""
PYTORCH_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript")
_TOKENIZER_DIR = "tokenizer"
_GENERATED_ROWS = 8


class InputDeclaration(BaseModel):
    """One model input: forward's parameter name, its type, dims after the batch dim."""

    model_config = ConfigDict(extra="forbid")

    name: str
    data_type: Literal["FP32", "FP64", "INT32", "INT64", "BOOL"]
    dims: list[int] = Field(min_length=1)

    def tensor_spec(self) -> TensorSpec:
        return TensorSpec(self.name, DataType[self.data_type], tuple(self.dims))


class PyTorchFileSpec(BaseModel):
    """What a PyTorch file cannot say about itself; the ``<stem>.mlserve.json`` sidecar.

    Example for a token classifier with a word tokenizer::

        {"inputs": [{"name": "input_ids", "data_type": "INT64", "dims": [-1]},
                    {"name": "attention_mask", "data_type": "INT64", "dims": [-1]}],
         "labels": ["negative", "positive"], "output_kind": "logits",
         "preprocessing": {"tokenizer": {"kind": "word", "vocabulary": ["good", "bad"]}}}

    A ``huggingface`` tokenizer's ``path`` is relative to the spec file's folder; the
    folder is shipped with the version. Tabular models may give ``sample_inputs`` (one
    list of rows per input); without them rows are drawn from a standard normal.
    """

    model_config = ConfigDict(extra="forbid")

    form: Literal["auto", "torchscript", "state_dict", "pickled"] = "auto"
    """``auto``: TorchScript if the file is one, else a state dict when ``factory`` is set,
    else a pickled module (which executes code from the file when loaded)."""
    factory: str | None = None
    factory_kwargs: dict[str, Any] = Field(default_factory=dict)
    inputs: list[InputDeclaration] = Field(min_length=1)
    labels: list[str] = Field(min_length=2)
    output_kind: OutputKind = "logits"
    preprocessing: PreprocessingConfig | None = None
    features: list[str] = Field(default_factory=list)
    sample_inputs: dict[str, list[Any]] | None = None


def spec_path_for(path: Path) -> Path:
    """The sidecar that declares ``path``: ``model.pt`` -> ``model.mlserve.json``."""
    return path.with_name(path.stem + SPEC_SUFFIX)


def looks_like_pytorch_file(path: Path) -> bool:
    """True for a file with a PyTorch suffix or a spec sidecar (how ``load`` dispatches)."""
    return path.is_file() and (
        path.suffix.lower() in PYTORCH_SUFFIXES or spec_path_for(path).is_file()
    )


def read_file_spec(path: Path) -> PyTorchFileSpec:
    """Parse a spec JSON file; :class:`ConversionError` names the invalid fields."""
    if not path.is_file():
        raise ConversionError(
            f"no spec file {path}: a PyTorch file needs a declaration of its inputs and "
            'labels (see PyTorchFileSpec), e.g. {"inputs": [{"name": "input_ids", '
            '"data_type": "INT64", "dims": [-1]}], "labels": ["neg", "pos"], ...}'
        )
    try:
        return PyTorchFileSpec.model_validate_json(path.read_text())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise ConversionError(f"invalid spec {path}: {problems}") from None


def export_pytorch_file(
    path: Path,
    spec: PyTorchFileSpec | Path | None = None,
    *,
    sample_texts: Sequence[str] | None = None,
    background: Sequence[Mapping[str, Any]] | None = None,
) -> ExportedModel:
    """Export a PyTorch file (TorchScript, state dict + factory, or pickled module).

    ``spec`` is a :class:`PyTorchFileSpec` or its JSON file, by default the sidecar
    :func:`spec_path_for`. Token models are checked on ``sample_texts`` (or built-in
    texts) tokenized per the spec's preprocessing; tabular models on ``background``
    records (``mlserve load --background``; they are also the drift reference), else the
    spec's ``sample_inputs``, else generated rows. Raises :class:`ConversionError` when
    the file, the spec, or forward's signature/outputs do not match the declaration; a
    failed parity check is returned in ``parity`` (publishing refuses it).
    """
    spec_file = spec if isinstance(spec, Path) else spec_path_for(path)
    declared = spec if isinstance(spec, PyTorchFileSpec) else read_file_spec(spec_file)
    source = _source(path, declared)
    module = load_pytorch_module(source)
    input_spec = [d.tensor_spec() for d in declared.inputs]
    preprocessing, extra_files = _ship_tokenizer(declared.preprocessing, spec_file.parent)
    samples = _file_samples(declared, input_spec, preprocessing, extra_files, sample_texts)
    tokens = input_kind(input_spec) == "tokens"
    kept: list[Any] | None = list(sample_texts) if sample_texts and tokens else None
    if not tokens:
        _check_tabular_declaration(declared)
        if background:
            samples = {declared.inputs[0].name: _background_rows(background, declared.features)}
            kept = list(background)
    exported = export_pytorch(
        module,
        input_spec=input_spec,
        labels=declared.labels,
        sample_inputs=samples,
        output_kind=declared.output_kind,
        preprocessing=preprocessing,
        features=declared.features,
        extra_files=extra_files,
        training={"source": str(path), "form": type(source).__name__},
        reference_data=kept,
    )
    return exported if tokens else _served_as_tabular(exported, declared)


def _background_rows(
    background: Sequence[Mapping[str, Any]], features: Sequence[str]
) -> npt.NDArray[Any]:
    """The ``--background`` records as the model's FP32 input rows, in feature order."""
    rows = []
    for i, record in enumerate(background):
        missing = [f for f in features if f not in record]
        if missing:
            raise ConversionError(
                f"background row {i} lacks feature(s) {missing}: every row needs the "
                f"spec's features {list(features)}"
            )
        try:
            rows.append([float(record[f]) for f in features])
        except (TypeError, ValueError):
            raise ConversionError(
                f"background row {i} has a value that is not a number: a tabular PyTorch "
                f"model takes numbers for {list(features)}"
            ) from None
    return np.asarray(rows, dtype=np.float32)


def _check_tabular_declaration(declared: PyTorchFileSpec) -> None:
    """A tabular file is served like other tabular models: one FP32 ``[n]`` input whose
    ``n`` columns ``features`` names."""
    inputs = declared.inputs
    width = inputs[0].dims[0] if len(inputs) == 1 and len(inputs[0].dims) == 1 else None
    if (
        len(inputs) != 1
        or inputs[0].data_type != "FP32"
        or width is None
        or len(declared.features) != width
    ):
        raise ConversionError(
            "a tabular PyTorch file is served from feature records: declare one FP32 input "
            "with dims [n] and `features` naming its n columns in order"
        )


def _served_as_tabular(exported: ExportedModel, declared: PyTorchFileSpec) -> ExportedModel:
    """Rename the input to the tabular ``input`` tensor and store the feature spec, so the
    control plane builds the tensor from records as for any tabular model."""
    from mlserve.converters.tabular.onnx_graph import widen_numeric_input
    from mlserve.converters.tabular.spec import NUMERIC_INPUT, TabularFeature, TabularSpec

    spec = TabularSpec(
        features=tuple(TabularFeature(f, "numeric") for f in declared.features),
        numeric_dtype="float64",
    )
    assert exported.onnx_model is not None  # a PyTorch export always has its graph
    graph = exported.onnx_model.graph
    old = declared.inputs[0].name
    for graph_input in graph.input:
        if graph_input.name == old:
            graph_input.name = NUMERIC_INPUT
    for node in graph.node:
        node.input[:] = [NUMERIC_INPUT if i == old else i for i in node.input]
    widen_numeric_input(exported.onnx_model)
    exported.inputs = spec.input_specs()
    exported.preprocessing = spec.to_dict()
    exported.input_kind = "tabular"
    exported.features = spec.names
    return exported


def _source(path: Path, spec: PyTorchFileSpec) -> PyTorchSource:
    form = spec.form
    if form == "auto":
        form = (
            "torchscript" if _is_torchscript(path) else "state_dict" if spec.factory else "pickled"
        )
    if form == "torchscript":
        return TorchScriptFile(path)
    if form == "pickled":
        return PickledModuleFile(path)
    if not spec.factory:
        raise ConversionError(
            f"{path} is declared a state dict but the spec names no factory: set factory "
            "to 'package.module:callable' that builds the empty module"
        )
    return StateDictFile(path, spec.factory, dict(spec.factory_kwargs))


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips with ``constants.pkl`` and a ``code/`` folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _ship_tokenizer(
    config: PreprocessingConfig | None, spec_dir: Path
) -> tuple[PreprocessingConfig | None, dict[str, Path]]:
    """Point a Hugging Face tokenizer at the version's ``tokenizer/`` and ship its folder."""
    if config is None or config.tokenizer.kind != "huggingface":
        return config, {}
    if not config.tokenizer.path:
        raise ConversionError(
            "preprocessing.tokenizer.path is required for kind 'huggingface': the "
            "tokenizer folder, relative to the spec file"
        )
    folder = (spec_dir / config.tokenizer.path).resolve()
    tokenizer = config.tokenizer.model_copy(update={"path": _TOKENIZER_DIR})
    return config.model_copy(update={"tokenizer": tokenizer}), {_TOKENIZER_DIR: folder}


def _file_samples(
    spec: PyTorchFileSpec,
    input_spec: Sequence[TensorSpec],
    preprocessing: PreprocessingConfig | None,
    extra_files: Mapping[str, Path],
    sample_texts: Sequence[str] | None,
) -> dict[str, npt.NDArray[Any]]:
    """Sample batches for the checks: given rows, tokenized texts, or generated rows."""
    if spec.sample_inputs is not None:
        given: dict[str, npt.NDArray[Any]] = {}
        for name, rows in spec.sample_inputs.items():
            declared = next((s for s in input_spec if s.name == name), None)
            try:
                given[name] = np.asarray(
                    rows, dtype=NUMPY_DTYPES.get(declared.data_type) if declared else None
                )
            except (TypeError, ValueError) as exc:
                raise ConversionError(
                    f"sample_inputs.{name} is not a rectangular batch: {exc}"
                ) from None
        return given
    if input_kind(input_spec) == "tokens" and preprocessing is not None:
        from mlserve.converters.transformer import DEFAULT_PARITY_TEXTS
        from mlserve.preprocessing.cleaning import clean_text
        from mlserve.preprocessing.tokenization import build_tokenizer

        config = preprocessing.tokenizer
        if _TOKENIZER_DIR in extra_files:  # the source folder, before it is shipped
            config = config.model_copy(update={"path": str(extra_files[_TOKENIZER_DIR])})
        texts = sample_texts or DEFAULT_PARITY_TEXTS
        cleaned = [clean_text(t, preprocessing.cleaning) for t in texts]
        encoded = build_tokenizer(config, Path(".")).encode(cleaned).tensors()
        return {s.name: encoded[s.name] for s in input_spec if s.name in encoded}
    rng = np.random.default_rng(0)
    arrays = {}
    for s in input_spec:
        if s.data_type not in (DataType.FP32, DataType.FP64) or -1 in s.dims:
            raise ConversionError(
                f"input {s.name!r} ({s.data_type.wire_name} {list(s.dims)}) needs sample "
                "rows: add sample_inputs to the spec (at least 3 rows per input)"
            )
        shape = (_GENERATED_ROWS, *s.dims)
        arrays[s.name] = rng.standard_normal(shape).astype(NUMPY_DTYPES[s.data_type])
    return arrays
