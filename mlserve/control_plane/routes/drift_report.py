"""``GET /monitoring/drift/{model}/report``: a version's drift report as an HTML page."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from mlserve.monitoring.drift_report import render_html
from mlserve.monitoring.drift_report.live import LiveDriftReports


def drift_report_router(reports: LiveDriftReports) -> APIRouter:
    router = APIRouter(tags=["monitoring"])

    @router.get("/monitoring/drift/{model}/report", response_class=HTMLResponse)
    async def drift_report(
        model: str,
        version: Annotated[
            int | None, Query(ge=1, description="Version (default: the newest).")
        ] = None,
        window: Annotated[
            str, Query(max_length=16, description="Live traffic window: 30m, 24h, 7d.")
        ] = "24h",
    ) -> HTMLResponse:
        """Reference profile vs the version's predictions over ``window``, per column:
        both distributions, test statistic, p-value, PSI, verdict; a self-contained page."""
        report = await reports.report(model, version, window)
        return HTMLResponse(await asyncio.to_thread(render_html, report))

    return router
