"""The parity rule: labels must agree except on ties, scores within the tolerance, and the
rows must exercise the model."""

from __future__ import annotations

import numpy as np

from mlserve.converters.base import compare_outputs, tie_rows

LABELS = ["a", "b", "c"]


def test_an_exact_tie_broken_differently_is_a_tie_not_a_mismatch() -> None:
    native = [[1 / 3, 1 / 3, 1 / 3], [0.7, 0.2, 0.1]]
    served = [[1 / 3, 1 / 3 + 1e-8, 1 / 3 - 1e-8], [0.7, 0.2, 0.1]]

    report = compare_outputs(["zero row", "real row"], native, served, labels=LABELS)

    assert report.passed, report.summary()
    assert (report.ties, report.label_mismatches, report.over_tolerance) == (1, 0, 0)
    assert "1 ties" in report.summary()


def test_a_near_tie_within_the_tolerance_is_a_tie() -> None:
    native = [[0.50004, 0.49996], [0.9, 0.1]]
    served = [[0.49999, 0.50001], [0.9, 0.1]]

    report = compare_outputs(["near", "far"], native, served, labels=["x", "y"])

    assert report.ties == 1
    assert report.passed


def test_a_flip_beyond_the_tolerance_is_a_label_mismatch_with_the_worst_input() -> None:
    native = [[0.5003, 0.4997], [0.9, 0.1], [0.2, 0.8]]
    served = [[0.4999, 0.5001], [0.9, 0.1], [0.2, 0.8]]

    report = compare_outputs(["flips", "same", "same too"], native, served, labels=["x", "y"])

    assert not report.passed
    assert (report.ties, report.label_mismatches, report.over_tolerance) == (0, 1, 1)
    worst = report.mismatches[0]
    assert (worst["native_label"], worst["served_label"], worst["input"]) == ("x", "y", "flips")
    summary = report.summary()
    assert "1 label mismatches beyond ties, 1 rows over tolerance" in summary
    assert "'flips' native x vs served y" in summary


def test_worst_inputs_are_sorted_label_flips_first_and_capped_at_ten() -> None:
    rng = np.random.default_rng(0)
    native = rng.dirichlet([1, 1, 1], size=40)
    served = native + rng.uniform(2e-4, 1e-3, size=native.shape)
    served[7] = native[7][::-1]

    report = compare_outputs([f"row {i}" for i in range(40)], native, served, labels=LABELS)

    assert report.over_tolerance == 40
    assert len(report.mismatches) == 10
    assert report.mismatches[0]["index"] == 7
    diffs = [m["max_abs_diff"] for m in report.mismatches[1:]]
    assert diffs == sorted(diffs, reverse=True)


def test_rows_that_do_not_reach_the_model_make_the_set_unrepresentative() -> None:
    native = np.tile([0.2, 0.3, 0.5], (10, 1)) + np.arange(10)[:, None] * 1e-3
    exercised = [True] * 4 + [False] * 6

    report = compare_outputs(
        [str(i) for i in range(10)],
        native,
        native,
        exercised=exercised,
        exercised_reason="have no in-vocabulary token",
    )

    assert not report.passed
    assert report.unrepresentative == "6 of 10 rows have no in-vocabulary token"
    assert "--samples" in report.summary()
    assert "--background" in report.summary()


def test_all_rows_tying_or_alike_is_unrepresentative() -> None:
    same = [[0.1, 0.9], [0.1, 0.9]]
    ties = compare_outputs(["a", "b"], [[0.5, 0.5]] * 2, [[0.5, 0.5]] * 2, check_variety=True)
    alike = compare_outputs(["a", "b"], same, same, check_variety=True)
    assert compare_outputs(["a", "b"], same, same).passed  # converters opt in

    assert ties.unrepresentative == "all 2 rows tie between their top two scores"
    assert alike.unrepresentative == "all 2 rows give the same output"
    assert not ties.passed
    assert not alike.passed


def test_tie_rows_compare_the_top_two_scores() -> None:
    native = np.array([[0.4, 0.4, 0.2], [0.45, 0.1, 0.45005], [0.5, 0.3, 0.2], [1.0, 0.0, 0.0]])

    assert tie_rows(native, 1e-4).tolist() == [True, True, False, False]
    assert tie_rows(np.array([[0.3], [0.3]]), 1e-4).tolist() == [False, False]
