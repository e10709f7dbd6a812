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
from mlserve.errors import MLServeError
from mlserve.lifecycle.release import ReleaseManager
from mlserve.repository.options import ServingOptions
from mlserve.repository.release_state import ReleaseState
from mlserve.repository.store import ModelRepository
from mlserve.serving.publisher import Publisher
from mlserve.settings import get_settings
from mlserve.triton.client import TritonClient

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the history).")]


def promote_command(
    name: Annotated[str, typer.Argument(help="The model, e.g. sentiment.")],
    version: Annotated[int, typer.Argument(help="The version number, e.g. 2.")],
    stage: Annotated[
        str, typer.Option("--stage", help="None, Staging, Production or Archived.")
    ] = "Production",
    reason: ReasonOption = "",
    json_out: JsonOption = False,
) -> None:
    """Move a version to a stage (Production: requests without a version go to it)."""
    state, served = _run(
        lambda releases: releases.promote(name, version, stage, by=_who(), reason=reason)
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
        state, served = _run(lambda r: r.drop_alias(name, alias, by=_who(), reason=reason))
        _report(name, state, served, json_out, f"{name}@{alias} removed")
        return
    if version is None:
        fail("give the VERSION the alias names (e.g. `mlserve alias sentiment champion 2`)")
    state, served = _run(lambda r: r.set_alias(name, alias, version, by=_who(), reason=reason))
    _report(name, state, served, json_out, f"{name}@{alias} is v{version}")


def _run(change: Callable[[ReleaseManager], Awaitable[ReleaseState]]) -> tuple[ReleaseState, bool]:
    settings = get_settings()
    repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
    grpc = settings.external_triton or f"{settings.triton.host}:{settings.triton.grpc_port}"

    async def run() -> tuple[ReleaseState, bool]:
        triton = TritonClient(grpc)
        try:
            served = await triton.server_ready()
            publisher = Publisher(repository, triton) if served else None
            releases = ReleaseManager(
                repository,
                publisher.apply_release if publisher else None,
                previous_production=settings.publish.previous_production,
                grace_seconds=settings.publish.promotion_grace_seconds,
            )
            return await change(releases), served
        finally:
            await triton.close()

    try:
        return asyncio.run(run())
    except MLServeError as exc:
        fail(exc.message)


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


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
