"""Recommenders: one user and candidate items in; the candidates ranked by score out.

The estimator scores a (user features + item features) row: a binary classifier's
probability of its second class (engagement), or a regressor's prediction. It is exported
to ONNX like any tabular model; :mod:`mlserve.converters.tabular.decisions` declares which
features are the user's and which the item's, and the field that carries a candidate's id.

A request (:class:`~mlserve.kinds.base.RankingInputs`) is ``{"user": {...}, "candidates":
[{"id": ..., item features...}, ...], "top_k": k}``. Each candidate becomes one row (the
user's features with the candidate's), all of them in one Triton call (up to
``max_batch_size`` candidates); every row is an item, so a (user, candidate) pair seen
before comes from the cache. :func:`ranked` orders the answers: highest score first, ties
in request order, the first ``top_k``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.converters.tabular.decisions import RECOMMENDER, RecommenderOptions, options_of
from mlserve.converters.tabular.spec import PREDICTION, PROBABILITIES
from mlserve.errors import InvalidInputError, TritonError
from mlserve.kinds.base import Inputs, ModelKind, RankingInputs, RecordInputs, ServedModel
from mlserve.kinds.tabular import ServedTabular, example_record
from mlserve.repository.metadata import ModelMetadata
from mlserve.serving.cache.keys import CachedPrediction


class ServedRecommender(ServedModel):
    """A recommender version: one row per candidate, scored in one call."""

    def __init__(self, metadata: ModelMetadata) -> None:
        options = options_of(metadata.extra, RECOMMENDER)
        assert isinstance(options, RecommenderOptions)
        self.metadata = metadata
        self.options = options
        self.full = ServedTabular(metadata)
        self.outputs = self.full.outputs
        self.fingerprint = f"recommender:{metadata.version}"

    def items(self, inputs: Inputs) -> list[Any]:
        if not isinstance(inputs, RankingInputs):
            raise InvalidInputError(
                f"{self.metadata.name} v{self.metadata.version} is a recommender: send one "
                f"user and the candidates to rank, {RECOMMENDER_KIND.example(self.metadata)}"
            )
        options = self.options
        if inputs.top_k is not None and (isinstance(inputs.top_k, bool) or inputs.top_k < 1):
            raise InvalidInputError(
                f"top_k is {inputs.top_k}; it must be an integer >= 1 (or omitted: all)"
            )
        if not isinstance(inputs.user, Mapping):
            raise InvalidInputError(f"user must be an object of {options.user_features}")
        missing = [f for f in options.user_features if f not in inputs.user]
        if missing:
            raise InvalidInputError(
                f"user lacks the user features {missing}; {self.metadata.name} takes "
                f"{options.user_features}"
            )
        if not inputs.candidates:
            raise InvalidInputError(
                "candidates is empty: send at least one candidate "
                f'{{"{options.item_id}": ..., {", ".join(options.item_features)}}}'
            )
        user = {f: inputs.user[f] for f in options.user_features}
        records = [user | self._item(candidate, i) for i, candidate in enumerate(inputs.candidates)]
        return self.full.items(RecordInputs(records))

    def _item(self, candidate: Any, i: int) -> dict[str, Any]:
        options = self.options
        if not isinstance(candidate, Mapping):
            raise InvalidInputError(
                f"candidates[{i}] must be an object of {options.item_id!r} and the item "
                f"features {options.item_features}"
            )
        if candidate_id(candidate, options.item_id) is None:
            raise InvalidInputError(
                f"candidates[{i}] has no {options.item_id!r} (a string or an integer): each "
                "candidate needs its id"
            )
        missing = [f for f in options.item_features if f not in candidate]
        if missing:
            raise InvalidInputError(
                f"candidates[{i}] lacks the item features {missing}; each candidate carries "
                f"{options.item_features}"
            )
        return {f: candidate[f] for f in options.item_features}

    def cache_text(self, item: Any) -> str:
        return self.full.cache_text(item)

    def encode(self, items: Sequence[Any]) -> tuple[dict[str, npt.NDArray[Any]], list[bool]]:
        return self.full.encode(items)

    def decode(
        self, outputs: Mapping[str, npt.NDArray[Any]], truncated: Sequence[bool]
    ) -> list[CachedPrediction]:
        n = len(truncated)
        regression = self.full.task == "regression"
        raw = np.asarray(outputs[PREDICTION if regression else PROBABILITIES], dtype=np.float64)
        if raw.size == 0 or raw.shape[0] != n:
            raise TritonError(
                f"{self.metadata.name} v{self.metadata.version} returned {raw.shape[:1]} "
                f"scores for {n} candidates; redeploy the model"
            )
        scores = raw.reshape(n, -1)[:, 0 if regression else -1]
        return [CachedPrediction(None, None, None, False, float(s), float(s)) for s in scores]

    def drift_input(self, item: Any) -> Mapping[str, Any]:
        return self.full.drift_input(item)

    def rank(self, inputs: Inputs, predictions: Sequence[Any]) -> list[dict[str, Any]] | None:
        if not isinstance(inputs, RankingInputs):
            return None
        return ranked(inputs, predictions, self.options.item_id)


def parse_ranking(body: Mapping[str, Any], *, max_candidates: int) -> RankingInputs:
    """The ranking request in a JSON body (``user``, ``candidates``, ``top_k``), for
    ``/predict`` and ``/api/v1/predict``; InvalidInputError (422) naming the field."""
    user = body.get("user")
    if not isinstance(user, Mapping):
        raise InvalidInputError(
            'user must be an object of the user\'s features, e.g. {"user": {"age": 31}, '
            '"candidates": [{"id": "a", "price": 9.5}], "top_k": 10}'
        )
    candidates = body.get("candidates")
    if not isinstance(candidates, list):
        raise InvalidInputError(
            "candidates must be a list of objects, each with its id and item features, e.g. "
            '[{"id": "a", "price": 9.5}]'
        )
    if not candidates:
        raise InvalidInputError("candidates is empty: send at least one candidate to rank")
    if len(candidates) > max_candidates:
        raise InvalidInputError(
            f"candidates has {len(candidates)} items; send at most {max_candidates} "
            "(max_batch_texts) per request"
        )
    top_k = body.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InvalidInputError(
            f"top_k must be an integer >= 1 (got {top_k!r}); omit it to rank every candidate"
        )
    return RankingInputs(user, candidates, top_k)


def candidate_id(candidate: Mapping[str, Any], field: str) -> str | int | None:
    """A candidate's id when it is a string or an integer, else None."""
    value = candidate.get(field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def ranked(inputs: RankingInputs, predictions: Sequence[Any], item_id: str) -> list[dict[str, Any]]:
    """The candidates by score, highest first (ties in request order), the first ``top_k``:
    ``{"id", "score", "rank", "cached"}`` each. ``predictions`` are the data plane's answers
    to ``inputs``, in candidate order."""
    order = sorted(range(len(predictions)), key=lambda i: -float(predictions[i].score))
    if inputs.top_k is not None:
        order = order[: inputs.top_k]
    return [
        {
            "id": candidate_id(inputs.candidates[i], item_id),
            "score": float(predictions[i].score),
            "rank": rank,
            "cached": bool(predictions[i].cached),
        }
        for rank, i in enumerate(order, start=1)
    ]


class RecommenderKind(ModelKind):
    """One user's candidates in, one tabular ONNX call in Triton, a ranking out."""

    name = RECOMMENDER
    input_form = "ranking"
    description = "recommenders: one user's candidate items ranked by score"

    def serve(self, metadata: ModelMetadata, version_dir: Path) -> ServedModel:
        return ServedRecommender(metadata)

    def example(self, metadata: ModelMetadata) -> str:
        stored = metadata.extra.get(RECOMMENDER, {})
        record = example_record(metadata)
        user = {f: record.get(f, 0.0) for f in stored.get("user_features", [])}
        item = {f: record.get(f, 0.0) for f in stored.get("item_features", [])}
        id_field = stored.get("item_id", "id")
        return json.dumps(
            {
                "model": metadata.name,
                "user": user,
                "candidates": [{id_field: "a", **item}, {id_field: "b", **item}],
                "top_k": 10,
            }
        )


RECOMMENDER_KIND = RecommenderKind()
