"""The Typer app and its small verbs (``list``, ``user``); bigger verbs live beside it."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import typer
from rich.table import Table

from mlserve.cli.alerts import alerts_command
from mlserve.cli.benchmark import benchmark_command
from mlserve.cli.drift import drift_app
from mlserve.cli.load import load_command
from mlserve.cli.output import console, fail, print_error, print_json
from mlserve.cli.release import alias_command, promote_command
from mlserve.cli.stats import stats_command
from mlserve.cli.train import train_command
from mlserve.cli.up import up_command
from mlserve.errors import MLServeError, SettingsError
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository
from mlserve.serving.catalog import describe_models
from mlserve.settings import get_settings
from mlserve.triton.client import TritonClient

app = typer.Typer(
    name="mlserve",
    help="Serve text and tabular classifiers with NVIDIA Triton.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)
app.command("up")(up_command)
app.command("load")(load_command)
app.command("stats")(stats_command)
app.command("benchmark")(benchmark_command)
app.command("train")(train_command)
app.command("alerts")(alerts_command)
app.command("promote")(promote_command)
app.command("alias")(alias_command)
user_app = typer.Typer(help="Accounts of the /api/v1 platform API.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(drift_app, name="drift")


@app.command("list")
def list_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Also the framework and the publication time.")
    ] = False,
) -> None:
    """List published models and versions, with their state in Triton."""
    settings = get_settings()
    repository = ModelRepository(settings.models_dir, ServingOptions.from_settings(settings))
    triton = TritonClient(settings.external_triton or settings_grpc_url())

    async def describe() -> list[dict[str, Any]]:
        try:
            return await describe_models(
                repository, triton if await triton.server_ready() else None
            )
        finally:
            await triton.close()

    models = asyncio.run(describe())
    if json_out:
        print_json({"models": models})
        return
    if not models:
        console.print(f"no models in {settings.models_dir}; publish one with `mlserve load`")
        return
    columns = ["model", "version", "kind", "accuracy", "published", "state", "stage", "gate"]
    table = Table(*([*columns[:3], "framework", *columns[3:]] if wide else columns))
    for model in models:
        for row in model["versions"]:
            accuracy = row["metrics"].get("accuracy")
            published = row["published_at"][:19].replace("T", " ")
            cells = [
                model["name"],
                row["version"] + ("" if row["enabled"] else " (stopped)"),
                row["input_kind"],
                f"{accuracy:.3f}" if accuracy is not None else "-",
                published if wide else published[:10],
                row["state"],
                " ".join([row["stage"], *(f"@{a}" for a in row["aliases"])]),
                _gate_cell(row["gate"]),
            ]
            table.add_row(*([*cells[:3], row["framework"], *cells[3:]] if wide else cells))
    console.print(table)


def _gate_cell(report: dict[str, Any] | None) -> str:
    """``passed f1_macro 0.912 > 0.874 (v1)``, or ``-`` when the version was never judged."""
    if report is None:
        return "-"
    decision = "passed" if report["passed"] else "refused"
    candidate = f"{report['metric']} {report['candidate']['metric']:.3f}"
    champion = report.get("champion")
    if champion is None:
        return f"{decision} {candidate}"
    return f"{decision} {candidate} vs {champion['metric']:.3f} (v{champion['version']})"


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="Login name.")],
    password: Annotated[str, typer.Option(help="Password (at least 8 characters).")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
    email: Annotated[str | None, typer.Option(help="E-mail (optional).")] = None,
) -> None:
    """Create an active account (``--admin`` for the first administrator)."""
    from mlserve.platform.bootstrap import create_user_from_cli

    try:
        user = create_user_from_cli(
            get_settings(), username=username, password=password, email=email, admin=admin
        )
    except MLServeError as exc:
        fail(exc.message)
    console.print(f"created {'admin' if admin else 'user'} {user.username!r}")


def settings_grpc_url() -> str:
    settings = get_settings()
    return f"{settings.triton.host}:{settings.triton.grpc_port}"


def main() -> None:
    """Console-script entry point: an invalid setting is one line and exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except SettingsError as exc:
        print_error(exc.message)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
