"""Churn analysis: the model on generated customers (who stops buying is learnable), the
discount rules, per-account insights over ASGI, and clear answers to bad uploads."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import numpy as np
import pytest

from mlserve.errors import InvalidInputError
from mlserve.platform.churn import analyze_churn
from tests.platform.conftest import Harness


def transactions_csv(n_customers: int = 300, seed: int = 0) -> tuple[bytes, set[str]]:
    """A year of purchases; customers with low engagement stop buying at a random day.
    Returns the CSV and the ids of customers who stopped before the last 90 days."""
    rng = np.random.default_rng(seed)
    start = date(2025, 1, 1)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["customer_id", "date", "amount"])
    lapsed = set()
    for c in range(n_customers):
        rate = rng.uniform(0.01, 0.15)  # purchases per day
        stops = rng.random() < 0.5 * (1 - rate / 0.15) + 0.1
        last_day = int(rng.integers(60, 250)) if stops else 365
        if last_day < 275:
            lapsed.add(f"c{c}")
        days = [d for d in range(last_day) if rng.random() < rate] or [0]
        for d in days:
            writer.writerow(
                [f"c{c}", (start + timedelta(days=d)).isoformat(), f"{rng.uniform(5, 120):.2f}"]
            )
    return out.getvalue().encode(), lapsed


def test_transactions_learn_who_lapses_and_discounts_follow_expected_loss() -> None:
    content, lapsed = transactions_csv()
    result = analyze_churn(content, 0.2)
    summary, customers = result["summary"], result["customers"]
    assert summary["input_shape"] == "transactions"
    assert summary["horizon_days"] == 90
    assert summary["model"]["training_auc"] > 0.8
    risk = {c["customer_id"]: c["churn_risk"] for c in customers}
    lapsed_risk = np.mean([risk[c] for c in lapsed])
    active_risk = np.mean([r for c, r in risk.items() if c not in lapsed])
    assert lapsed_risk > active_risk + 0.3, (lapsed_risk, active_risk)
    for c in customers:
        assert 0 <= c["suggested_discount"] <= 0.2 * c["spend"] + 1e-9
        assert c["expected_loss"] == pytest.approx(c["churn_risk"] * c["spend"], rel=1e-3, abs=0.02)
    losses = [c["expected_loss"] for c in customers]
    discounts = [c["suggested_discount"] for c in customers]
    assert losses == sorted(losses, reverse=True)
    assert discounts == sorted(discounts, reverse=True)
    assert summary["total_suggested_discount"] <= 0.2 * summary["total_spend"]
    assert analyze_churn(content, 0.0)["summary"]["total_suggested_discount"] == 0


def test_customer_rows_with_labels() -> None:
    rng = np.random.default_rng(1)
    lines = ["customer_id,recency_days,frequency,monetary,churned"]
    for i in range(200):
        churned = int(rng.random() < 0.4)
        recency = rng.uniform(60, 300) if churned else rng.uniform(0, 60)
        lines.append(
            f"u{i},{recency:.0f},{rng.integers(1, 30)},{rng.uniform(10, 900):.2f},{churned}"
        )
    result = analyze_churn("\n".join(lines).encode(), 0.3)
    assert result["summary"]["input_shape"] == "customers"
    assert result["summary"]["model"]["training_auc"] > 0.9
    assert all(c["suggested_discount"] <= 0.3 * c["spend"] + 1e-9 for c in result["customers"])


@pytest.mark.parametrize(
    ("content", "fraction", "message"),
    [
        (b"id,when,value\n1,2025-01-01,3\n", 0.2, "csv_file has columns ['id', 'when', 'value']"),
        (b"customer_id,date,amount\nc1,2025-01-01,abc\n", 0.2, "line 2: amount must be a number"),
        (b"customer_id,date,amount\nc1,01/02/2025,3\n", 0.2, "line 2: date must be ISO"),
        (
            b"customer_id,date,amount\nc1,2025-01-01,-3\n",
            0.2,
            "amount must be a finite number >= 0",
        ),
        (b"customer_id,date,amount\nc1,2025-01-01,3\nc1,2025-01-05,3\n", 0.2, "span 5 days"),
        (b"customer_id,date,amount\n", 0.2, "no data rows"),
        (b"", 0.2, "no header row"),
        (b"\xff\xfe", 0.2, "not UTF-8"),
        (
            b"customer_id,recency_days,frequency,monetary,churned\na,1,1,1,0\nb,2,2,2,0\n",
            0.2,
            "every customer in the training data is active",
        ),
        (
            b"customer_id,recency_days,frequency,monetary,churned\na,1,1,1,maybe\n",
            0.2,
            "churned must be 0 or 1",
        ),
        (b"customer_id,date,amount\nc1,2025-01-01,3\n", 1.5, "max_discount_fraction must be"),
        (b"customer_id,date,amount\nc1,2025-01-01,3\n", float("nan"), "max_discount_fraction"),
    ],
)
def test_bad_uploads_name_the_problem(content: bytes, fraction: float, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        analyze_churn(content, fraction)
    assert message in caught.value.message


async def test_analysis_and_insights_per_account(harness: Harness) -> None:
    h = harness
    content, _ = transactions_csv(120, seed=3)
    empty = await h.client.get("/api/v1/churn/insights", headers=h.admin)
    assert empty.status_code == 200
    assert empty.json()["has_results"] is False
    analyzed = await h.client.post(
        "/api/v1/churn/analysis",
        headers=h.admin,
        data={"max_discount_fraction": "0.25"},
        files={"csv_file": ("tx.csv", content, "text/csv")},
    )
    assert analyzed.status_code == 200, analyzed.text
    body = analyzed.json()
    assert body["summary"]["n_customers"] == len(body["customers"]) == 120
    assert body["summary"]["max_discount_fraction"] == 0.25
    top = await h.client.get("/api/v1/churn/insights", params={"limit": 5}, headers=h.admin)
    assert top.json()["has_results"] is True
    assert top.json()["customers"] == body["customers"][:5]
    _, other = await h.make_user("other-analyst")
    theirs = await h.client.get("/api/v1/churn/insights", headers=h.auth(other))
    assert theirs.json()["has_results"] is False

    no_file = await h.client.post(
        "/api/v1/churn/analysis",
        headers=h.admin,
        data={"max_discount_fraction": "0.2"},
        files={"other": ("x.csv", b"a", "text/csv")},
    )
    assert no_file.status_code == 422
    assert "csv_file is required" in no_file.json()["error"]
    bad_fraction = await h.client.post(
        "/api/v1/churn/analysis",
        headers=h.admin,
        data={"max_discount_fraction": "lots"},
        files={"csv_file": ("tx.csv", content, "text/csv")},
    )
    assert bad_fraction.status_code == 422
    assert "max_discount_fraction must be a number" in bad_fraction.json()["error"]
    bad_limit = await h.client.get("/api/v1/churn/insights?limit=0", headers=h.admin)
    assert bad_limit.status_code == 422
    anonymous = await h.client.get("/api/v1/churn/insights")
    assert anonymous.status_code == 401
