"""A PyTorch classifier over feature records, exported through the PyTorch converter.

The module gets the same tensor layout as every tabular export (one FP32 ``input``
``[n_features]``, all features numeric), so the predict path serves it with the same
:func:`records_to_inputs`. A bare module carries no class names: labels are the output
column indices ``"0" .. "n-1"``. Whether it emits probabilities or logits is read off its
outputs on the background rows (rows of non-negative values summing to 1 are
probabilities; anything else gets a softmax).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from mlserve.converters.base import ExportedModel
from mlserve.converters.tabular.export import REFERENCE_ROWS
from mlserve.converters.tabular.parity import PARITY_ROWS
from mlserve.converters.tabular.records import records_to_inputs
from mlserve.converters.tabular.spec import NUMERIC_INPUT, TabularFeature, TabularSpec
from mlserve.errors import ConversionError, InvalidInputError


def export_tabular_torch_module(
    module: Any,
    *,
    features: Sequence[str] | None,
    background: Sequence[Mapping[str, Any]] | None,
) -> ExportedModel:
    """Export an ``nn.Module`` mapping ``[batch, n_features]`` to ``[batch, n_classes]``.

    Needs ``features`` (the input columns, in the order the module reads them) and
    ``background`` rows (the parity check runs on them); raises :class:`ConversionError`
    otherwise, and :class:`InvalidInputError` for background rows that do not match.
    """
    if not features:
        raise ConversionError(
            "a PyTorch module does not know its feature names: pass `features` with its "
            "input columns in the order it reads them"
        )
    if not background:
        raise ConversionError(
            "a PyTorch module needs background_data (a few rows of real inputs) to check "
            "the ONNX export against it"
        )
    try:
        from mlserve.converters.pytorch import export_pytorch
    except ImportError as exc:
        raise ConversionError(f"PyTorch models are not supported on this server ({exc})") from None
    spec = TabularSpec(features=tuple(TabularFeature(str(f), "numeric") for f in features))
    records = list(background)[:REFERENCE_ROWS]
    try:
        inputs = records_to_inputs(records, spec)
    except InvalidInputError as exc:
        raise InvalidInputError(f"background_data: {exc.message}") from None
    samples = {NUMERIC_INPUT: inputs[NUMERIC_INPUT][:PARITY_ROWS]}
    wrapped = _named_input(module)
    scores = _native_scores(wrapped, samples[NUMERIC_INPUT])
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ConversionError(
            f"the PyTorch module returns shape {list(scores.shape)} for {len(scores)} rows; "
            "only classifiers returning [batch, n_classes] scores (n_classes >= 2) are supported"
        )
    is_probability = bool((scores >= 0).all() and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4))
    exported = export_pytorch(
        wrapped,
        input_spec=spec.input_specs(),
        labels=[str(i) for i in range(scores.shape[1])],
        sample_inputs=samples,
        output_kind="probabilities" if is_probability else "logits",
        features=spec.names,
        reference_data=[{n: r.get(n) for n in spec.names} for r in records],
    )
    from mlserve.converters.tabular.onnx_graph import widen_numeric_input

    assert exported.onnx_model is not None  # a PyTorch export always has its graph
    widen_numeric_input(exported.onnx_model)
    spec = replace(spec, numeric_dtype="float64")
    exported.inputs = spec.input_specs()
    exported.preprocessing = spec.to_dict()
    exported.input_kind = "tabular"
    return exported


def _named_input(module: Any) -> Any:
    """Wrap ``module`` so its forward takes one argument named ``input``."""
    import torch

    class TabularModule(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input: Any) -> Any:
            return self.inner(input)

    return TabularModule(module).eval()


def _native_scores(module: Any, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import torch

    try:
        with torch.no_grad():
            result = module(torch.from_numpy(np.ascontiguousarray(rows[:8])))
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ConversionError(
            f"the PyTorch module failed on a [batch, {rows.shape[1]}] float32 input built "
            f"from `features` ({reason}): check the feature list and order"
        ) from exc
    if not isinstance(result, torch.Tensor):
        raise ConversionError(
            f"the PyTorch module returns {type(result).__name__}; it must return one tensor"
        )
    return np.asarray(result.detach().float().numpy(), dtype=np.float64)
