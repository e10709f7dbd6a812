"""``mlserve benchmark <model> <n>``: perf_analyzer's method against mlserve or Triton.

Sweeps concurrency (``--concurrency 1:32:x2``) or request rate (``--request-rate``), measures
each level in windows until the last three agree within ``--stability-percentage``, and
prints throughput, latency percentiles, errors, cache hits and Triton's server-side
breakdown as a rich table (progress bar while it runs), ``--json`` and/or ``--csv``.

A wrong target, an unknown model or a server that is down ends the command with one
``error:`` line and exit code 1, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from mlserve.benchmarking import (
    BenchmarkConfig,
    StepResult,
    TargetKind,
    render_csv,
    render_json,
    render_table,
    rich_progress,
    run_benchmark,
)
from mlserve.benchmarking.config import TARGETS
from mlserve.cli.output import console, err_console, fail
from mlserve.errors import MLServeError
from mlserve.settings import Settings, get_settings

MAX_DATA_BYTES = 50 * 1024 * 1024


def benchmark_command(
    model: Annotated[
        str, typer.Argument(help="Model to load (`sentiment`); a version via --version.")
    ],
    n: Annotated[
        int,
        typer.Argument(
            help="Requests per load level at most (each level ends sooner "
            "when its measurements are stable)."
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--target", "-t", help=f"What to load: {' | '.join(TARGETS)}.", show_default=True
        ),
    ] = "control-plane",
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            "-u",
            help="Control-plane base URL, Triton gRPC host:port or Triton HTTP URL, per "
            "--target (default: from the config).",
        ),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Fixed model version (default: newest / routed).")
    ] = None,
    concurrency: Annotated[
        str,
        typer.Option(
            "--concurrency",
            "-c",
            help="Concurrency levels: `8`, `1:32:x2` (doubling) or `4:16:4` (linear).",
        ),
    ] = "1",
    request_rate: Annotated[
        str | None,
        typer.Option(
            "--request-rate", "-r", help="Requests/s levels instead of concurrency (same syntax)."
        ),
    ] = None,
    stability_percentage: Annotated[
        float,
        typer.Option(
            "--stability-percentage",
            "-s",
            help="The last 3 windows must agree within this % (throughput and latency).",
        ),
    ] = 10.0,
    measurement_interval: Annotated[
        float,
        typer.Option(
            "--measurement-interval", "-p", help="Length of one measurement window in ms."
        ),
    ] = 5000.0,
    max_trials: Annotated[
        int, typer.Option("--max-trials", help="Windows per level at most.")
    ] = 10,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            "-d",
            help="File of texts to send, one per line (default: the sample sentiment texts).",
        ),
    ] = None,
    unique_ratio: Annotated[
        float,
        typer.Option(
            "--unique-ratio",
            help="Fraction of texts made unique (never cached); the rest repeat from a pool "
            "of 32, so 0 measures a warm cache and 1 a cold one.",
        ),
    ] = 1.0,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", "-b", help="Texts per request (/batch-predict on the control plane)."
        ),
    ] = 1,
    triton_http_url: Annotated[
        str | None,
        typer.Option(
            "--triton-http-url",
            help="Triton HTTP URL for the server-side breakdown (statistics API). Default: the "
            "configured Triton when it answers, else no breakdown.",
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Bearer token, when the control plane requires one.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Client timeout of one request, in seconds.")
    ] = 30.0,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write perf_analyzer's CSV (microseconds) to FILE."),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (p90/p95, Triton queue and compute).")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the steps as JSON instead of a table.")
    ] = False,
) -> None:
    """Measure throughput and latency of MODEL under load, perf_analyzer style."""
    settings = get_settings()
    try:
        if n < 1:
            fail(f"n must be at least 1 (requests per load level); got {n}")
        if target not in TARGETS:
            fail(f"--target must be one of {', '.join(TARGETS)}; got {target!r}")
        kind: TargetKind = target
        texts = read_texts(data) if data is not None else None
        config = BenchmarkConfig(
            target=kind,
            url=url or default_url(kind, settings),
            model=model,
            version=version,
            concurrency=concurrency,
            request_rate=request_rate,
            window_s=measurement_interval / 1000.0,
            stability_pct=stability_percentage,
            max_windows=max_trials,
            max_requests=n,
            batch_size=batch_size,
            request_timeout_s=timeout,
            triton_http_url=stats_url(kind, triton_http_url, settings, model),
            texts=texts,
            unique_ratio=unique_ratio,
            auth_token=token,
        )
        steps = _run(config, quiet=json_out)
    except MLServeError as exc:
        fail(exc.message)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    if csv_path is not None:
        try:
            csv_path.write_text(render_csv(steps))
        except OSError as exc:
            fail(f"cannot write --csv {csv_path}: {exc.strerror or exc}")
    if json_out:
        typer.echo(render_json(steps))
        return
    title = f"{model} via {config.target} ({config.url})"
    console.print(render_table(steps, title=title, wide=wide))
    if csv_path is not None:
        console.print(f"CSV written to {csv_path}")


def _run(config: BenchmarkConfig, *, quiet: bool) -> list[StepResult]:
    if quiet:
        return run_benchmark(config)
    with rich_progress(err_console) as progress:
        return run_benchmark(config, progress=progress)


def default_url(target: TargetKind, settings: Settings) -> str:
    """Where ``target`` runs according to the config (``mlserve up``'s addresses)."""
    triton = settings.triton
    if target == "triton-grpc":
        return settings.external_triton or f"{triton.host}:{triton.grpc_port}"
    if target == "triton-http":
        return triton.http_url or f"http://{triton.host}:{triton.http_port}"
    host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    return f"http://{host}:{settings.server.port}"


def stats_url(
    target: TargetKind, explicit: str | None, settings: Settings, model: str
) -> str | None:
    """The Triton HTTP URL for the server-side breakdown.

    An explicit URL is used as given (a wrong one fails the run). ``triton-http`` reads the
    statistics from its own URL. Otherwise the configured Triton HTTP address is used when it
    has statistics for ``model``, so a server whose Triton is elsewhere still benchmarks,
    without the breakdown.
    """
    if explicit:
        return explicit
    if target == "triton-http":
        return None
    triton = settings.triton
    candidate = (triton.http_url or f"http://{triton.host}:{triton.http_port}").rstrip("/")
    if "://" not in candidate:
        candidate = f"http://{candidate}"
    try:
        answer = httpx.get(f"{candidate}/v2/models/{model}/stats", timeout=1.0)
    except httpx.HTTPError:
        return None
    return candidate if answer.status_code == 200 else None


def read_texts(path: Path) -> tuple[str, ...]:
    """The non-empty lines of ``path``; one-line errors for a missing, huge or empty file."""
    try:
        if path.stat().st_size > MAX_DATA_BYTES:
            fail(f"--data {path} is over {MAX_DATA_BYTES // (1024 * 1024)} MiB; send a sample")
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        fail(f"--data {path} does not exist; pass a text file with one text per line")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read --data {path}: {exc}")
    texts = tuple(line.strip() for line in lines if line.strip())
    if not texts:
        fail(f"--data {path} has no texts; put one text per line")
    return texts
