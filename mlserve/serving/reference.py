"""Reference profiles computed at publish time, from the export's validation data.

The profile describes what the served model (the ONNX graph itself, run in-process) does
on data like its training data; the drift monitor compares live traffic with it (for an
anomaly detector, its scores too). A model exported without reference data gets none, and
its drift status says so.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mlserve.converters.base import ExportedModel
from mlserve.monitoring.profile import (
    MIN_REFERENCE_SAMPLES,
    compute_tabular_profile,
    compute_text_profile,
)
from mlserve.preprocessing.config import PreprocessingConfig

log = logging.getLogger(__name__)
MAX_REFERENCE_ROWS = 2000


def reference_profile(exported: ExportedModel) -> dict[str, Any] | None:
    """The profile of ``exported`` on its reference data, or None when there is too little
    of it (or it cannot be computed: publishing never fails because of a profile)."""
    rows = list(exported.reference_data or [])[:MAX_REFERENCE_ROWS]
    if len(rows) < MIN_REFERENCE_SAMPLES:
        return None
    try:
        if exported.input_kind in ("tabular", "custom", "causal", "recommender"):
            # a causal model's requests carry no action: drift compares the features only
            action = exported.extra.get("causal", {}).get("action")
            features = [f for f in exported.features if f != action]
            scores = (
                _anomaly_scores(exported, rows)
                if exported.task == "anomaly-detection" and exported.input_kind == "tabular"
                else None
            )
            return compute_tabular_profile(rows, features, scores=scores)
        probabilities = _text_probabilities(exported, [str(r) for r in rows])
        labels = exported.labels if exported.task == "classification" else []
        if probabilities is None or not labels:
            return None
        return compute_text_profile(
            [str(r) for r in rows], probabilities, labels, exported.vocabulary
        )
    except Exception:
        log.exception("could not compute a reference profile; publishing without one")
        return None


def _anomaly_scores(exported: ExportedModel, rows: list[Any]) -> Any:
    """The served graph's anomaly scores on the reference rows (what live traffic is
    compared with), or None without a graph."""
    import onnxruntime as ort

    from mlserve.converters.tabular.records import records_to_inputs
    from mlserve.converters.tabular.spec import SCORES, TabularSpec

    if exported.onnx_model is None:
        return None
    session = ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    inputs = records_to_inputs(rows, TabularSpec.from_dict(exported.preprocessing))
    wanted = {i.name for i in session.get_inputs()}
    (scores,) = session.run([SCORES], {k: v for k, v in inputs.items() if k in wanted})
    return np.asarray(scores, dtype=np.float64).reshape(-1)


def _text_probabilities(exported: ExportedModel, texts: list[str]) -> Any:
    import onnxruntime as ort

    from mlserve.preprocessing.pipeline import TextPreprocessor

    config = PreprocessingConfig.from_metadata(exported.preprocessing)
    if exported.onnx_model is None:
        return None
    session = ort.InferenceSession(
        exported.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    output = exported.outputs[0].name
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = None
        if exported.input_kind == "tokens":
            from mlserve.preprocessing.tokenization import build_tokenizer

            for rel, source in exported.extra_files.items():
                (Path(folder) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(folder) / rel).symlink_to(source.resolve())
            tokenizer = build_tokenizer(config.tokenizer, Path(folder))
        preprocessor = TextPreprocessor(config, exported.inputs[0].name, tokenizer)
        cleaned = [c or "." for c in (preprocessor.clean_one(t) for t in texts)]
        results = []
        for start in range(0, len(cleaned), 64):
            inputs, _ = preprocessor.inputs_for(cleaned[start : start + 64])
            wanted = {i.name for i in session.get_inputs()}
            (probs,) = session.run([output], {k: v for k, v in inputs.items() if k in wanted})
            results.append(np.asarray(probs))
    return np.concatenate(results)
