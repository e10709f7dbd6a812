"""The monitoring routes and ``mlserve stats`` against the running control plane."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import typer
from typer.testing import CliRunner

from mlserve.cli.stats import stats_command
from mlserve.samples.sentiment_model import SAMPLE_NAME
from tests.conftest import Stack
from tests.support.redis_server import free_port

app = typer.Typer()
app.command("stats")(stats_command)
app.command("noop", hidden=True)(lambda: None)  # keeps "stats" a subcommand


@pytest.fixture(scope="module")
def served(stack: Stack) -> Stack:
    for texts in (["the battery is great", "support was awful"], ["the battery is great"]):
        response = httpx.post(f"{stack.base_url}/batch-predict", json={"texts": texts}, timeout=30)
        assert response.status_code == 200, response.text
    return stack


def test_metrics_are_the_control_planes_own(served: Stack) -> None:
    # Predictions reach monitoring off the request path (the recorder drains every 0.2 s).
    deadline = time.monotonic() + 10
    text = ""
    while "mlserve_predictions_total{" not in text and time.monotonic() < deadline:
        text = httpx.get(f"{served.base_url}/metrics", timeout=10).text
        time.sleep(0.1)
    assert "mlserve_predictions_total{" in text
    assert "mlserve_request_duration_seconds_bucket{" in text
    assert f'mlserve_inflight_requests{{model="{SAMPLE_NAME}"}}' in text
    assert 'mlserve_drift_predictions_total{outcome="sampled"}' in text
    assert "\nnv_" not in text


def test_drift_of_unknown_model_is_404(served: Stack) -> None:
    for name in ("no-such-model", "%2e%2e", "-x"):
        response = httpx.get(f"{served.base_url}/monitoring/drift/{name}", timeout=10)
        assert response.status_code == 404, name
        assert "is not published" in response.json()["error"], name


def test_model_without_reference_says_so(served: Stack) -> None:
    body = httpx.get(f"{served.base_url}/monitoring/drift/{SAMPLE_NAME}", timeout=10).json()
    (version,) = [v for v in body["versions"] if v["version"] == 1]
    assert version["status"] == "no reference"
    assert version["detected"] is False
    assert version["signals"] == []


def test_alerts_and_stats(served: Stack) -> None:
    alerts = httpx.get(f"{served.base_url}/monitoring/alerts", timeout=10).json()
    assert isinstance(alerts["alerts"], list)
    stats = httpx.get(f"{served.base_url}/monitoring/stats", timeout=10).json()
    (row,) = [r for r in stats["versions"] if r["model"] == SAMPLE_NAME and r["version"] == 1]
    assert row["requests"] >= 1
    assert row["error_rate"] == 0.0
    assert row["p50_ms"] > 0
    assert row["p99_ms"] >= row["p50_ms"]
    assert sum(row["labels"].values()) >= 3
    assert 0 < row["cache_hit_ratio"] < 1
    assert row["drift_status"] == "no reference"


def test_stats_command_table_and_json(served: Stack) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["stats", "--url", served.base_url], env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    assert SAMPLE_NAME in table.output
    assert "no reference" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    assert "…" not in table.output
    wide = runner.invoke(app, ["stats", "--url", served.base_url, "--wide"], env={"COLUMNS": "200"})
    assert "queue ms" in wide.output
    raw = runner.invoke(app, ["stats", "--url", served.base_url, "--json"])
    assert raw.exit_code == 0
    assert any(r["model"] == SAMPLE_NAME for r in json.loads(raw.output)["versions"])


def test_stats_command_server_down_is_one_line_exit_1() -> None:
    result = CliRunner().invoke(app, ["stats", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "cannot reach the control plane" in lines[0]


def test_inflight_gauge_reads_its_source_and_alerts_read_zero() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from mlserve.monitoring.metrics import ControlPlaneMetrics

    registry = CollectorRegistry()
    metrics = ControlPlaneMetrics(registry)
    metrics.observe_request("predict", "m", 1, 200, 0.01)
    metrics.set_inflight_source(lambda: {"m": 3})
    metrics.update_alerts([])
    text = generate_latest(registry).decode()
    assert 'mlserve_inflight_requests{model="m"} 3.0' in text
    assert 'mlserve_rejected_requests_total{model="m"} 0.0' in text
    assert 'mlserve_alerts_active{kind="drift",model="m"} 0.0' in text
