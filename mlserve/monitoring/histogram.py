"""Binned references: quantile bins for continuous signals, frequencies for categorical ones.

A continuous reference is a list of cut points ``c_1 < ... < c_k`` taken from the
reference values themselves (quantiles, so bins hold similar mass) and ``k + 1`` counts:
bin 0 is ``(-inf, c_1]``, bin i is ``(c_i, c_{i+1}]``, the last is ``(c_k, inf)``. Because
cut points are reference values, the reference's empirical CDF is known exactly at them,
which is what the binned Kolmogorov-Smirnov test needs. Ties (discrete signals) simply
give fewer cut points.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int64]

MAX_BINS = 50
OTHER_CATEGORY = "__other__"
MIN_CATEGORY_COUNT = 5
"""Reference categories rarer than this are pooled into ``__other__`` (chi-square needs it)."""


@dataclass(frozen=True)
class ContinuousReference:
    """A binned continuous distribution."""

    cuts: FloatArray
    counts: CountArray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def bin_counts(self, values: FloatArray) -> CountArray:
        """Counts of ``values`` in this reference's bins."""
        indexes = np.searchsorted(self.cuts, values, side="left")
        return np.bincount(indexes, minlength=len(self.cuts) + 1).astype(np.int64)

    def to_dict(self, values: FloatArray) -> dict[str, Any]:
        return {
            "type": "continuous",
            "cuts": [float(c) for c in self.cuts],
            "counts": [int(c) for c in self.counts],
            "n": self.n,
            "summary": summarize(values),
        }


@dataclass(frozen=True)
class CategoricalReference:
    """Category frequencies; unseen or rare values fall into ``__other__`` when present."""

    categories: tuple[str, ...]
    counts: CountArray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def index(self) -> dict[str, int]:
        return {category: i for i, category in enumerate(self.categories)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "categorical",
            "categories": list(self.categories),
            "counts": [int(c) for c in self.counts],
            "n": self.n,
        }


def summarize(values: FloatArray) -> dict[str, float]:
    """Human-readable summary kept next to the bins (shown by the drift endpoint)."""
    if values.size == 0:
        return {}
    p50, p95 = np.quantile(values, [0.5, 0.95])
    return {
        "mean": float(values.mean()),
        "p50": float(p50),
        "p95": float(p95),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def continuous_reference(
    values: Sequence[float] | FloatArray, max_bins: int = MAX_BINS
) -> ContinuousReference:
    """Quantile bins (at most ``max_bins``) of ``values``, with the reference counts."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return ContinuousReference(np.zeros(0), np.zeros(1, dtype=np.int64))
    levels = np.linspace(0.0, 1.0, max(2, max_bins - 1))
    cuts = np.unique(np.quantile(data, levels, method="inverted_cdf"))
    reference = ContinuousReference(cuts, np.zeros(len(cuts) + 1, dtype=np.int64))
    return ContinuousReference(cuts, reference.bin_counts(data))


def categorical_reference(
    values: Iterable[str],
    *,
    fixed: Sequence[str] | None = None,
    max_categories: int = MAX_BINS,
) -> CategoricalReference:
    """Frequencies of ``values``.

    With ``fixed`` (e.g. a model's labels) exactly those categories are kept. Otherwise the
    most frequent ones seen at least ``MIN_CATEGORY_COUNT`` times (at most
    ``max_categories - 1``) are kept and everything else, including values never seen,
    shares the ``__other__`` bucket.
    """
    counter = Counter(values)
    if fixed is not None:
        categories = tuple(fixed)
        return CategoricalReference(
            categories, np.array([counter.get(c, 0) for c in categories], dtype=np.int64)
        )
    frequent = [
        category
        for category, count in counter.most_common(max_categories - 1)
        if count >= MIN_CATEGORY_COUNT and category != OTHER_CATEGORY
    ]
    other = sum(counter.values()) - sum(counter[c] for c in frequent)
    categories = (*frequent, OTHER_CATEGORY)
    counts = np.array([*(counter[c] for c in frequent), other], dtype=np.int64)
    return CategoricalReference(categories, counts)


def categorical_counts(reference: CategoricalReference, values: Iterable[str]) -> CountArray:
    """Counts of live ``values`` in the reference's categories (unknown -> ``__other__``)."""
    index = reference.index()
    other = index.get(OTHER_CATEGORY)
    counts = np.zeros(len(reference.categories), dtype=np.int64)
    for value in values:
        position = index.get(value, other)
        if position is not None:
            counts[position] += 1
    return counts


def load_reference(name: str, data: Any) -> ContinuousReference | CategoricalReference:
    """Parse one stored signal; a malformed one raises InvalidInputError naming it."""
    where = f"reference_profile.signals.{name}"
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where} must be an object; recompute the reference profile")
    try:
        counts = np.asarray(data["counts"], dtype=np.int64)
        if data.get("type") == "continuous":
            cuts = np.asarray(data["cuts"], dtype=np.float64)
            valid = counts.ndim == 1 and cuts.ndim == 1 and len(counts) == len(cuts) + 1
            if valid and np.all(np.diff(cuts) > 0) and np.all(counts >= 0):
                return ContinuousReference(cuts, counts)
        elif data.get("type") == "categorical":
            categories = tuple(str(c) for c in data["categories"])
            if len(categories) == len(counts) and np.all(counts >= 0):
                return CategoricalReference(categories, counts)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{where} is malformed ({exc}); recompute the reference profile"
        ) from exc
    raise InvalidInputError(
        f"{where} is malformed: expected type 'continuous' with increasing cuts and "
        "len(cuts)+1 counts, or 'categorical' with one count per category; recompute the "
        "reference profile"
    )
