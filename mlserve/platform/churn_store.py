"""Churn analyses stored per account (``churn:<user id>``, the latest analysis only).

``insights`` answers what the 0.4.0 client's ``churn_insights`` reads: ``has_results``,
``summary`` and the ``customers`` with the largest expected loss first (``limit`` of them).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mlserve.platform.churn import analyze_churn
from mlserve.platform.store import StateStore


class ChurnAnalyses:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def analyze(
        self, user_id: int, content: bytes, max_discount_fraction: float
    ) -> dict[str, Any]:
        result = await asyncio.to_thread(analyze_churn, content, max_discount_fraction)
        await self._store.set(f"churn:{user_id}", json.dumps(result))
        n = result["summary"]["n_customers"]
        at_risk = result["summary"]["expected_revenue_at_risk"]
        return {
            "message": f"analyzed {n} customers; expected revenue at risk {at_risk:.2f}",
            **result,
        }

    async def insights(self, user_id: int, limit: int) -> dict[str, Any]:
        raw = await self._store.get(f"churn:{user_id}")
        if raw is None:
            return {
                "has_results": False,
                "summary": None,
                "customers": [],
                "message": "no churn analysis yet: upload a CSV to POST /api/v1/churn/analysis",
            }
        result = json.loads(raw)
        return {
            "has_results": True,
            "summary": result["summary"],
            "customers": result["customers"][:limit],
        }
