"""``mlserve drift report``: a drift report as a self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlserve.cli.output import console, fail

drift_app = typer.Typer(help="Drift reports.", no_args_is_help=True)


@drift_app.command("report")
def report_command(
    name: Annotated[str, typer.Argument(help="Model name (the report's title).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")],
    version: Annotated[
        int | None, typer.Option(min=1, help="Version, with --window (default: newest).")
    ] = None,
    reference: Annotated[Path | None, typer.Option(help="Reference CSV (with --current).")] = None,
    current: Annotated[Path | None, typer.Option(help="Current CSV (with --reference).")] = None,
    window: Annotated[
        str | None,
        typer.Option(help="Live traffic of the last 30m/24h/7d, read from the running server."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Control plane base URL, with --window (default: server settings)."),
    ] = None,
) -> None:
    """Per column: both distributions, test statistic, p-value, PSI, drifted or not, and
    the dataset verdict (at least `monitoring.report_drift_share` of the columns drifted,
    `monitoring.report_min_rows` rows each side).

    Either `--reference ref.csv --current cur.csv` (computed here) or `--window 24h` (the
    version's reference profile against its live inputs, from the server)."""
    from mlserve.errors import MLServeError

    csv_mode = reference is not None or current is not None
    if csv_mode == (window is not None):
        fail("give either --reference and --current (two CSV files) or --window (e.g. 24h)")
    if csv_mode and (reference is None or current is None):
        fail("--reference and --current go together: give both CSV files")
    try:
        if reference is not None and current is not None:
            html = _from_csv(name, reference, current)
        else:
            html = _from_server(url, name, version, window or "24h")
        output.write_text(html, encoding="utf-8")
    except MLServeError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    console.print(f"wrote {output}")


def _from_csv(name: str, reference: Path, current: Path) -> str:
    from mlserve.monitoring.drift_report import DriftPolicy, render_html, report_from_csv
    from mlserve.settings import get_settings

    policy = DriftPolicy.from_settings(get_settings().monitoring)
    report = report_from_csv(
        reference, current, policy=policy, title=f"Data drift: {name}, {current.name}"
    )
    console.print(f"{name}: {report.verdict} ({report.drifted_share:.0%} of columns drifted)")
    return render_html(report)


def _from_server(url: str | None, name: str, version: int | None, window: str) -> str:
    import httpx

    from mlserve.cli.stats import _default_url

    base = (url or _default_url()).rstrip("/")
    params: dict[str, str | int] = {"window": window}
    if version is not None:
        params["version"] = version
    try:
        answer = httpx.get(f"{base}/monitoring/drift/{name}/report", params=params, timeout=60.0)
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach the control plane at {base} ({type(exc).__name__}); start it "
            "with `mlserve up` or pass --url"
        )
    if answer.status_code != 200:
        try:
            message = str(answer.json().get("error", answer.text))
        except ValueError:
            message = answer.text
        fail(f"{base} answered {answer.status_code}: {message}")
    return answer.text
