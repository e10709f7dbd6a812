"""``mlserve train``: start a training job on the running server and follow it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mlserve.cli.output import console, fail, print_json


def train_command(
    name: Annotated[str, typer.Argument(help="Model to train a new version of.")],
    target: Annotated[str, typer.Option(help="Column to predict.")],
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file to upload.")] = None,
    data_path: Annotated[
        str | None, typer.Option(help="Dataset path under the server's training.data_root.")
    ] = None,
    task: Annotated[str, typer.Option(help="classification or regression.")] = "classification",
    estimator: Annotated[str, typer.Option(help="Estimator family or auto.")] = "auto",
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials.")] = 20,
    time_budget: Annotated[float, typer.Option(help="Search time budget, seconds.")] = 300.0,
    metric: Annotated[str | None, typer.Option(help="Metric to optimise.")] = None,
    no_optimize: Annotated[bool, typer.Option("--no-optimize", help="One default fit.")] = False,
    auto_promote: Annotated[
        bool, typer.Option("--auto-promote", help="Serve the new version at once.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends.")] = False,
    url: Annotated[str | None, typer.Option(help="Control plane base URL.")] = None,
    user: Annotated[
        str | None, typer.Option(help="Admin account (default MLSERVE_ADMIN_USER).")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Its password (default MLSERVE_ADMIN_PASSWORD).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train NAME on a dataset with an Optuna search in the server's training process and
    publish the best model as a new version (`--auto-promote` serves it at once)."""
    import httpx

    from mlserve.cli.stats import _default_url

    if (data is None) == (data_path is None):
        fail("give either --data FILE (uploaded) or --data-path PATH (on the server)")
    base = (url or _default_url()).rstrip("/")
    fields: dict[str, Any] = {
        "target": target,
        "task": task,
        "estimator": estimator,
        "n_optimization_trials": str(trials),
        "time_budget_s": str(time_budget),
        "optimize": str(not no_optimize).lower(),
        "auto_promote": str(auto_promote).lower(),
    }
    if metric:
        fields["metric"] = metric
    if data_path:
        fields["dataset_path"] = data_path
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            _login(
                client,
                user or os.environ.get("MLSERVE_ADMIN_USER"),
                password or os.environ.get("MLSERVE_ADMIN_PASSWORD"),
            )
            if data is not None:
                if not data.is_file():
                    fail(f"--data {data} is not a file")
                with data.open("rb") as handle:
                    answer = client.post(
                        f"/models/{name}/train", data=fields, files={"dataset": (data.name, handle)}
                    )
            else:
                answer = client.post(f"/models/{name}/train", data=fields)
            job = _json_or_fail(answer, base)
            while wait and job["status"] not in ("succeeded", "failed", "cancelled"):
                time.sleep(1.0)
                job = _json_or_fail(client.get(f"/models/{name}/train/{job['job_id']}"), base)
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach the control plane at {base} ({type(exc).__name__}); start it "
            "with `mlserve up` or pass --url"
        )
    if json_out:
        print_json(job)
    elif job["status"] == "succeeded":
        console.print(
            f"{name} v{job['version']} trained: {job['result'].get('holdout')}, "
            f"{'serving' if job['serving'] else 'published stopped'}"
        )
    else:
        console.print(
            f"training job {job['job_id']}: {job['status']} "
            f"(GET {base}/models/{name}/train/{job['job_id']})"
        )
    if job["status"] == "failed":
        fail(f"training failed: {job['error']}")


def _login(client: Any, user: str | None, password: str | None) -> None:
    if not user or not password:
        fail("admin credentials needed: --user/--password or MLSERVE_ADMIN_USER/PASSWORD")
    answer = client.post("/api/v1/token", data={"username": user, "password": password})
    token = _json_or_fail(answer, str(client.base_url))["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"


def _json_or_fail(answer: Any, base: str) -> dict[str, Any]:
    try:
        body: dict[str, Any] = answer.json()
    except ValueError:
        fail(f"{base} answered {answer.status_code}: {answer.text[:200]}")
    if answer.status_code >= 400:
        fail(f"{base} answered {answer.status_code}: {body.get('error', body)}")
    return body
