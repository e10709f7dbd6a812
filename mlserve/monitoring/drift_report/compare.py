"""Dataset drift: every column of a current sample tested against a binned reference.

The reference is a :class:`~mlserve.monitoring.profile.ReferenceProfile` (what a version
stores at publish time, or one computed from a reference CSV), so both report sources, a
pair of CSV files and a version's live window, go through one comparison. Per column:

- numeric: two-sample Kolmogorov-Smirnov on the reference's quantile bins
  (:func:`~mlserve.monitoring.drift.two_sample.ks_binned`, conservative);
- categorical: chi-square test of homogeneity on the reference's categories;
- both: the population stability index (PSI) over the same bins, for reading.

A column drifts when its p-value is below ``policy.column_alpha``. The dataset verdict is
S3's policy: drift when at least ``policy.drift_share`` of the tested columns drifted, and
only judged when both sides hold at least ``policy.min_rows`` rows ("not enough data"
otherwise, so a thin window never raises an alarm).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlserve.monitoring import signals as sig
from mlserve.monitoring.drift.two_sample import chi_square_homogeneity, ks_binned
from mlserve.monitoring.drift.window import MIN_VALUES_PER_SIGNAL
from mlserve.monitoring.histogram import (
    CategoricalReference,
    ContinuousReference,
    CountArray,
    categorical_counts,
)
from mlserve.monitoring.profile import ReferenceProfile
from mlserve.settings import MonitoringSettings

Verdict = Literal["drift", "no drift", "not enough data"]
_PSI_FLOOR = 1e-4
PSI_BINS = 10
"""Numeric columns' PSI is computed over deciles of the reference (the usual reading:
below 0.1 stable, 0.1-0.25 moderate, above 0.25 a large shift)."""


@dataclass(frozen=True)
class DriftPolicy:
    """When a column, and when the dataset, counts as drifted."""

    column_alpha: float = 0.05
    """A column drifts when its test's p-value is below this."""
    drift_share: float = 0.5
    """The dataset drifts when at least this share of the tested columns drifted."""
    min_rows: int = 200
    """Rows each side needs before the dataset is judged at all."""

    @classmethod
    def from_settings(cls, settings: MonitoringSettings) -> DriftPolicy:
        return cls(
            column_alpha=settings.report_column_alpha,
            drift_share=settings.report_drift_share,
            min_rows=settings.report_min_rows,
        )


@dataclass(frozen=True)
class ColumnDrift:
    """One column: both distributions over the same bins, the test and its outcome."""

    name: str
    kind: Literal["numeric", "categorical"]
    test: str
    statistic: float
    p_value: float
    psi: float
    drifted: bool
    bins: tuple[str, ...]
    """Bin labels: value ranges (numeric) or categories."""
    reference_shares: tuple[float, ...]
    current_shares: tuple[float, ...]
    reference_n: int
    current_n: int
    tested: bool = True
    """False when the current sample had too few values for this column to be tested."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "test": self.test,
            "statistic": round(self.statistic, 6),
            "p_value": float(f"{self.p_value:.6g}"),
            "psi": round(self.psi, 6),
            "drifted": self.drifted,
            "tested": self.tested,
            "reference_n": self.reference_n,
            "current_n": self.current_n,
        }


@dataclass(frozen=True)
class DatasetDrift:
    """The whole report: columns, verdict and where the data came from."""

    title: str
    reference_label: str
    current_label: str
    reference_rows: int
    current_rows: int
    policy: DriftPolicy
    columns: tuple[ColumnDrift, ...]
    generated_at: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tested_columns(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.tested]

    @property
    def drifted_columns(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    @property
    def drifted_share(self) -> float:
        tested = self.tested_columns
        return len(self.drifted_columns) / len(tested) if tested else 0.0

    @property
    def verdict(self) -> Verdict:
        enough = min(self.reference_rows, self.current_rows) >= self.policy.min_rows
        if not enough or not self.tested_columns:
            return "not enough data"
        return "drift" if self.drifted_share >= self.policy.drift_share else "no drift"

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "verdict": self.verdict,
            "drifted_share": round(self.drifted_share, 4),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "policy": {
                "column_alpha": self.policy.column_alpha,
                "drift_share": self.policy.drift_share,
                "min_rows": self.policy.min_rows,
            },
            "columns": [c.to_dict() for c in self.columns],
            "notes": list(self.notes),
        }


def input_columns(profile: ReferenceProfile) -> list[str]:
    """The profile's signals that describe inputs (features or text signals), in order."""
    if profile.kind == "tabular":
        return [sig.FEATURE_PREFIX + f for f in profile.features]
    names = (sig.TEXT_LENGTH, sig.NON_LETTER_SHARE, sig.OOV_RATE)
    return [n for n in names if n in profile.signals]


