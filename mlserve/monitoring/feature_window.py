"""Recent feature records per model version: means, spreads, missing shares, label counts.

Seed S3's ``/monitor/basic`` ("windowed feature means and last prediction counts"): the
last ``size`` records a tabular or custom model answered, kept as value tuples in a bounded
deque per version (appending is the only request-path work), summarized when read. Only
numbers are summarized; string features count their missing share.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Window:
    names: tuple[str, ...]
    rows: deque[tuple[Any, ...]]
    labels: deque[str | None] = field(default_factory=deque)


class FeatureWindows:
    """The last ``size`` records and predicted labels of each model version."""

    def __init__(self, size: int = 500, max_versions: int = 256) -> None:
        self.size = size
        self.max_versions = max_versions
        self._windows: dict[tuple[str, int], _Window] = {}

    def add(
        self,
        model: str,
        version: int,
        names: Sequence[str],
        row: tuple[Any, ...],
        label: str | None,
    ) -> None:
        """One answered record (values in ``names`` order); O(1)."""
        key = (model, version)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self.max_versions:
                self._windows.pop(next(iter(self._windows)))
            window = self._windows[key] = _Window(
                tuple(names), deque(maxlen=self.size), deque(maxlen=self.size)
            )
        window.rows.append(row)
        window.labels.append(label)

    def summary(self) -> list[dict[str, Any]]:
        """Per version: rows in the window, per feature ``mean``/``std``/``missing_share``,
        and the predicted labels' counts."""
        return [self._summarize(model, version, w) for (model, version), w in self._windows.items()]

    @staticmethod
    def _summarize(model: str, version: int, window: _Window) -> dict[str, Any]:
        n = len(window.rows)
        features: dict[str, dict[str, float | None]] = {}
        for index, name in enumerate(window.names):
            values = [row[index] for row in window.rows]
            numbers = [float(v) for v in values if isinstance(v, int | float)]
            missing = sum(1 for v in values if v is None)
            mean = sum(numbers) / len(numbers) if numbers else None
            std = (
                math.sqrt(sum((x - mean) ** 2 for x in numbers) / len(numbers))
                if numbers and mean is not None
                else None
            )
            features[name] = {
                "mean": None if mean is None else round(mean, 6),
                "std": None if std is None else round(std, 6),
                "missing_share": round(missing / n, 6) if n else 0.0,
            }
        labels = Counter(label for label in window.labels if label is not None)
        return {
            "model": model,
            "version": version,
            "rows": n,
            "features": features,
            "predictions": dict(labels.most_common()),
        }
