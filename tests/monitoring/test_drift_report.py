"""Drift reports: column tests, S3's dataset verdict, CSV sources, the HTML page, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlserve.errors import InvalidInputError, NotFoundError
from mlserve.monitoring.drift_report import (
    DriftPolicy,
    parse_window,
    render_html,
    report_from_csv,
    report_from_window,
)
from mlserve.monitoring.profile import compute_tabular_profile, compute_text_profile
from tests.support.cli import run_mlserve


def frame(n: int, *, shift: float = 0.0, seed: int = 0, shifted_columns: int = 4) -> pd.DataFrame:
    """Four numeric columns and one categorical; the first ``shifted_columns`` move."""
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(4):
        data[f"x{i}"] = rng.normal(shift if i < shifted_columns else 0.0, 1.0, n)
    weights = [0.6, 0.3, 0.1] if shift == 0 else [0.2, 0.3, 0.5]
    data["colour"] = rng.choice(["red", "green", "blue"], n, p=weights)
    return pd.DataFrame(data)


def write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def test_same_distribution_is_no_drift(tmp_path: Path) -> None:
    ref = write(frame(1000, seed=1), tmp_path / "ref.csv")
    cur = write(frame(500, seed=3), tmp_path / "cur.csv")

    report = report_from_csv(ref, cur, policy=DriftPolicy())

    assert report.verdict == "no drift"
    assert [c.name for c in report.columns] == ["x0", "x1", "x2", "x3", "colour"]
    assert [c.kind for c in report.columns] == ["numeric"] * 4 + ["categorical"]
    assert report.drifted_columns == []
    assert all(c.psi < 0.1 for c in report.columns)


def test_shifted_columns_drift_and_the_share_decides(tmp_path: Path) -> None:
    ref = write(frame(1000, seed=1), tmp_path / "ref.csv")
    # x0, x1 and colour move: 3 of 5 columns.
    cur = write(frame(500, shift=1.0, seed=3, shifted_columns=2), tmp_path / "cur.csv")

    report = report_from_csv(ref, cur, policy=DriftPolicy())
    drifted = {c.name for c in report.drifted_columns}

    assert drifted == {"x0", "x1", "colour"}
    assert report.drifted_share == pytest.approx(0.6)
    assert report.verdict == "drift"
    assert report_from_csv(ref, cur, policy=DriftPolicy(drift_share=0.8)).verdict == "no drift"
    by_name = {c.name: c for c in report.columns}
    assert by_name["x0"].test == "ks"
    assert by_name["x0"].p_value < 1e-6
    assert by_name["colour"].test == "chi-square"
    assert by_name["x0"].psi > 0.25


def test_fewer_rows_than_the_policy_are_not_judged(tmp_path: Path) -> None:
    ref = write(frame(1000, seed=1), tmp_path / "ref.csv")
    cur = write(frame(150, shift=2.0, seed=3), tmp_path / "cur.csv")

    report = report_from_csv(ref, cur, policy=DriftPolicy(min_rows=200))

    assert report.verdict == "not enough data"
    assert len(report.drifted_columns) == 5  # columns still show what moved
    assert report_from_csv(ref, cur, policy=DriftPolicy(min_rows=100)).verdict == "drift"


def test_csv_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    ref = write(frame(100), tmp_path / "ref.csv")
    other = write(pd.DataFrame({"a": range(100)}), tmp_path / "other.csv")
    tiny = write(frame(10), tmp_path / "tiny.csv")
    with pytest.raises(NotFoundError, match=r"current CSV .*missing.csv.* does not exist"):
        report_from_csv(ref, tmp_path / "missing.csv", policy=DriftPolicy())
    with pytest.raises(InvalidInputError, match="share no column"):
        report_from_csv(ref, other, policy=DriftPolicy())
    with pytest.raises(InvalidInputError, match="has 10 rows; a reference needs at least 30"):
        report_from_csv(tiny, ref, policy=DriftPolicy())
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidInputError, match=r"reference CSV .* cannot be read"):
        report_from_csv(tmp_path / "empty.csv", ref, policy=DriftPolicy())


def test_window_report_of_a_text_version() -> None:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "battery", "screen", "great", "awful"]
    texts = [" ".join(rng.choice(words, rng.integers(3, 12))) for _ in range(300)]
    probabilities = rng.dirichlet([1, 1], 300)
    profile = compute_text_profile(texts, probabilities, ["neg", "pos"], vocabulary=words)
    live = [{"text": "!!! 12345 ??? " * int(n)} for n in rng.integers(5, 20, 300)]

    report = report_from_window("reviews", 3, profile, live, window="24h", policy=DriftPolicy())

    assert [c.name for c in report.columns] == ["text_length", "non_letter_share", "oov_rate"]
    assert report.verdict == "drift"
    assert report.current_rows == 300
    assert "reviews v3, last 24h" in report.title


def test_window_report_without_reference_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="has no reference profile"):
        report_from_window("m", 1, None, [], window="24h", policy=DriftPolicy())


def test_window_report_of_a_tabular_version() -> None:
    records = frame(400, seed=1).to_dict(orient="records")
    profile = compute_tabular_profile(records, ["x0", "colour"])
    live = frame(300, shift=1.0, seed=3).to_dict(orient="records")

    report = report_from_window("churn", 1, profile, live, window="1h", policy=DriftPolicy())

    assert [c.name for c in report.columns] == ["x0", "colour"]
    assert report.verdict == "drift"


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("24h", 86400), ("7d", 604800)])
def test_parse_window(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "-1h", "31d", "1y"])
def test_parse_window_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError, match="window"):
        parse_window(text)


def test_html_is_self_contained_and_escapes_names(tmp_path: Path) -> None:
    df = frame(300, seed=1).rename(columns={"x0": "<script>alert(1)</script>"})
    ref = write(df, tmp_path / "ref.csv")
    cur = write(
        frame(300, seed=3).rename(columns={"x0": "<script>alert(1)</script>"}), tmp_path / "c.csv"
    )

    html = render_html(report_from_csv(ref, cur, policy=DriftPolicy()))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert html.count('<svg class="dist"') == 5


def test_cli_writes_the_report_and_refuses_bad_arguments(tmp_path: Path) -> None:
    ref = write(frame(1000, seed=1), tmp_path / "ref.csv")
    cur = write(frame(500, shift=1.0, seed=3), tmp_path / "cur.csv")
    out = tmp_path / "report.html"

    done = run_mlserve(
        "drift", "report", "churn", "--reference", str(ref), "--current", str(cur), "-o", str(out)
    )

    assert done.returncode == 0, done.stderr
    assert "churn: drift (100% of columns drifted)" in done.stdout
    assert out.read_text().startswith("<!DOCTYPE html>")
    for args, message in [
        (["--reference", str(ref)], "--reference and --current go together"),
        ([], "give either --reference and --current"),
        (["--reference", str(ref), "--current", str(cur), "--window", "1h"], "give either"),
        (["--reference", str(ref), "--current", str(tmp_path / "nope.csv")], "does not exist"),
    ]:
        bad = run_mlserve("drift", "report", "churn", "-o", str(tmp_path / "x.html"), *args)
        assert bad.returncode == 1, args
        assert message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
