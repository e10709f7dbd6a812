"""Anomaly scores in data quality: how many live rows look anomalous, and how anomalous.

An anomaly detector (IsolationForest, OneClassSVM, EllipticEnvelope,
LocalOutlierFactor(novelty=True)) answers a score per row: the estimator's
``decision_function``, where **negative means outlier** and lower means more anomalous (the
label is ``outlier`` exactly when the score is below 0). The share of outliers among live
inputs is itself a data-quality signal: a detector fit on clean data that starts flagging
many more rows says the inputs changed, whatever each feature's own drift says.

:func:`anomaly_section` summarizes the scores the prediction log holds for a window and,
when the version was published with background data, compares them with its reference
(the served graph's scores on that data, see :mod:`mlserve.serving.reference`): the
reference outlier share and the PSI of live scores over deciles of the reference scores
(``stable`` < 0.1 <= ``moderate`` < 0.25 <= ``drifted``, as for features).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PSI_BINS = 10
"""Reference-mass deciles the score PSI is computed over."""
SCORE_DIRECTION = (
    "score is the detector's decision_function: negative = outlier, lower = more anomalous"
)


def anomaly_reference(signals: Mapping[str, Any]) -> dict[str, Any] | None:
    """The compact reference kept with a version's metadata (``anomaly_reference``), from
    its reference profile's ``anomaly_score``/``anomaly_label`` signals; None without."""
    from mlserve.monitoring import signals as sig

    score, verdict = signals.get(sig.ANOMALY_SCORE), signals.get(sig.ANOMALY_LABEL)
    if not isinstance(score, Mapping) or not isinstance(verdict, Mapping):
        return None
    counts = dict(zip(verdict.get("categories", []), verdict.get("counts", []), strict=False))
    n = sum(int(c) for c in counts.values())
    return {
        "cuts": list(score.get("cuts", [])),
        "counts": list(score.get("counts", [])),
        "summary": dict(score.get("summary", {})),
        "outlier_share": int(counts.get("outlier", 0)) / n if n else None,
        "n": n,
    }


def _psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    from mlserve.platform.data_quality import psi

    return psi(expected, actual)


def anomaly_section(scores: Sequence[float], reference: Mapping[str, Any] | None) -> dict[str, Any]:
    """Summary of the live ``scores`` (finite ones) against ``reference`` (or None)."""
    values = np.asarray([s for s in scores if math.isfinite(s)], dtype=np.float64)
    section: dict[str, Any] = {"n": int(values.size), "direction": SCORE_DIRECTION}
    if values.size == 0:
        return section
    p05, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    section["outlier_share"] = float((values < 0).mean())
    section["score"] = {
        "mean": float(values.mean()),
        "p05": float(p05),
        "p50": float(p50),
        "p95": float(p95),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    if not reference:
        section["has_reference"] = False
        return section
    section["has_reference"] = True
    section["reference_outlier_share"] = reference.get("outlier_share")
    cuts = np.asarray(reference.get("cuts", []), dtype=np.float64)
    counts = np.asarray(reference.get("counts", []), dtype=np.float64)
    if counts.size == cuts.size + 1 and counts.sum() > 0:
        # The drift histograms' bins: (-inf, c1], (c1, c2], ..., (ck, inf); up to 50 of them,
        # too many for a PSI over a few hundred rows (sampling noise alone would read as
        # drift), so they are pooled into deciles of the reference mass, as for features.
        live = np.bincount(np.searchsorted(cuts, values, side="left"), minlength=counts.size)
        middle = (np.cumsum(counts) - counts / 2) / counts.sum()
        group = np.minimum((middle * PSI_BINS).astype(np.int64), PSI_BINS - 1)
        expected = np.bincount(group, weights=counts, minlength=PSI_BINS) / counts.sum()
        actual = np.bincount(group, weights=live, minlength=PSI_BINS) / values.size
        index = _psi(expected.tolist(), actual.tolist())
        section["score_psi"] = index
        section["status"] = "stable" if index < 0.1 else "moderate" if index < 0.25 else "drifted"
    return section
