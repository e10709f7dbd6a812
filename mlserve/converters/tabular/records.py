"""Feature records (``{"feature": value}``) to the input tensors of a tabular export."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.converters.tabular.spec import NUMERIC_INPUT, STRING_INPUT, TabularSpec
from mlserve.errors import InvalidInputError

FLOAT32_MAX = float(np.finfo(np.float32).max)
_MAX_LISTED = 10


def records_to_inputs(
    records: Sequence[Mapping[str, Any]], spec: TabularSpec
) -> dict[str, npt.NDArray[Any]]:
    """Validate ``records`` against ``spec`` and build the model's input tensors.

    Returns ``{"input": [n, n_numeric]}`` (float32, or float64 when ``spec.numeric_dtype``
    says so) plus ``{"input_str": object [n, n_string]}`` (Python ``str`` elements) when
    the model has string features; each tensor only when it has columns. Pure: no I/O, no
    model needed.

    Rules, each broken one raising :class:`InvalidInputError` that names the record index,
    the feature and the fix:

    * every record is an object holding the spec's features: a missing or an unknown key
      is an error (the message lists the expected features); keys in ``spec.ignored``
      (columns the model drops) are accepted and discarded;
    * numeric features take JSON numbers (booleans count as 0/1); they must be finite and
      within float32 range. ``null``/NaN is a missing value: sent as NaN when
      ``spec.accepts_missing``, otherwise an error;
    * string features take strings only (send ``"3"``, not ``3``) and cannot be missing.
    """
    dtype = np.float64 if spec.numeric_dtype == "float64" else np.float32
    return records_to_arrays(records, spec, numeric_dtype=dtype)


def records_to_arrays(
    records: Sequence[Mapping[str, Any]],
    spec: TabularSpec,
    *,
    numeric_dtype: type[np.floating[Any]] = np.float64,
) -> dict[str, npt.NDArray[Any]]:
    """:func:`records_to_inputs` with another numeric dtype (float64 feeds native models)."""
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
        raise InvalidInputError(
            "records must be a list of objects mapping feature name to value, "
            f"got {type(records).__name__}"
        )
    if not records:
        raise InvalidInputError("records is empty: send at least one record")
    numeric = spec.numeric_features
    strings = spec.string_features
    expected = set(spec.names)
    numeric_rows = np.empty((len(records), len(numeric)), dtype=numeric_dtype)
    string_rows = np.empty((len(records), len(strings)), dtype=object)
    for i, record in enumerate(records):
        where = f"records[{i}]"
        if not isinstance(record, Mapping):
            raise InvalidInputError(
                f"{where} must be an object mapping feature name to value, "
                f"got {type(record).__name__}"
            )
        _check_keys(record, expected, spec, where)
        for j, name in enumerate(numeric):
            numeric_rows[i, j] = _number(record[name], f"{where}.{name}", spec.accepts_missing)
        for j, name in enumerate(strings):
            string_rows[i, j] = _string(record[name], f"{where}.{name}")
    inputs: dict[str, npt.NDArray[Any]] = {}
    if numeric:
        inputs[NUMERIC_INPUT] = numeric_rows
    if strings:
        inputs[STRING_INPUT] = string_rows
    return inputs


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _check_keys(
    record: Mapping[str, Any], expected: set[str], spec: TabularSpec, where: str
) -> None:
    keys = set(record).difference(spec.ignored)
    if keys == expected:
        return
    missing = [n for n in spec.names if n not in keys]
    if missing:
        hint = " (send null for an unknown numeric value)" if spec.accepts_missing else ""
        raise InvalidInputError(
            f"{where} is missing feature(s) {_listed(missing)}: every record needs all "
            f"{len(spec.names)} features {_listed(spec.names)}{hint}"
        )
    unknown = sorted(str(k) for k in keys - expected)
    raise InvalidInputError(
        f"{where} has unknown feature(s) {_listed(unknown)}: this model takes only "
        f"{_listed(spec.names)}; remove the others or check their spelling"
    )


def _number(value: Any, where: str, accepts_missing: bool) -> float:
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        if accepts_missing:
            return math.nan
        raise InvalidInputError(
            f"{where} is missing (null/NaN) and this model does not accept missing values: "
            "send a number"
        )
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if not isinstance(value, (int, float, np.integer, np.floating)):
        shown = repr(value)[:40]
        raise InvalidInputError(
            f"{where} must be a number, got {type(value).__name__} {shown}: send a JSON number"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise InvalidInputError(
            f"{where} is {value!r:.40}: numbers must be finite and within float32 range "
            f"(|x| <= {FLOAT32_MAX:.3g})"
        )
    return number


def _string(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        raise InvalidInputError(
            f"{where} is missing (null/NaN): string features cannot be missing, "
            "send one of the categories the model was trained on"
        )
    shown = repr(value)[:40]
    raise InvalidInputError(
        f"{where} must be a string, got {type(value).__name__} {shown}: "
        f'send it as a JSON string (e.g. "{value}")'
    )