def text_observations(profile: ReferenceProfile, texts: Iterable[str]) -> dict[str, list[Any]]:
    """Text signal values of ``texts``, keyed like the profile's signals."""
    values: dict[str, list[Any]] = {sig.TEXT_LENGTH: [], sig.NON_LETTER_SHARE: []}
    if profile.vocabulary is not None:
        values[sig.OOV_RATE] = []
    for text in texts:
        values[sig.TEXT_LENGTH].append(sig.text_length(text))
        values[sig.NON_LETTER_SHARE].append(sig.non_letter_share(text))
        if profile.vocabulary is not None:
            values[sig.OOV_RATE].append(sig.oov_rate(text, profile.vocabulary))
    return values


def record_observations(
    profile: ReferenceProfile, records: Iterable[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """Feature values of ``records``, keyed like the profile's ``feature:`` signals."""
    values: dict[str, list[Any]] = {sig.FEATURE_PREFIX + f: [] for f in profile.features}
    for record in records:
        for feature in profile.features:
            values[sig.FEATURE_PREFIX + feature].append(record.get(feature))
    return values


def compare_dataset(
    profile: ReferenceProfile,
    current: Mapping[str, Sequence[Any]],
    *,
    current_rows: int,
    policy: DriftPolicy,
    title: str,
    reference_label: str,
    current_label: str,
    generated_at: float,
    notes: Sequence[str] = (),
) -> DatasetDrift:
    """Test every input column of ``profile`` against the values in ``current``."""
    columns = []
    for name in input_columns(profile):
        reference = profile.signals.get(name)
        if reference is None:
            continue
        columns.append(_compare_column(name, reference, current.get(name, ()), policy))
    return DatasetDrift(
        title=title,
        reference_label=reference_label,
        current_label=current_label,
        reference_rows=profile.n_samples,
        current_rows=current_rows,
        policy=policy,
        columns=tuple(columns),
        generated_at=generated_at,
        notes=tuple(notes),
    )


def _compare_column(
    name: str,
    reference: ContinuousReference | CategoricalReference,
    values: Sequence[Any],
    policy: DriftPolicy,
) -> ColumnDrift:
    shown = name.removeprefix(sig.FEATURE_PREFIX)
    if isinstance(reference, ContinuousReference):
        numbers = [n for n in (sig.numeric_value(v) for v in values) if n is not None]
        counts = reference.bin_counts(np.asarray(numbers, dtype=np.float64))
        outcome = ks_binned(reference.counts, counts)
        kind: Literal["numeric", "categorical"] = "numeric"
        bins = _range_labels(reference.cuts)
    else:
        present = [str(v) for v in values if not sig.is_missing(v)]
        counts = categorical_counts(reference, present)
        outcome = chi_square_homogeneity(reference.counts, counts)
        kind = "categorical"
        bins = tuple(reference.categories)
    current_n = int(counts.sum())
    tested = current_n >= MIN_VALUES_PER_SIGNAL and reference.n > 0
    return ColumnDrift(
        name=shown,
        kind=kind,
        test=outcome.test,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        psi=population_stability_index(*_psi_bins(reference, counts)),
        drifted=tested and outcome.p_value < policy.column_alpha,
        bins=tuple(bins),
        reference_shares=_shares(reference.counts),
        current_shares=_shares(counts),
        reference_n=reference.n,
        current_n=current_n,
        tested=tested,
    )


def population_stability_index(reference_counts: CountArray, current_counts: CountArray) -> float:
    """PSI of two count vectors over the same bins (shares floored at 1e-4)."""
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return 0.0
    expected = np.maximum(reference_counts / reference_counts.sum(), _PSI_FLOOR)
    actual = np.maximum(current_counts / current_counts.sum(), _PSI_FLOOR)
    value = float(((actual - expected) * np.log(actual / expected)).sum())
    return value if math.isfinite(value) else 0.0


def _psi_bins(
    reference: ContinuousReference | CategoricalReference, counts: CountArray
) -> tuple[CountArray, CountArray]:
    """Numeric columns: the reference's quantile bins merged into ``PSI_BINS`` bins of
    about equal reference mass (PSI over 50 thin bins is mostly sampling noise: about
    ``bins / n`` on identical distributions); categorical: as they are."""
    if isinstance(reference, CategoricalReference) or reference.n == 0:
        return reference.counts, counts
    starts = np.concatenate([[0], np.cumsum(reference.counts)[:-1]]) / reference.n
    groups = np.minimum((starts * PSI_BINS).astype(np.int64), PSI_BINS - 1)
    return (
        np.bincount(groups, weights=reference.counts, minlength=PSI_BINS).astype(np.int64),
        np.bincount(groups, weights=counts, minlength=PSI_BINS).astype(np.int64),
    )


def _shares(counts: CountArray) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(c / total) if total else 0.0 for c in counts)


def _range_labels(cuts: Sequence[float] | npt.NDArray[np.float64]) -> tuple[str, ...]:
    if len(cuts) == 0:
        return ("all values",)
    labels = [f"≤ {cuts[0]:.4g}"]
    labels += [f"({lo:.4g}, {hi:.4g}]" for lo, hi in itertools.pairwise(cuts)]
    labels.append(f"> {cuts[-1]:.4g}")
    return tuple(labels)
