"""Causal models: features in; the outcome under each action, effects, the next best action out.

The estimator was trained as ``y = f(X, A)`` (features and an action column) and exported to
ONNX like any tabular model (:mod:`mlserve.converters.tabular.decisions` declares the
action column, the actions, the baseline and the objective; parity is checked at publish).
A request carries the features only. Each row becomes one row per action in the same
Triton call (``rows x actions`` rows; calls carry at most ``max_batch_size // actions``
request rows), and the answer per row is:

* ``outcomes``: the predicted outcome under each action (a regressor's prediction, or a
  binary classifier's probability of its second class), keyed by the action as text;
* ``effects``: each action's outcome minus the baseline action's (the baseline's is 0);
* ``next_best_action``: the action with the highest outcome (``objective`` ``max``) or the
  lowest (``min``); ties go to the action listed first. It is also the row's ``prediction``.

Items are the row's feature values in the model's order without the action, so caching,
shared calls and drift monitoring work as for tabular models.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlserve.converters.tabular.decisions import CAUSAL, CausalOptions, action_key, options_of
from mlserve.converters.tabular.spec import PREDICTION, PROBABILITIES
from mlserve.errors import InvalidInputError, TritonError
from mlserve.kinds.base import Inputs, ModelKind, RecordInputs, ServedModel
from mlserve.kinds.tabular import ServedTabular, example_record, record_by_name
from mlserve.repository.metadata import ModelMetadata
from mlserve.serving.cache.keys import CachedPrediction


class ServedCausal(ServedModel):
    """A causal version: validates feature rows without the action, asks for every action.

    ``names``, ``numeric``, ``strings`` and ``numeric_datatype`` describe what a request
    carries (the estimator's features less the action), as :class:`ServedTabular`'s do."""

    def __init__(self, metadata: ModelMetadata) -> None:
        options = options_of(metadata.extra, CAUSAL)
        assert isinstance(options, CausalOptions)
        self.metadata = metadata
        self.options = options
        self.full = ServedTabular(metadata)
        """The estimator's own rows (features and action)."""
        action = options.action
        self.action = action
        self._action_at = self.full.names.index(action)
        self.names = [n for n in self.full.names if n != action]
        self.drift_names = tuple(self.names)
        self.numeric = [n for n in self.full.numeric if n != action]
        self.strings = [n for n in self.full.strings if n != action]
        self.numeric_datatype = self.full.numeric_datatype
        numeric_action = action in self.full.numeric
        self.actions = [float(a) if numeric_action else str(a) for a in options.actions]
        """The actions as the estimator's rows carry them."""
        self.keys = [action_key(a) for a in options.actions]
        baseline = options.baseline if options.baseline is not None else options.actions[0]
        self.baseline_index = self.keys.index(action_key(baseline))
        self.outputs = self.full.outputs
        self.rows_per_item = len(self.actions)
        self.fingerprint = f"causal:{metadata.version}"

    def items(self, inputs: Inputs) -> list[Any]:
        if not isinstance(inputs, RecordInputs):
            raise InvalidInputError(
                f"{self.metadata.name} v{self.metadata.version} is a causal model and takes "
                f"feature records without the action: send {CAUSAL_KIND.example(self.metadata)}"
            )
        baseline = self.actions[self.baseline_index]
        records = [
            {**self._by_name(record, i), self.action: baseline}
            for i, record in enumerate(inputs.records)
        ]
        at = self._action_at
        return [row[:at] + row[at + 1 :] for row in self.full.items(RecordInputs(records))]

    def _by_name(self, record: Mapping[str, Any] | Sequence[Any], i: int) -> Mapping[str, Any]:
        if isinstance(record, Mapping) and self.action in record:
            raise InvalidInputError(
                f"features[{i}] carries the action column {self.action!r}: a causal model "
                f"evaluates every action {self.options.actions} itself; drop it"
            )
        return record_by_name(
            record, i, self.names, self.metadata.name, " (its features without the action)"
        )

    def cache_text(self, item: Any) -> str:
        return orjson.dumps(item).decode()

    def encode(self, items: Sequence[Any]) -> tuple[dict[str, npt.NDArray[Any]], list[bool]]:
        at = self._action_at
        rows = [(*item[:at], action, *item[at:]) for item in items for action in self.actions]
        tensors, _ = self.full.encode(rows)
        return tensors, [False] * len(items)

    def decode(
        self, outputs: Mapping[str, npt.NDArray[Any]], truncated: Sequence[bool]
    ) -> list[CachedPrediction]:
        n, width = len(truncated), len(self.actions)
        outcomes = self.outcomes(outputs, n)
        effects = outcomes - outcomes[:, [self.baseline_index]]
        best = (
            np.argmax(outcomes, axis=1)
            if self.options.objective == "max"
            else np.argmin(outcomes, axis=1)
        )
        baseline = self.options.actions[self.baseline_index]
        answers = []
        for i in range(n):
            chosen = int(best[i])
            details = {
                "next_best_action": self.options.actions[chosen],
                "baseline_action": baseline,
                "outcomes": {self.keys[j]: float(outcomes[i, j]) for j in range(width)},
                "effects": {self.keys[j]: float(effects[i, j]) for j in range(width)},
            }
            answers.append(
                CachedPrediction(
                    self.keys[chosen],
                    None,
                    None,
                    False,
                    self.options.actions[chosen],
                    None,
                    details,
                )
            )
        return answers

    def outcomes(self, outputs: Mapping[str, npt.NDArray[Any]], n: int) -> npt.NDArray[Any]:
        """The ``[n, actions]`` outcome matrix of Triton's ``n x actions`` rows."""
        rows = n * len(self.actions)
        if self.full.task == "regression":
            raw = np.asarray(outputs[PREDICTION], dtype=np.float64)
        else:
            raw = np.asarray(outputs[PROBABILITIES], dtype=np.float64)
        if raw.size == 0 or raw.shape[0] != rows:
            raise TritonError(
                f"{self.metadata.name} v{self.metadata.version} returned {raw.shape[:1]} rows "
                f"for {n} rows x {len(self.actions)} actions; redeploy the model"
            )
        column = raw.reshape(rows, -1)[:, 0 if self.full.task == "regression" else -1]
        return column.reshape(n, len(self.actions))

    def drift_input(self, item: Any) -> Mapping[str, Any]:
        return dict(zip(self.names, item, strict=True))


class CausalKind(ModelKind):
    """Feature records in; one row per action in the tabular ONNX graph in Triton."""

    name = CAUSAL
    input_form = "records"
    description = "causal models: the outcome under each action, effects and the next best action"

    def serve(self, metadata: ModelMetadata, version_dir: Path) -> ServedModel:
        return ServedCausal(metadata)

    def example(self, metadata: ModelMetadata) -> str:
        action = metadata.extra.get(CAUSAL, {}).get("action")
        record = {k: v for k, v in example_record(metadata).items() if k != action}
        return json.dumps({"model": metadata.name, "features": record})


CAUSAL_KIND = CausalKind()
