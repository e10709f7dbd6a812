"""A :class:`DatasetDrift` as one self-contained HTML page.

No scripts, fonts or images are fetched: styles are inline and every chart is an inline
SVG (grouped bars, reference vs current share per bin), so the file can be mailed or
archived and opened offline. Every text that came from data (column names, categories,
labels) is escaped.
"""

from __future__ import annotations

import time
from html import escape

from mlserve.monitoring.drift_report.compare import ColumnDrift, DatasetDrift

_WIDTH = 640
_HEIGHT = 180
_PAD_LEFT = 44
_PAD_BOTTOM = 22
_REFERENCE_COLOUR = "#4c78a8"
_CURRENT_COLOUR = "#f58518"

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#555;margin:0 0 16px}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;font-weight:600}
.verdict.drift{background:#fde2e1;color:#a51d1d}
.verdict.no-drift{background:#e1f5e4;color:#1d6b2c}
.verdict.not-enough-data{background:#eee;color:#444}
table{border-collapse:collapse;margin:16px 0}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;font-size:14px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.yes{color:#a51d1d;font-weight:600}
section.column{margin:18px 0;padding-top:8px;border-top:1px solid #eee}
section.column h2{font-size:16px;margin:0 0 4px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
svg.dist text{font-size:10px;fill:#555}
"""


def render_html(report: DatasetDrift) -> str:
    """The whole page."""
    verdict = report.verdict
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.generated_at))
    policy = report.policy
    rows = "".join(_summary_row(c) for c in report.columns)
    sections = "".join(_column_section(c) for c in report.columns)
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<title>{escape(report.title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{escape(report.title)}</h1>
<p class="sub">Reference: {escape(report.reference_label)} ({report.reference_rows} rows)
&middot; Current: {escape(report.current_label)} ({report.current_rows} rows)
&middot; generated {when}</p>
<p><span class="verdict {verdict.replace(" ", "-")}" id="verdict">Dataset: {verdict}</span>
&nbsp;{len(report.drifted_columns)} of {len(report.tested_columns)} tested columns drifted
({report.drifted_share:.0%}); drift when at least {policy.drift_share:.0%} of the columns
drift (p &lt; {policy.column_alpha:g}) with at least {policy.min_rows} rows on each side.</p>
{f"<ul class='notes'>{notes}</ul>" if notes else ""}
<table id="columns"><thead><tr><th>column</th><th>type</th><th>test</th>
<th>statistic</th><th>p-value</th><th>PSI</th><th>current values</th><th>drifted</th></tr>
</thead><tbody>{rows}</tbody></table>
<p class="legend">Charts: share of values per bin
<span style="background:{_REFERENCE_COLOUR}"></span>reference
<span style="background:{_CURRENT_COLOUR}"></span>current</p>
{sections}
</body></html>
"""


def _summary_row(column: ColumnDrift) -> str:
    if not column.tested:
        drifted = "not tested (too few values)"
    else:
        drifted = '<span class="yes">yes</span>' if column.drifted else "no"
    return (
        f"<tr><td>{escape(column.name)}</td><td>{column.kind}</td><td>{column.test}</td>"
        f'<td class="num">{column.statistic:.4g}</td><td class="num">{column.p_value:.3g}</td>'
        f'<td class="num">{column.psi:.3f}</td><td class="num">{column.current_n}</td>'
        f"<td>{drifted}</td></tr>"
    )


def _column_section(column: ColumnDrift) -> str:
    state = "drifted" if column.drifted else "stable"
    return (
        f'<section class="column {state}"><h2>{escape(column.name)}: '
        f"{'drifted' if column.drifted else 'no drift'}</h2>"
        f"<p class='sub'>{column.test} statistic {column.statistic:.4g}, p-value "
        f"{column.p_value:.3g}, PSI {column.psi:.3f}</p>{_bars_svg(column)}</section>"
    )


def _bars_svg(column: ColumnDrift) -> str:
    """Grouped bars: one group per bin, reference then current."""
    n = max(len(column.bins), 1)
    top = max([*column.reference_shares, *column.current_shares, 1e-9])
    plot_w = _WIDTH - _PAD_LEFT - 8
    plot_h = _HEIGHT - _PAD_BOTTOM - 8
    group = plot_w / n
    bar = max(group * 0.4, 0.5)
    parts = [
        f'<svg class="dist" role="img" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(column.name)}: reference vs current</title>",
        f'<line x1="{_PAD_LEFT}" y1="{8 + plot_h}" x2="{_WIDTH - 8}" y2="{8 + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{_PAD_LEFT - 4}" y="14" text-anchor="end">{top:.0%}</text>',
        f'<text x="{_PAD_LEFT - 4}" y="{8 + plot_h}" text-anchor="end">0%</text>',
    ]
    shares = zip(column.bins, column.reference_shares, column.current_shares, strict=True)
    for i, (label, ref, cur) in enumerate(shares):
        x = _PAD_LEFT + i * group + group * 0.1
        for offset, share, kind, colour in (
            (0.0, ref, "reference", _REFERENCE_COLOUR),
            (bar, cur, "current", _CURRENT_COLOUR),
        ):
            h = plot_h * share / top
            parts.append(
                f'<rect class="{kind[:3]}" x="{x + offset:.2f}" y="{8 + plot_h - h:.2f}" '
                f'width="{bar:.2f}" height="{h:.2f}" fill="{colour}">'
                f"<title>{escape(label)}: {kind} {share:.1%}</title></rect>"
            )
    first, last = escape(column.bins[0]), escape(column.bins[-1])
    parts.append(f'<text x="{_PAD_LEFT}" y="{_HEIGHT - 6}">{first}</text>')
    if n > 1:
        parts.append(f'<text x="{_WIDTH - 8}" y="{_HEIGHT - 6}" text-anchor="end">{last}</text>')
    parts.append("</svg>")
    return "".join(parts)
