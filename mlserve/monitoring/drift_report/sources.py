"""Where a drift report's two samples come from: two CSV files, or a version's live window.

- :func:`report_from_csv`: the reference CSV is profiled like validation data at publish
  time (quantile bins per numeric column, frequencies per other column) and the current
  CSV is tested against it, column by column (columns present in both files).
- :func:`report_from_window`: a published version's stored reference profile against the
  inputs the prediction log kept for it over a time window.

Both raise :class:`~mlserve.errors.InvalidInputError` / :class:`NotFoundError` with a
one-line reason for unreadable files, missing columns or a version without a reference.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlserve.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from mlserve.monitoring.drift_report.compare import (
    DatasetDrift,
    DriftPolicy,
    compare_dataset,
    record_observations,
    text_observations,
)
from mlserve.monitoring.profile import (
    MIN_REFERENCE_SAMPLES,
    ReferenceProfile,
    compute_tabular_profile,
)

MAX_CSV_BYTES = 500 * 1024 * 1024
"""Largest CSV a report reads (each side)."""
WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_SECONDS = 30 * 86400


def parse_window(text: str) -> float:
    """``"24h"`` -> 86400.0; units s, m, h, d; at most 30 days."""
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    try:
        seconds = float(value) * WINDOW_UNITS[unit]
    except (KeyError, ValueError):
        raise InvalidInputError(
            f"window {text!r} is not a duration: write a number and a unit, e.g. 30m, 24h, 7d"
        ) from None
    if not 0 < seconds <= MAX_WINDOW_SECONDS:
        raise InvalidInputError(f"window {text!r} must be between 1s and 30d")
    return seconds


def read_csv_records(path: Path, what: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a CSV file (``what`` names it in errors: "reference")."""
    import pandas as pd

    try:
        size = path.stat().st_size
    except OSError:
        raise NotFoundError(f"{what} CSV {str(path)!r} does not exist") from None
    if size > MAX_CSV_BYTES:
        raise PayloadTooLargeError(
            f"{what} CSV {path} is {size} bytes, above the {MAX_CSV_BYTES} byte limit: "
            "sample it down first"
        )
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"{what} CSV {path} cannot be read: {first}") from None
    columns = [str(c) for c in frame.columns]
    return columns, frame.to_dict(orient="records")


def report_from_csv(
    reference: Path,
    current: Path,
    *,
    policy: DriftPolicy,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> DatasetDrift:
    """Compare ``current`` with ``reference`` on the columns both files hold (or
    ``columns``)."""
    reference_columns, reference_rows = read_csv_records(reference, "reference")
    current_columns, current_rows = read_csv_records(current, "current")
    shared = [c for c in reference_columns if c in set(current_columns)]
    notes = []
    if columns is not None:
        unknown = [c for c in columns if c not in shared]
        if unknown:
            raise InvalidInputError(
                f"columns {unknown} are not in both CSVs; shared columns: {shared}"
            )
        shared = list(columns)
    only = sorted(set(reference_columns) ^ set(current_columns))
    if only:
        notes.append(f"columns in only one file (not compared): {', '.join(only)}")
    if not shared:
        raise InvalidInputError(
            f"{reference.name} and {current.name} share no column: the current CSV must "
            "have the reference's column names in its header"
        )
    if len(reference_rows) < MIN_REFERENCE_SAMPLES:
        raise InvalidInputError(
            f"reference CSV {reference} has {len(reference_rows)} rows; a reference needs at "
            f"least {MIN_REFERENCE_SAMPLES} (a few hundred make the tests sharper)"
        )
    profile = ReferenceProfile.from_dict(compute_tabular_profile(reference_rows, shared))
    return compare_dataset(
        profile,
        record_observations(profile, current_rows),
        current_rows=len(current_rows),
        policy=policy,
        title=title or f"Data drift: {current.name} vs {reference.name}",
        reference_label=str(reference.name),
        current_label=str(current.name),
        generated_at=time.time(),
        notes=notes,
    )


def report_from_window(
    model: str,
    version: int,
    reference_profile: Mapping[str, Any] | None,
    inputs: Sequence[Mapping[str, Any]],
    *,
    window: str,
    policy: DriftPolicy,
) -> DatasetDrift:
    """``model`` v``version``'s reference profile against live ``inputs`` (one mapping per
    prediction; a text model's text is its ``text`` field, else its first string field)."""
    if reference_profile is None:
        raise NotFoundError(
            f"{model} v{version} has no reference profile (it was published without "
            "validation data): republish it with samples, or compare two CSVs with "
            "`mlserve drift report --reference ref.csv --current cur.csv`"
        )
    profile = ReferenceProfile.from_dict(reference_profile)
    if profile.kind == "text":
        texts = [t for t in (_text_of(record) for record in inputs) if t is not None]
        current = text_observations(profile, texts)
    else:
        current = record_observations(profile, inputs)
    return compare_dataset(
        profile,
        current,
        current_rows=len(inputs),
        policy=policy,
        title=f"Data drift: {model} v{version}, last {window}",
        reference_label=f"validation data of v{version}",
        current_label=f"predictions of the last {window}",
        generated_at=time.time(),
    )


def _text_of(record: Mapping[str, Any]) -> str | None:
    text = record.get("text")
    if isinstance(text, str):
        return text
    return next((v for v in record.values() if isinstance(v, str)), None)
