"""The search itself (:mod:`mlserve.training.study`) with real Optuna, scikit-learn and the
boosters: successive halving prunes bad trials on subsamples, the time budget and cancel
stop it, subsamples keep the class shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mlserve.errors import InvalidInputError
from mlserve.training.options import TrainingOptions
from mlserve.training.study import (
    MIN_RUNG_ROWS,
    RUNGS,
    JobCancelledError,
    SearchResult,
    SearchRows,
    search,
    search_rows,
)


def xor_rows(n: int, seed: int = 0) -> tuple[Any, Any]:
    """A label no linear model can learn (XOR of two signs): most configurations are bad."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 6))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)
    flip = rng.random(n) < 0.05
    return x, np.where(flip, 1 - y, y)


def run(
    options: TrainingOptions, rows: SearchRows, cancelled: Callable[[], bool] = lambda: False
) -> tuple[SearchResult, list[str]]:
    lines: list[str] = []
    found = search(
        options,
        rows,
        cancelled=cancelled,
        log=lines.append,
        on_trial=lambda trial: None,
    )
    return found, lines


def test_bad_trials_stop_on_a_subsample() -> None:
    x, y = xor_rows(2400)
    rows = search_rows(x, y, classify=True, seed=0)
    options = TrainingOptions(target="y", n_optimization_trials=24, estimator="auto", seed=0)

    found, lines = run(options, rows)

    full = len(rows.y_fit)
    assert rows.sizes == [int(full * RUNGS[0]), int(full * RUNGS[1]), full]
    assert found.trials == 24
    assert found.full_fits < found.trials / 2
    assert found.pruned == found.trials - found.full_fits
    pruned_lines = [line for line in lines if ": pruned " in line]
    assert pruned_lines
    assert all(f"on {full} rows" not in line for line in pruned_lines)
    assert found.params["estimator"] in ("lightgbm", "xgboost")
    assert found.score > 0.85


def test_prefixes_keep_the_class_shares() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (3000, 3))
    y = (rng.random(3000) < 0.1).astype(int)  # 10% positives

    rows = search_rows(x, y, classify=True, seed=3)

    for size in rows.sizes:
        assert abs(rows.y_fit[:size].mean() - y.mean()) < 0.01
    assert len(rows.y_valid) == pytest.approx(0.25 * 3000, abs=1)
    assert sorted(map(tuple, np.vstack([rows.x_fit, rows.x_valid]))) == sorted(map(tuple, x))


def test_small_datasets_skip_the_small_fractions() -> None:
    x, y = xor_rows(150)

    rows = search_rows(x, y, classify=True, seed=0)

    assert rows.sizes == [len(rows.y_fit)]
    assert len(rows.y_fit) < MIN_RUNG_ROWS
    x, y = xor_rows(600)
    assert search_rows(x, y, classify=False, seed=0).sizes == [225, 450]


def test_a_fraction_missing_a_class_is_skipped() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (2000, 3))
    y = np.zeros(2000, dtype=int)
    y[:3] = 1  # three positives: the 20% prefix of the fit rows has none
    y[3:8] = 2

    rows = search_rows(x, y, classify=True, seed=0)

    for size in rows.sizes:
        assert set(rows.y_fit[:size]) == {0, 1, 2}
    assert rows.sizes == [len(rows.y_fit) // 2, len(rows.y_fit)]


def test_the_time_budget_stops_the_search() -> None:
    x, y = xor_rows(4000)
    rows = search_rows(x, y, classify=True, seed=0)
    options = TrainingOptions(
        target="y",
        n_optimization_trials=200,
        estimator="random_forest",
        time_budget_s=2.0,
        seed=0,
    )

    started = time.monotonic()
    found, _ = run(options, rows)
    elapsed = time.monotonic() - started

    assert found.trials < 200
    assert found.full_fits >= 1
    # no fit starts after the budget: at most one fit (a random forest on 3000 rows,
    # well under 10 s even on a busy machine) runs past it
    assert elapsed < 2.0 + 10.0


def test_cancel_stops_before_the_next_fit() -> None:
    x, y = xor_rows(1000)
    rows = search_rows(x, y, classify=True, seed=0)
    options = TrainingOptions(target="y", n_optimization_trials=50, seed=0)
    calls = iter(range(10**6))

    with pytest.raises(JobCancelledError):
        run(options, rows, cancelled=lambda: next(calls) >= 2)


def test_regression_and_lower_is_better_metrics() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (1500, 4))
    y = x[:, 0] * 3 + np.sin(x[:, 1] * 2) + rng.normal(0, 0.1, 1500)
    rows = search_rows(x, y, classify=False, seed=0)
    options = TrainingOptions(
        target="y", task="regression", metric="rmse", n_optimization_trials=12, seed=0
    )

    found, _ = run(options, rows)

    assert 0 < found.score < float(np.std(y))
    assert found.full_fits < found.trials


def test_optimize_false_is_one_default_fit() -> None:
    x, y = xor_rows(800)
    rows = search_rows(x, y, classify=True, seed=0)
    options = TrainingOptions(target="y", optimize=False)

    found, lines = run(options, rows)

    assert (found.trials, found.full_fits, lines) == (1, 1, [])
    assert found.params == {"estimator": "lightgbm"}


def test_no_completed_trial_is_a_clear_error() -> None:
    x = np.random.default_rng(0).normal(0, 1, (300, 2))
    y = np.arange(300) % 2
    x[:, 0] = np.nan  # logistic regression refuses NaN: every trial fails
    rows = search_rows(x, y, classify=True, seed=0)
    options = TrainingOptions(target="y", estimator="logistic_regression", n_optimization_trials=3)

    with pytest.raises(InvalidInputError, match="no trial completed"):
        run(options, rows)


def test_a_class_of_one_row_is_not_stratified() -> None:
    x, y = xor_rows(400)
    y[0] = 2  # a third class with a single row

    rows = search_rows(x, y, classify=True, seed=0)

    assert len(rows.y_fit) + len(rows.y_valid) == 400
    assert rows.sizes[-1] == len(rows.y_fit)
