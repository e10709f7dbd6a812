"""A model's validation set: labelled inputs the release gate judges versions on.

Stored with the model as ``<repository>/<model>/validation.json``::

    {"texts": ["great film", ...], "labels": ["positive", ...]}
    {"records": [{"sepal_length": 5.1, ...}, ...], "labels": ["setosa", ...]}
    {"features": [[5.1, 3.5, 1.4, 0.2], ...], "labels": [...]}     # rows in feature order

Regressors give numbers as labels. Bounded: ``MAX_BYTES`` and ``MAX_ITEMS``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlserve.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from mlserve.kinds.base import Inputs, RecordInputs, TextInputs
from mlserve.repository.store import ModelRepository

VALIDATION_FILE = "validation.json"
MAX_BYTES = 32 * 1024 * 1024
MAX_ITEMS = 100_000


class ValidationSet(BaseModel):
    """Inputs in one of three forms, and one label (or target) per input."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] | None = None
    records: list[dict[str, Any]] | None = None
    features: list[list[Any]] | None = None
    labels: list[str | float | int] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _one_input_form(self) -> ValidationSet:
        given = [f for f in ("texts", "records", "features") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of texts, records or features, with labels")
        if len(self.items) != len(self.labels):
            raise ValueError(
                f"{given[0]} has {len(self.items)} items but labels has {len(self.labels)}: "
                "give one label per input"
            )
        return self

    @property
    def items(self) -> Sequence[Any]:
        return self.texts or self.records or self.features or []

    def inputs(self, start: int, stop: int) -> Inputs:
        if self.texts is not None:
            return TextInputs(self.texts[start:stop])
        rows: Sequence[Mapping[str, Any] | Sequence[Any]] = list(self.items[start:stop])
        return RecordInputs(rows)


def parse_validation_set(data: bytes, source: str = "validation set") -> ValidationSet:
    """A validation set from JSON bytes; 413 over ``MAX_BYTES``, 422 naming what is wrong."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLargeError(
            f"{source} is {len(data)} bytes; the limit is {MAX_BYTES} bytes ({MAX_ITEMS} items)"
        )
    try:
        return ValidationSet.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInputError(
            f"{source}: {where}: {first['msg']}. Expected "
            '{"texts": [...], "labels": [...]} or {"records"|"features": [...], "labels": [...]}',
            detail={"field": where},
        ) from None


def store_validation_set(repository: ModelRepository, name: str, data: ValidationSet) -> Path:
    """Keep ``data`` with model ``name`` (replacing the one stored)."""
    if not repository.versions(name):
        repository.metadata(name, 1)  # the 404 listing the models
    path = repository.root / name / VALIDATION_FILE
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(data.model_dump_json(exclude_none=True))
    os.replace(tmp, path)
    return path


def load_validation_set(repository: ModelRepository, name: str) -> ValidationSet:
    path = repository.root / name / VALIDATION_FILE
    if not path.is_file():
        raise NotFoundError(
            f"{name} has no validation set; store one with PUT /models/{name}/validation "
            "or `mlserve load ... --gate --validation FILE`",
            detail={"field": "validation"},
        )
    return parse_validation_set(path.read_bytes(), str(path))
