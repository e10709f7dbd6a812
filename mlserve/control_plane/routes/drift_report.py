"""``GET /monitoring/drift/{model}/report``: a version's drift report as an HTML page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from mlserve.control_plane.errors import error_responses
from mlserve.monitoring.drift_report import render_html
from mlserve.monitoring.drift_report.live import LiveDriftReports


def _as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """``responses`` with their :class:`ErrorBody` spelled out as ``application/json``:
    FastAPI would document a ``model`` with the route's media type (``text/html`` here),
    while errors are always JSON (as the account pages do)."""
    spelled: dict[int | str, dict[str, Any]] = {}
    for status, entry in responses.items():
        rest = {k: v for k, v in entry.items() if k != "model"}
        schema = {"$ref": f"#/components/schemas/{entry['model'].__name__}"}
        spelled[status] = {**rest, "content": {"application/json": {"schema": schema}}}
    return spelled


_REPORT_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The report: a self-contained HTML page."},
    **_as_json(error_responses(404, 422)),
}


def drift_report_router(reports: LiveDriftReports) -> APIRouter:
    router = APIRouter(tags=["monitoring"])

    @router.get(
        "/monitoring/drift/{model}/report",
        response_class=HTMLResponse,
        responses=_REPORT_PAGE,
    )
    async def drift_report(
        model: Annotated[str, Path(description="The model, e.g. churn.")],
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
