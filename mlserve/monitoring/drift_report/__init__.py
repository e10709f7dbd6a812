"""Drift reports a person reads: two samples, column by column, as a self-contained HTML page.

Usage::

    report = report_from_csv(Path("ref.csv"), Path("cur.csv"), policy=DriftPolicy())
    Path("report.html").write_text(render_html(report))
"""

from mlserve.monitoring.drift_report.compare import (
    ColumnDrift,
    DatasetDrift,
    DriftPolicy,
    compare_dataset,
)
from mlserve.monitoring.drift_report.html import render_html
from mlserve.monitoring.drift_report.sources import (
    parse_window,
    report_from_csv,
    report_from_window,
)

__all__ = [
    "ColumnDrift",
    "DatasetDrift",
    "DriftPolicy",
    "compare_dataset",
    "parse_window",
    "render_html",
    "report_from_csv",
    "report_from_window",
]
