"""``mlserve stats``: the running stack per model version, in the terminal.

Reads ``GET /monitoring/stats`` of a control plane (``--url``, default the configured
``server.host``/``server.port``) and prints one row per model version: requests, error
rate, p50/p95/p99 latency, throughput, cache hit ratio, Triton's average batch size and
queue time, label distribution and drift status, then the active alerts. ``--json`` prints
the endpoint's document as is; ``--watch`` refreshes every ``--interval`` seconds until
Ctrl-C. A control plane that cannot be reached is a one-line error and exit code 1.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mlserve.cli.output import console, fail, print_json

_DRIFT_STYLE = {"drift": "bold red", "ok": "green", "collecting": "yellow"}


def fetch_stats(url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The ``/monitoring/stats`` document of the control plane at ``url``.

    Raises ``RuntimeError`` with a one-line message naming the URL and the fix when the
    server cannot be reached or answers with an error.
    """
    endpoint = url.rstrip("/") + "/monitoring/stats"
    try:
        response = httpx.get(endpoint, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise RuntimeError(
            f"cannot reach the control plane at {url} ({type(exc).__name__}); start it with "
            "`mlserve up` or pass --url"
        ) from exc
    if response.status_code != 200:
        raise RuntimeError(
            f"{endpoint} answered HTTP {response.status_code}; is {url} an mlserve control plane?"
        )
    data = response.json()
    if not isinstance(data, dict) or "versions" not in data:
        raise RuntimeError(f"{endpoint} returned no 'versions'; is the server up to date?")
    return data


def _num(value: Any, fmt: str, suffix: str = "") -> str:
    """``value`` formatted, ``-`` when absent; ``short``: one decimal below 10, none above."""
    if value is None:
        return "-"
    if fmt == "short":
        fmt = ".1f" if abs(value) < 10 else ".0f"
    return f"{value:{fmt}}{suffix}"


def _labels(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "-"
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return " ".join(f"{label} {count / total:.0%}" for label, count in ranked[:4])


def _drift(row: Mapping[str, Any], *, signals: bool = True) -> Text:
    status = str(row.get("drift_status", "no data"))
    drifted = (row.get("drifted_signals") or []) if signals else []
    text = status + (f" ({', '.join(drifted)})" if drifted else "")
    return Text(text, style=_DRIFT_STYLE.get(status, "dim"))


def render_stats(data: Mapping[str, Any], *, wide: bool = False) -> RenderableType:
    """The table (and alert lines) for one ``/monitoring/stats`` document: the columns
    that fit 80 terminal columns, or every column with ``wide``."""
    horizon = data.get("horizon_seconds")
    title = "mlserve stats" + (f" (last {horizon:.0f} s)" if horizon else "")
    if wide:
        table = Table(title=title, title_justify="left")
    else:  # light borders and compact numbers, so seven columns fit 80
        table = Table(title=title, title_justify="left", box=None, header_style="bold underline")
    # Long model names fold onto a second line rather than squeezing the figures.
    table.add_column("model", no_wrap=wide, overflow="fold")
    narrow = ("requests", "errors", "p50/p99 ms", "req/s", "cache")
    full = ("requests", "errors", "p50/p95/p99 ms", "req/s", "cache", "batch", "queue ms")
    for column in full if wide else narrow:
        table.add_column(column, justify="right", no_wrap=not wide)
    if wide:
        table.add_column("labels")
    table.add_column("drift", no_wrap=True)
    for row in data.get("versions", []):
        version = row.get("version")
        name = str(row["model"]) + ("" if version is None else f" v{version}")
        percentiles = ("p50_ms", "p95_ms", "p99_ms") if wide else ("p50_ms", "p99_ms")
        latency = "/".join(_num(row.get(k), ".1f" if wide else "short") for k in percentiles)
        cells = [
            name,
            str(row.get("requests", 0)),
            _num(row.get("error_rate"), ".1%"),
            latency,
            _num(row.get("throughput_rps"), ".1f" if wide else "short"),
            _num(row.get("cache_hit_ratio"), ".0%"),
        ]
        if wide:
            cells += [
                _num(row.get("triton_avg_batch_size"), ".2f"),
                _num(row.get("triton_queue_ms"), ".2f"),
                _labels(row.get("labels") or {}),
            ]
        table.add_row(*cells, _drift(row, signals=wide))
    parts: list[RenderableType] = [table]
    if not data.get("versions"):
        parts.append(Text("no traffic yet: rows appear once a model answers requests", "dim"))
    for alert in data.get("alerts", []):
        style = "bold red" if alert.get("severity") == "critical" else "yellow"
        parts.append(Text(f"{alert.get('severity')}: {alert.get('message')}", style=style))
    return Group(*parts)


def _default_url() -> str:
    from mlserve.settings import get_settings

    server = get_settings().server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
    return f"http://{host}:{server.port}"


def stats_command(
    url: Annotated[
        str | None,
        typer.Option(help="Control plane base URL (default: server.host and server.port)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (batch, queue, labels): 140+ columns.")
    ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between refreshes with --watch.")
    ] = 2.0,
) -> None:
    """Per model version: requests, errors, latency, throughput, cache, Triton, labels, drift."""
    base = url or _default_url()
    data = _fetch_or_fail(base)
    if not watch:
        if json_out:
            print_json(data)
        else:
            console.print(render_stats(data, wide=wide))
        return
    try:
        if json_out:
            while True:
                print_json(data)
                time.sleep(interval)
                data = _fetch_or_fail(base)
        with Live(render_stats(data, wide=wide), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(render_stats(_fetch_or_fail(base), wide=wide), refresh=True)
    except KeyboardInterrupt:
        return


def _fetch_or_fail(base: str) -> dict[str, Any]:
    try:
        return fetch_stats(base)
    except RuntimeError as exc:
        fail(str(exc))
