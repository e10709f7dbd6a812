"""Churn analysis of an uploaded customer CSV: who is likely to leave, what it would cost,
and how large a retention discount each customer merits.

Two documented CSV shapes (a header row, UTF-8, comma-separated):

- **transactions**: ``customer_id, date, amount`` (one row per purchase; ``date`` is
  ISO ``YYYY-MM-DD``). The model learns from the data itself: with a horizon ``H`` (90
  days, or a third of the data's span when shorter), features are computed from the
  purchases before ``end - H`` and a customer counts as churned when they bought nothing in
  the last ``H`` days; the fitted model then scores every customer on their full history
  (risk of buying nothing in the next ``H`` days).
- **customers**: ``customer_id, recency_days, frequency, monetary, churned`` (plus an
  optional ``tenure_days``): one row per customer with a known 0/1 ``churned`` label.

The model is a logistic regression on ``log1p`` of recency, frequency, monetary value (and
tenure), standardized. Per customer: ``churn_risk`` (probability), ``spend`` (monetary
value), ``expected_loss = churn_risk * spend`` and ``suggested_discount =
max_discount_fraction * expected_loss``: never above ``max_discount_fraction`` of the
customer's spend, and proportional to the expected loss.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from mlserve.errors import InvalidInputError

MAX_CSV_BYTES = 32 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_CUSTOMERS = 100_000
DEFAULT_HORIZON_DAYS = 90
MIN_SPAN_DAYS = 21
TRANSACTION_COLUMNS = ("customer_id", "date", "amount")
CUSTOMER_COLUMNS = ("customer_id", "recency_days", "frequency", "monetary", "churned")
_SHAPES = (
    "upload either transactions (columns customer_id, date, amount) or customers "
    "(columns customer_id, recency_days, frequency, monetary, churned)"
)


@dataclass
class _Customers:
    ids: list[str]
    features: npt.NDArray[np.float64]
    feature_names: list[str]
    spend: npt.NDArray[np.float64]


def _rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    if len(content) > MAX_CSV_BYTES:
        raise InvalidInputError(
            f"csv_file is {len(content) / 2**20:.1f} MB; the limit is "
            f"{MAX_CSV_BYTES / 2**20:.0f} MB — aggregate or split the file"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("csv_file is not UTF-8 text; export the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise InvalidInputError(f"csv_file is empty or has no header row; {_SHAPES}")
    reader.fieldnames = header
    rows = []
    for row in reader:
        rows.append(row)
        if len(rows) > MAX_ROWS:
            raise InvalidInputError(f"csv_file has more than {MAX_ROWS} rows; split it")
    if not rows:
        raise InvalidInputError("csv_file has a header but no data rows")
    return header, rows


def _number(row: dict[str, str], column: str, line: int) -> float:
    raw = (row.get(column) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(
            f"csv_file line {line}: {column} must be a number (got {raw!r})"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(
            f"csv_file line {line}: {column} must be a finite number >= 0 (got {raw!r})"
        )
    return value


def _customer_id(row: dict[str, str], line: int) -> str:
    value = (row.get("customer_id") or "").strip()
    if not value or len(value) > 128:
        raise InvalidInputError(f"csv_file line {line}: customer_id must be 1-128 characters")
    return value


def _from_customers(rows: list[dict[str, str]], has_tenure: bool) -> tuple[_Customers, Any]:
    names = ["recency_days", "frequency", "monetary"] + (["tenure_days"] if has_tenure else [])
    ids, features, labels, seen = [], [], [], set()
    for i, row in enumerate(rows, start=2):
        cid = _customer_id(row, i)
        if cid in seen:
            raise InvalidInputError(f"csv_file line {i}: customer_id {cid!r} appears twice")
        seen.add(cid)
        label = (row.get("churned") or "").strip().lower()
        if label not in ("0", "1", "true", "false"):
            raise InvalidInputError(
                f"csv_file line {i}: churned must be 0 or 1 (got {row.get('churned')!r})"
            )
        ids.append(cid)
        features.append([_number(row, n, i) for n in names])
        labels.append(1 if label in ("1", "true") else 0)
    x = np.asarray(features)
    customers = _Customers(ids, x, names, x[:, names.index("monetary")])
    return customers, (x, np.asarray(labels))


def _parse_date(row: dict[str, str], line: int) -> date:
    raw = (row.get("date") or "").strip()
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise InvalidInputError(
            f"csv_file line {line}: date must be ISO YYYY-MM-DD (got {raw!r})"
        ) from None


def _rfm(
    purchases: dict[str, list[tuple[int, float]]], until: int
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """recency, frequency, monetary, tenure (days) of purchases before day ``until``."""
    ids, rows = [], []
    for cid, items in purchases.items():
        before = [(d, a) for d, a in items if d < until]
        if not before:
            continue
        days = [d for d, _ in before]
        ids.append(cid)
        rows.append([until - max(days), len(before), sum(a for _, a in before), until - min(days)])
    return ids, np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def _from_transactions(rows: list[dict[str, str]]) -> tuple[_Customers, Any, int]:
    purchases: dict[str, list[tuple[int, float]]] = {}
    for i, row in enumerate(rows, start=2):
        cid = _customer_id(row, i)
        day = _parse_date(row, i).toordinal()
        purchases.setdefault(cid, []).append((day, _number(row, "amount", i)))
        if len(purchases) > MAX_CUSTOMERS:
            raise InvalidInputError(f"csv_file has more than {MAX_CUSTOMERS} customers; split it")
    days = [d for items in purchases.values() for d, _ in items]
    first, end = min(days), max(days) + 1
    span = end - first
    if span < MIN_SPAN_DAYS:
        raise InvalidInputError(
            f"the transactions span {span} days; at least {MIN_SPAN_DAYS} are needed to learn "
            "who stops buying — upload a longer history or customer rows with a churned label"
        )
    horizon = min(DEFAULT_HORIZON_DAYS, span // 3)
    cutoff = end - horizon
    train_ids, train_x = _rfm(purchases, cutoff)
    labels = np.asarray(
        [0 if any(d >= cutoff for d, _ in purchases[cid]) else 1 for cid in train_ids]
    )
    ids, x = _rfm(purchases, end)
    names = ["recency_days", "frequency", "monetary", "tenure_days"]
    return _Customers(ids, x, names, x[:, 2]), (train_x, labels), horizon


def _fit_and_score(
    train_x: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], x: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        state = "churned" if positives else "active"
        raise InvalidInputError(
            f"every customer in the training data is {state}: a churn model needs both "
            "churned and retained customers — upload more customers or a longer history"
        )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(np.log1p(train_x), labels)
    risk = model.predict_proba(np.log1p(x))[:, 1]
    auc = roc_auc_score(labels, model.predict_proba(np.log1p(train_x))[:, 1])
    return risk, {
        "type": "logistic_regression",
        "training_customers": len(labels),
        "training_churn_rate": round(positives / len(labels), 4),
        "training_auc": round(float(auc), 4),
    }


def analyze_churn(content: bytes, max_discount_fraction: float) -> dict[str, Any]:
    """The analysis of one upload: ``{"summary": {...}, "customers": [...]}`` with
    customers sorted by expected loss, largest first."""
    if not 0.0 <= max_discount_fraction <= 1.0 or math.isnan(max_discount_fraction):
        raise InvalidInputError(
            f"max_discount_fraction must be between 0 and 1 (got {max_discount_fraction}); "
            "e.g. 0.2 offers at most 20% of a customer's spend"
        )
    header, rows = _rows(content)
    horizon: int | None = None
    if all(c in header for c in CUSTOMER_COLUMNS):
        customers, (train_x, labels) = _from_customers(rows, "tenure_days" in header)
        shape = "customers"
    elif all(c in header for c in TRANSACTION_COLUMNS):
        customers, (train_x, labels), horizon = _from_transactions(rows)
        shape = "transactions"
    else:
        raise InvalidInputError(f"csv_file has columns {header}; {_SHAPES}")
    if len(customers.ids) > MAX_CUSTOMERS:
        raise InvalidInputError(f"csv_file has more than {MAX_CUSTOMERS} customers; split it")
    risk, model = _fit_and_score(train_x, labels, customers.features)
    spend = customers.spend
    expected_loss = risk * spend
    discount = max_discount_fraction * expected_loss
    order = np.argsort(-expected_loss, kind="stable")
    rows_out = []
    for i in order:
        row: dict[str, Any] = {"customer_id": customers.ids[i]}
        row.update(
            {
                n: float(v)
                for n, v in zip(customers.feature_names, customers.features[i], strict=True)
            }
        )
        row.update(
            {
                "spend": round(float(spend[i]), 2),
                "churn_risk": round(float(risk[i]), 6),
                "risk_band": "high" if risk[i] >= 0.6 else "medium" if risk[i] >= 0.3 else "low",
                "expected_loss": round(float(expected_loss[i]), 2),
                "suggested_discount": math.floor(float(discount[i]) * 100) / 100,
                "suggested_discount_fraction": round(float(max_discount_fraction * risk[i]), 4),
            }
        )
        rows_out.append(row)
    summary = {
        "input_shape": shape,
        "n_customers": len(rows_out),
        "horizon_days": horizon,
        "average_churn_risk": round(float(risk.mean()), 4),
        "high_risk_customers": int((risk >= 0.6).sum()),
        "total_spend": round(float(spend.sum()), 2),
        "expected_revenue_at_risk": round(float(expected_loss.sum()), 2),
        "total_suggested_discount": round(sum(r["suggested_discount"] for r in rows_out), 2),
        "max_discount_fraction": max_discount_fraction,
        "features": customers.feature_names,
        "model": model,
        "analyzed_at": datetime.now(UTC).isoformat(),
    }
    return {"summary": summary, "customers": rows_out}
