"""A fixed-size live window of per-request signal values.

Memory is allocated once per (model, version) and reused: however much traffic arrives, a
window holds at most ``size`` values per signal, and nothing else is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from mlserve.monitoring.drift.two_sample import Comparison, chi_square_homogeneity, ks_binned
from mlserve.monitoring.histogram import (
    CategoricalReference,
    ContinuousReference,
    categorical_counts,
)

MIN_VALUES_PER_SIGNAL = 20
"""A signal with fewer values in a window (e.g. a mostly-missing feature) is not tested."""

Observation = Mapping[str, float | str | None]
"""One request's signal values; None (or NaN) means "not observed for this signal"."""


class LiveWindow:
    """Values of the signals of one reference, for up to ``size`` requests."""

    def __init__(
        self, size: int, references: Mapping[str, ContinuousReference | CategoricalReference]
    ) -> None:
        self.size = size
        self.count = 0
        self._continuous_refs = {
            name: ref for name, ref in references.items() if isinstance(ref, ContinuousReference)
        }
        self._categorical_refs = {
            name: ref for name, ref in references.items() if isinstance(ref, CategoricalReference)
        }
        self._continuous = {name: np.full(size, np.nan) for name in self._continuous_refs}
        self._categorical: dict[str, list[str | None]] = {
            name: [None] * size for name in self._categorical_refs
        }

    @property
    def full(self) -> bool:
        return self.count >= self.size

    def add(self, observation: Observation) -> None:
        """Record one request (signals it lacks are left unobserved)."""
        slot = self.count
        for name, values in self._continuous.items():
            value = observation.get(name)
            values[slot] = float(value) if isinstance(value, int | float) else np.nan
        for name, labels in self._categorical.items():
            value = observation.get(name)
            labels[slot] = value if isinstance(value, str) else None
        self.count += 1

    def compare(self) -> dict[str, Comparison]:
        """Test every signal with enough values against its reference, then empty the window."""
        results: dict[str, Comparison] = {}
        for name, values in self._continuous.items():
            reference = self._continuous_refs[name]
            observed = values[: self.count]
            observed = observed[~np.isnan(observed)]
            if observed.size >= MIN_VALUES_PER_SIGNAL and reference.n > 0:
                results[name] = ks_binned(reference.counts, reference.bin_counts(observed))
        for name, labels in self._categorical.items():
            categorical = self._categorical_refs[name]
            present: Iterable[str] = (v for v in labels[: self.count] if v is not None)
            counts = categorical_counts(categorical, present)
            if counts.sum() >= MIN_VALUES_PER_SIGNAL and categorical.n > 0:
                results[name] = chi_square_homogeneity(categorical.counts, counts)
        self.count = 0
        return results
