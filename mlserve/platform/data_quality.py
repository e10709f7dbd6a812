"""Data quality of live inputs against the background data sent at deploy time.

Deliberately modest. At deploy, the background records become a reference profile per
feature (numeric: decile bin edges and shares, quartiles, min/max; categorical: category
shares). ``GET /api/v1/data-quality-agg/{name}/{version}?hours=N`` compares the inputs the
prediction log holds for that window:

- ``missingness``: per feature, the share of records where it is absent, null, NaN or "";
- ``drift``: per feature, the population stability index (PSI) of live vs reference bins
  (``stable`` < 0.1 <= ``moderate`` < 0.25 <= ``drifted``);
- ``outliers``: per numeric feature, the share of values beyond Tukey's far-out fences
  (``q25 - 3 IQR``, ``q75 + 3 IQR``; the reference min/max when the IQR is 0).

Without a reference (no background data) only missingness is reported.

Anomaly detectors add ``anomaly``: the outlier share and score distribution of the window's
predictions against the version's reference scores (:mod:`mlserve.platform.anomaly_quality`).
"""

from __future__ import annotations

import bisect
import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from mlserve.errors import InvalidInputError
from mlserve.platform.anomaly_quality import anomaly_section
from mlserve.platform.prediction_log import PredictionLog
from mlserve.platform.protocols import ModelCatalog
from mlserve.platform.store import StateStore
from mlserve.platform.versions import version_label

MAX_HOURS = 24 * 30
MAX_CATEGORIES = 50
OTHER = "__other__"
_EPS = 1e-4


def is_missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _numeric_shares(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[bisect.bisect_right(edges, v)] += 1
    return [c / len(values) for c in counts]


def _category_shares(values: Sequence[Any], categories: Sequence[str]) -> dict[str, float]:
    known = set(categories)
    counts = Counter(str(v) if str(v) in known else OTHER for v in values)
    return {c: counts.get(c, 0) / len(values) for c in [*categories, OTHER]}


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPS), max(a, _EPS)
        total += (a - e) * math.log(a / e)
    return total


def build_profile(records: Sequence[Mapping[str, Any]], features: Sequence[str]) -> dict[str, Any]:
    """The reference profile of background records."""
    profile: dict[str, Any] = {}
    for feature in features:
        present: list[Any] = [r.get(feature) for r in records if not is_missing(r.get(feature))]
        if not present:
            continue
        if all(_is_number(v) for v in present):
            values = sorted(float(v) for v in present)
            edges = sorted({_quantile(values, i / 10) for i in range(1, 10)})
            profile[feature] = {
                "kind": "numeric",
                "edges": edges,
                "shares": _numeric_shares(values, edges),
                "q25": _quantile(values, 0.25),
                "q75": _quantile(values, 0.75),
                "min": values[0],
                "max": values[-1],
            }
        else:
            top = [str(c) for c, _ in Counter(str(v) for v in present).most_common(MAX_CATEGORIES)]
            profile[feature] = {
                "kind": "categorical",
                "categories": top,
                "shares": _category_shares(present, top),
            }
    return profile


def quality_report(
    profile: Mapping[str, Any] | None, inputs: Sequence[Mapping[str, Any]], features: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Missingness, drift and outliers of ``inputs`` (one dict per record)."""
    missingness, drift, outliers = [], [], []
    for feature in features:
        values = [r.get(feature) for r in inputs]
        present: list[Any] = [v for v in values if not is_missing(v)]
        missingness.append(
            {
                "feature": feature,
                "missing_rate": 1 - len(present) / len(values) if values else 0.0,
                "n": len(values),
            }
        )
        ref = (profile or {}).get(feature)
        if ref is None or not present:
            continue
        if ref["kind"] == "numeric":
            numbers = [float(v) for v in present if _is_number(v)]
            if not numbers:
                continue
            live = _numeric_shares(numbers, ref["edges"])
            iqr = ref["q75"] - ref["q25"]
            low, high = (
                (ref["q25"] - 3 * iqr, ref["q75"] + 3 * iqr)
                if iqr > 0
                else (ref["min"], ref["max"])
            )
            beyond = sum(1 for v in numbers if v < low or v > high)
            outliers.append(
                {
                    "feature": feature,
                    "outlier_rate": beyond / len(numbers),
                    "n": len(numbers),
                    "lower_fence": low,
                    "upper_fence": high,
                }
            )
        else:
            shares = _category_shares(present, ref["categories"])
            live = [shares[c] for c in [*ref["categories"], OTHER]]
        index = psi(
            ref["shares"] if ref["kind"] == "numeric" else list(ref["shares"].values()), live
        )
        status = "stable" if index < 0.1 else "moderate" if index < 0.25 else "drifted"
        drift.append(
            {
                "feature": feature,
                "psi": index,
                "status": status,
                "kind": ref["kind"],
                "n": len(present),
            }
        )
    return {"missingness": missingness, "drift": drift, "outliers": outliers}


class DataQualityService:
    """Keeps reference profiles and reports on live inputs."""

    def __init__(
        self, store: StateStore, log: PredictionLog, catalog: ModelCatalog | None = None
    ) -> None:
        self._store = store
        self._log = log
        self._catalog = catalog

    @staticmethod
    def _key(model: str, version: int) -> str:
        return f"dq:ref:{model}:{version}"

    async def save_reference(
        self,
        model: str,
        version: int,
        background: Sequence[Mapping[str, Any]],
        features: Sequence[str] | None,
    ) -> None:
        names = list(features or sorted({k for r in background for k in r}))
        profile = {"features": names, "profile": build_profile(background, names)}
        await self._store.set(self._key(model, version), json.dumps(profile))

    async def report(self, model: str, version: int, hours: int) -> dict[str, Any]:
        if not 1 <= hours <= MAX_HOURS:
            raise InvalidInputError(f"hours must be 1-{MAX_HOURS} (got {hours})")
        now = time.time()
        records = await self._log.window(model, version, now - hours * 3600, now)
        inputs = [r.inputs for r in records if r.inputs is not None]
        label = version_label(version)
        if not inputs:
            return {
                "model": model,
                "version": label,
                "hours": hours,
                "message": f"no logged inputs for {model} {label} in the last {hours} h",
            }
        raw = await self._store.get(self._key(model, version))
        stored = json.loads(raw) if raw else None
        features = stored["features"] if stored else sorted({k for r in inputs for k in r})
        report: dict[str, Any] = quality_report(
            stored["profile"] if stored else None, inputs, features
        )
        scores = [r.score for r in records if r.score is not None]
        if scores:
            report["anomaly"] = anomaly_section(
                scores, await self._anomaly_reference(model, version)
            )
        return {
            "model": model,
            "version": label,
            "hours": hours,
            "n": len(inputs),
            "has_reference": stored is not None,
            **report,
        }

    async def _anomaly_reference(self, model: str, version: int) -> dict[str, Any] | None:
        if self._catalog is None:
            return None
        for found in await self._catalog.versions(model):
            if found.version == version:
                reference = found.metadata.get("anomaly_reference")
                return reference if isinstance(reference, dict) else None
        return None
