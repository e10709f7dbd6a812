"""The bodies ``/predict`` and ``/batch-predict`` accept, parsed into a
:class:`~mlserve.dataplane.request.PredictRequest`.

Inputs, for every kind (the model decides whether it takes texts or records):

* ``{"text": "..."}`` (``/predict``), ``{"texts": [...]}`` (``/batch-predict``): text and
  token models;
* ``{"features": {"name": value, ...}}``: one record by feature name;
* ``{"features": [[v1, v2, ...], ...]}``: positional rows in the model's feature order
  (seed S3), or ``{"features": [{...}, ...]}`` / ``{"records": [{...}, ...]}``;
* ``{"user": {...}, "candidates": [{"id": ..., ...}, ...], "top_k": k}``: one user's
  candidates for a recommender to rank (``/predict`` only);
* ``{"model": "iris", "sepal_length": 5.1, ...}``: seed S4's flat record (any key that is
  not one of the fields below is a feature).

Fields beside the inputs: ``model`` / ``model_version`` (``name``, ``name-v<N>``, or seed
S1's ``v<N>`` for the default model), ``version`` (an integer), ``timeout_ms`` and
``entity_id`` (sticky A/B routing; also the ``X-Entity-ID`` header). Errors are 422s naming
the field, what it must be and an example.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from mlserve.dataplane.request import PredictRequest
from mlserve.errors import InvalidInputError
from mlserve.kinds import Inputs, RecordInputs, TextInputs
from mlserve.kinds.recommender import parse_ranking

CONTROL_FIELDS = frozenset(
    {
        "text",
        "texts",
        "features",
        "records",
        "model",
        "model_version",
        "version",
        "timeout_ms",
        "entity_id",
        "user",
        "candidates",
        "top_k",
    }
)
_EXAMPLES = '{"text": "great product"} or {"features": {"age": 31, "income": 4.2}}'


def parse_predict_body(
    body: bytes,
    *,
    batch: bool,
    max_items: int,
    max_text_length: int,
    entity_header: str | None = None,
) -> PredictRequest:
    """The request in ``body``; InvalidInputError (422) naming the field and the fix."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInputError(
            f"request body is not valid JSON; send a JSON object such as {_EXAMPLES}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"request body must be a JSON object such as {_EXAMPLES}, sent with "
            "content-type: application/json"
        )
    inputs = _inputs(data, batch=batch, max_items=max_items, max_text_length=max_text_length)
    model = _optional_str(data, "model_version") or _optional_str(data, "model")
    entity = _optional_str(data, "entity_id") or entity_header
    return PredictRequest(
        inputs=inputs,
        model=model,
        version=_version(data.get("version")),
        entity_ids=(entity,) if entity else None,
        timeout_ms=_timeout(data.get("timeout_ms")),
        endpoint="batch-predict" if batch else "predict",
    )


def _inputs(data: dict[str, Any], *, batch: bool, max_items: int, max_text_length: int) -> Inputs:
    if "candidates" in data or "user" in data:
        if batch:
            raise InvalidInputError(
                "user/candidates: /batch-predict takes texts or records; send one user's "
                "candidates to /predict to rank them"
            )
        return parse_ranking(data, max_candidates=max_items)
    if "text" in data:
        if batch:
            raise InvalidInputError(
                'text: /batch-predict takes "texts", a list of texts; send one text to /predict'
            )
        return TextInputs([_text(data["text"], "text", max_text_length)])
    if "texts" in data:
        texts = data["texts"]
        if not isinstance(texts, list):
            raise InvalidInputError('texts must be a list of strings, e.g. ["great", "awful"]')
        if not batch:
            raise InvalidInputError(
                'texts: /predict takes one "text"; send several texts to /batch-predict'
            )
        _check_count(len(texts), "texts", max_items)
        return TextInputs([_text(t, f"texts[{i}]", max_text_length) for i, t in enumerate(texts)])
    if "features" in data or "records" in data:
        field = "features" if "features" in data else "records"
        raw = data[field]
        if type(raw) is dict or isinstance(raw, Mapping):  # a dict skips the ABC check
            return RecordInputs([raw])
        if not isinstance(raw, list) or not raw:
            raise InvalidInputError(
                f"{field} must be an object of feature: value, or a non-empty list of such "
                'objects or of rows in the model\'s feature order, e.g. {"features": '
                "[[5.1, 3.5, 1.4, 0.2]]}"
            )
        if field == "features" and raw and not isinstance(raw[0], list | dict):
            raw = [raw]  # one positional row given flat: [5.1, 3.5, 1.4, 0.2]
        _check_count(len(raw), field, max_items)
        return RecordInputs(raw)
    flat = {k: v for k, v in data.items() if k not in CONTROL_FIELDS}
    if flat:
        return RecordInputs([flat])
    raise InvalidInputError(
        f"the body carries no input: send {_EXAMPLES} (texts for text models, features "
        "for tabular ones; GET /models lists each model's kind and features)"
    )


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInputError(
            f"{field} has {len(value)} characters; the limit is {limit} (max_text_length): "
            "shorten the text or split it"
        )
    return value


def _check_count(count: int, field: str, limit: int) -> None:
    if not 1 <= count <= limit:
        raise InvalidInputError(
            f"{field} has {count} items; send between 1 and {limit} (max_batch_texts), "
            "splitting larger batches"
        )


def _optional_str(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidInputError(f"{field} must be a string, got {type(value).__name__}")


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("vV").isdigit():
        value = int(value.lstrip("vV"))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f'version must be an integer >= 1 (or "v<N>"), got {value!r}; omit it for the '
            "default version"
        )
    return value


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"timeout_ms must be a number of milliseconds, got {value!r}")
    return float(value)
