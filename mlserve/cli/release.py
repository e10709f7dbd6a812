"""``mlserve promote`` and ``mlserve alias``: release changes from the operator's shell.

They write the model repository's release state (as the API does) and, when Triton runs,
make it load or unload the versions concerned; a running control plane routes by the new
state within a second. The history names the operating-system user (``cli:<user>``).
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from mlserve.cli.output import console, fail, print_json
from mlserve.errors import MLServeError, ServiceUnavailableError
from mlserve.lifecycle.gate import gate_check
from mlserve.lifecycle.release import GateCheck, ReleaseManager
from mlserve.repository.options import ServingOptions
from mlserve.repository.release_state import ReleaseState
from mlserve.repository.store import ModelRepository
from mlserve.serving.publisher import Publisher
from mlserve.settings import Settings, get_settings
from mlserve.triton.client import TritonClient
from mlserve.triton.replicas import TritonReplicas

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the history).")]
GateOption = Annotated[
    bool,
    typer.Option(
        "--gate",
        help="Into Production only if the version beats the champion on the model's "
        "validation set (needs a running Triton).",
    ),
]
MetricOption = Annotated[
    str | None, typer.Option("--metric", help="The gate's metric: f1_macro, accuracy, auc, rmse.")
]


def promote_command(
    name: Annotated[str, typer.Argument(help="The model, e.g. sentiment.")],
    version: Annotated[int, typer.Argument(help="The version number, e.g. 2.")],
    stage: Annotated[
        str, typer.Option("--stage", help="None, Staging, Production or Archived.")
    ] = "Production",
    reason: ReasonOption = "",
    gate: GateOption = False,
    metric: MetricOption = None,
    json_out: JsonOption = False,
) -> None:
    """Move a version to a stage (Production: requests without a version go to it)."""
    state, served = _run(
        lambda releases, check: releases.promote(
            name, version, stage, by=operator_name(), reason=reason, gate=check
        ),
        gate=gate,
        metric=metric,
    )
    _report(name, state, served, json_out, f"{name} v{version} is now in {state.stage(version)}")


def alias_command(
    name: Annotated[str, typer.Argument(help="The model, e.g. sentiment.")],
    alias: Annotated[str, typer.Argument(help="e.g. champion, challenger.")],
    version: Annotated[
        int | None, typer.Argument(help="The version to name; omit with --delete.")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: ReasonOption = "",
    json_out: JsonOption = False,
) -> None:
    """Name a version (``"model": "name@alias"`` reaches it), or remove a name."""
    if delete:
        state, served = _run(
            lambda r, _: r.drop_alias(name, alias, by=operator_name(), reason=reason)
        )
        _report(name, state, served, json_out, f"{name}@{alias} removed")
        return
    if version is None:
        fail("give the VERSION the alias names (e.g. `mlserve alias sentiment champion 2`)")
    state, served = _run(
        lambda r, _: r.set_alias(name, alias, version, by=operator_name(), reason=reason)
    )
    _report(name, state, served, json_out, f"{name}@{alias} is v{version}")


def _run(
    change: Callable[[ReleaseManager, GateCheck | None], Awaitable[ReleaseState]],
    *,
    gate: bool = False,
    metric: str | None = None,
) -> tuple[ReleaseState, bool]:
    settings = get_settings()
    repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
    try:
        return asyncio.run(change_release(settings, repository, change, gate, metric))
    except MLServeError as exc:
        fail(exc.message)


async def change_release(
    settings: Settings,
    repository: ModelRepository,
    change: Callable[[ReleaseManager, GateCheck | None], Awaitable[ReleaseState]],
    gate: bool,
    metric: str | None,
) -> tuple[ReleaseState, bool]:
    """``change`` applied through Triton when it runs (a gate needs it: the versions are
    judged as Triton serves them)."""
    grpc = settings.external_triton or f"{settings.triton.host}:{settings.triton.grpc_port}"
    triton = TritonClient(grpc, http_url=settings.inference_http_url)
    replicas: TritonReplicas | None = None
    stack = None
    try:
        served = await triton.server_ready()
        if gate and not served:
            raise ServiceUnavailableError(
                f"--gate judges versions as Triton serves them, and no Triton answers at "
                f"{grpc}: start it with `mlserve up` (or set MLSERVE_TRITON_URL)"
            )
        replicas = TritonReplicas.of(triton, settings.triton.replicas)  # stages reach all
        publisher = Publisher(repository, replicas) if served else None
        releases = ReleaseManager(
            repository,
            publisher.apply_release if publisher else None,
            previous_production=settings.publish.previous_production,
            grace_seconds=settings.publish.promotion_grace_seconds,
        )
        check = None
        if gate:
            from mlserve.control_plane.stack import ServingStack

            stack = ServingStack.build(settings, triton=triton)
            check = gate_check(
                stack.dataplane.predict,
                repository,
                metric or settings.publish.gate_metric,
                settings.publish.gate_max_recall_drop,
            )
        return await change(releases, check), served
    finally:
        if stack is not None:
            await stack.cache.close()
        if replicas is not None:
            await replicas.close()
        await triton.close()


def _report(name: str, state: ReleaseState, served: bool, json_out: bool, message: str) -> None:
    if json_out:
        print_json(
            {
                "name": name,
                "production": state.production(),
                "stages": {str(v): s for v, s in sorted(state.stages.items())},
                "aliases": state.aliases,
                "serving": served,
                "message": message,
            }
        )
        return
    console.print(message)
    if not served:
        console.print("Triton is not running: `mlserve up` serves the new state")


def operator_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
