"""``mlserve up``: sample models, Triton, and the control plane, in one command."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlserve.cli.output import console, fail
from mlserve.control_plane.routes.api_v1.guards import check_trust_loopback, is_loopback
from mlserve.errors import MLServeError
from mlserve.monitoring.worker_metrics import prepare_workers
from mlserve.platform.config import PlatformConfig
from mlserve.platform.store import check_state_store
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.serving.reference import reference_profile
from mlserve.settings import Settings, get_settings
from mlserve.triton.launcher import EmbeddedTriton

MINILM_SAMPLE = "sentiment-minilm"


def up_command(
    host: Annotated[str | None, typer.Option(help="Bind address (config: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (config: server.port).")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn workers.")] = None,
    samples: Annotated[
        bool, typer.Option(help="Publish the sample models into an empty repository.")
    ] = True,
    transformer: Annotated[
        bool,
        typer.Option(
            help=r"Also train and publish sentiment-minilm (needs the mlserve\[torch] extra)."
        ),
    ] = True,
) -> None:
    """Start Triton (embedded unless MLSERVE_TRITON_URL is set) and the control plane."""
    settings = get_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    workers = workers or settings.server.workers
    trust = settings.auth.trust_loopback
    if trust is None:  # the local default: this machine's requests act as the admin
        trust = is_loopback(host)
    try:
        check_trust_loopback(trust, host)
    except MLServeError as exc:
        fail(exc.message)
    prepare_workers(workers)  # scale: refuse more than the cores; one /metrics for all
    repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
    check_state_store(PlatformConfig.from_settings(settings))  # harden F1: refuse evicting state
    if settings.external_triton:
        check_tritons(settings, repository)  # replicas: refuse a Triton on another repository
    if samples and not repository.model_names():
        publish_samples(repository, transformer=transformer)
    _check_port_free(host, port, "control plane (--port or MLSERVE_SERVER__PORT)")
    # SIGTERM (docker stop, systemd, kill) must stop Triton too, like Ctrl-C does: uvicorn
    # shuts down gracefully and then re-raises the signal to this handler.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    embedded = None
    try:
        if settings.external_triton:
            console.print(f"using external Triton at {settings.external_triton}")
        else:
            embedded = _start_embedded(settings, repository)
            os.environ["MLSERVE_TRITON_URL"] = embedded.grpc_url
            os.environ["MLSERVE_TRITON__METRICS_URL"] = embedded.metrics_url
            os.environ["MLSERVE_TRITON__HTTP_URL"] = embedded.http_url
        os.environ["MLSERVE_MODELS_DIR"] = str(settings.models_dir.resolve())
        os.environ["MLSERVE_SERVER__HOST"] = host  # the app checks trust against the bind
        os.environ["MLSERVE_AUTH__TRUST_LOOPBACK"] = "true" if trust else "false"
        get_settings.cache_clear()
        _print_banner(host, port, embedded, repository)
        if trust:
            console.print(
                "  local admin: requests from this machine without a token act as the admin "
                "(auth.trust_loopback; MLSERVE_AUTH__TRUST_LOOPBACK=false turns it off)"
            )
        _serve(host, port, workers)
    finally:
        if embedded is not None:
            console.print("stopping Triton ...")
            embedded.stop()


def check_tritons(settings: Settings, repository: ModelRepository) -> None:
    """Before anything is published or served: raise SettingsError (one line) when the
    external Triton or a replica (``triton.replicas``) that answers does not serve
    ``repository`` (see :func:`mlserve.triton.replicas.check_repository`)."""
    import asyncio

    from mlserve.triton.client import TritonClient
    from mlserve.triton.replicas import TritonReplicas, check_repository

    async def check() -> None:
        primary = TritonClient(settings.external_triton or "")
        replicas = TritonReplicas.of(primary, settings.triton.replicas)
        try:
            every = repository.model_names()
            active = [name for name in every if repository.active_versions(name)]
            await check_repository(replicas, active, every, repository.root)
        finally:
            await replicas.close()
            await primary.close()

    asyncio.run(check())


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def publish_samples(repository: ModelRepository, *, transformer: bool) -> None:
    """Train and publish ``sentiment`` v1/v2, the tabular ``iris`` v1, the custom Python
    ``iris-rules`` v1 (seed S4's heuristic), and ``sentiment-minilm`` v1 with torch."""
    from mlserve.samples.iris import IRIS_NAME, RULES_NAME, rules_model, train_iris
    from mlserve.samples.sentiment_model import SAMPLE_NAME, train_sentiment

    with_torch = transformer and importlib.util.find_spec("torch") is not None
    steps = [(SAMPLE_NAME, 1), (SAMPLE_NAME, 2), (IRIS_NAME, 1), (RULES_NAME, 1)]
    steps += [(MINILM_SAMPLE, 1)] if with_torch else []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        overall = progress.add_task("publishing sample models", total=len(steps))
        for name, version in steps:
            task = progress.add_task(f"  training and exporting {name} v{version}", total=None)
            with tempfile.TemporaryDirectory() as work:
                if name == MINILM_SAMPLE:
                    from mlserve.samples.minilm import build_sentiment_minilm

                    exported = build_sentiment_minilm(work_dir=Path(work))
                elif name == IRIS_NAME:
                    exported = train_iris()
                elif name == RULES_NAME:
                    exported = rules_model()
                else:
                    exported = train_sentiment(version)
                try:
                    repository.publish_version(
                        exported, name, version, reference_profile=reference_profile(exported)
                    )
                except MLServeError as exc:
                    fail(f"could not publish sample {name} v{version}: {exc.message}")
            progress.update(task, total=1, completed=1)
            progress.advance(overall)
    if not with_torch and transformer:
        console.print(
            "torch not installed: skipped sentiment-minilm (pip install 'mlserve[torch]')"
        )


def _start_embedded(settings: Settings, repository: ModelRepository) -> EmbeddedTriton:
    triton = settings.triton
    for what, port in (
        ("HTTP", triton.http_port),
        ("gRPC", triton.grpc_port),
        ("metrics", triton.metrics_port),
    ):
        _check_port_free(triton.host, port, f"Triton {what} (MLSERVE_TRITON__{what.upper()}_PORT)")
    embedded = EmbeddedTriton.from_settings(settings)
    models = [name for name in repository.model_names() if repository.active_versions(name)]
    for name in models:
        repository.write_config(name)
    with console.status(f"starting Triton and loading {', '.join(models) or 'no models'} ..."):
        try:
            embedded.start(models)
        except MLServeError as exc:
            embedded.stop()
            fail(f"{exc.message} (log: {embedded.log_path})")
    embedded.supervise()
    return embedded


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    from mlserve.control_plane.uvicorn_options import ANSWER_OPTIONS, fastest_loop_and_parser

    loop, http = fastest_loop_and_parser()
    uvicorn.run(
        "mlserve.control_plane.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        http=http,
        log_level="warning",
        access_log=False,
        **ANSWER_OPTIONS,
    )


def _check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sock.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0:
            fail(
                f"port {port} for the {what} is already in use; stop what uses it or pick "
                "another port"
            )


def _print_banner(
    host: str, port: int, embedded: EmbeddedTriton | None, repository: ModelRepository
) -> None:
    base = f"http://{host}:{port}"
    console.print(
        f"[bold green]mlserve[/] serving {', '.join(repository.model_names()) or 'no models'}"
    )
    console.print(f"  API        {base}  (docs: {base}/docs)")
    console.print(f"  metrics    {base}/metrics")
    if embedded is not None:
        console.print(
            f"  Triton     gRPC {embedded.grpc_url}  HTTP {embedded.http_url}  "
            f"metrics {embedded.metrics_url}"
        )
        console.print(f"  Triton log {embedded.log_path}")
    console.print(
        f'  try: curl -X POST {base}/predict -d \'{{"text": "This product is amazing!"}}\'',
        soft_wrap=True,
    )
    console.print(
        f'       curl -X POST {base}/predict -d \'{{"sepal_length": 5.1, "sepal_width": '
        '3.5, "petal_length": 1.4, "petal_width": 0.2}\'',
        soft_wrap=True,
    )
    console.print("Ctrl-C stops everything.")
