"""``mlserve alerts``: the alerts firing now (built-in and custom) and the custom rules.

Reads ``GET /monitoring/alerts`` and ``GET /monitoring/alerts/rules`` of a running control
plane; ``--json`` prints both documents as one object. The table fits 80 columns.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from mlserve.cli.output import console, fail, print_json


def _default_url() -> str:
    from mlserve.settings import get_settings

    server = get_settings().server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
    return f"http://{host}:{server.port}"


def fetch_alerts(url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """``{"alerts": [...], "rules": [...], "firing": [...]}``; RuntimeError with one line
    naming the URL and the fix when the server cannot answer."""
    out: dict[str, Any] = {}
    for path in ("/monitoring/alerts", "/monitoring/alerts/rules"):
        endpoint = url.rstrip("/") + path
        try:
            response = httpx.get(endpoint, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise RuntimeError(
                f"cannot reach the control plane at {url} ({type(exc).__name__}); start it "
                "with `mlserve up` or pass --url"
            ) from exc
        if response.status_code != 200:
            raise RuntimeError(f"{endpoint} answered HTTP {response.status_code}")
        out.update(response.json())
    return out


def render_alerts(data: dict[str, Any]) -> Table:
    table = Table(title="alerts", title_justify="left", expand=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("model", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("kind", no_wrap=True, max_width=14, overflow="ellipsis")
    table.add_column("message", max_width=40, overflow="fold")
    rows = [(a["severity"], a["model"], a["kind"], a["message"]) for a in data.get("alerts", [])]
    rows += [(a["severity"], a["model"], a["name"], a["message"]) for a in data.get("firing", [])]
    for severity, model, kind, message in rows:
        style = "bold red" if severity == "critical" else "yellow"
        table.add_row(f"[{style}]{severity}[/]", model, kind, message)
    if not rows:
        table.add_row("-", "-", "-", "nothing firing")
    rules = data.get("rules", [])
    table.caption = (
        f"{len(rules)} custom rule(s): "
        + ", ".join(
            f"{r['name']} ({r['metric']} {r['condition']} {r['threshold']:g})" for r in rules
        )
        if rules
        else "no custom rules (POST /monitoring/alerts/rules adds one)"
    )
    return table


def alerts_command(
    url: Annotated[
        str | None,
        typer.Option(help="Control plane base URL (default: server.host and server.port)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Alerts firing now (built-in and custom) and the custom alert rules."""
    try:
        data = fetch_alerts(url or _default_url())
    except RuntimeError as exc:
        fail(str(exc))
    if json_out:
        print_json(data)
    else:
        console.print(render_alerts(data), width=80)
