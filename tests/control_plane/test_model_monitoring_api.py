"""S2's dashboard, custom alerts to the signed webhooks, and ``mlserve alerts``, on the real
control plane (tritonserver, uvicorn, SQLite state)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
from typer.testing import CliRunner

from mlserve.cli.main import app
from mlserve.samples.sentiment_model import SAMPLE_NAME
from tests.conftest import Stack
from tests.control_plane.test_experiments_api import admin_headers
from tests.platform.webhook_receiver import WebhookReceiver


async def test_the_dashboard_counts_predictions_in_seed_s2s_shape(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        before = (await client.get(f"/monitoring/dashboard/{SAMPLE_NAME}")).json()
        for i in range(5):
            answer = await client.post(
                "/predict", json={"text": f"great service {i}", "model": SAMPLE_NAME}
            )
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            board = (await client.get(f"/monitoring/dashboard/{SAMPLE_NAME}")).json()
            done = board["statistics"]["total_predictions"]
            if done >= before["statistics"]["total_predictions"] + 5:
                break
            await asyncio.sleep(0.5)
    assert set(board) == {
        "model_name",
        "current_version",
        "health_status",
        "statistics",
        "performance_trend",
        "active_alerts",
        "drift_detected",
    }
    assert board["model_name"] == SAMPLE_NAME
    assert board["current_version"] is not None
    assert board["statistics"]["total_predictions"] >= before["statistics"]["total_predictions"] + 5
    assert board["statistics"]["success_rate"] == 1.0
    assert board["statistics"]["avg_latency_ms"] > 0
    assert board["performance_trend"]["hourly_data"][-1]["requests"] >= 5
    assert board["health_status"] in {"healthy", "degraded", "critical"}


async def test_unknown_models_have_no_dashboard(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        answer = await client.get("/monitoring/dashboard/no-such-model")
    assert answer.status_code == 404
    assert "no-such-model" in answer.json()["error"]


async def test_a_custom_alert_fires_to_the_signed_webhook(stack: Stack) -> None:
    name = f"busy_{uuid.uuid4().hex[:6]}"
    with WebhookReceiver(secret="hook-secret") as receiver:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
            admin = await admin_headers(client)
            hook = await client.post(
                "/api/v1/webhook",
                headers=admin,
                json={"url": receiver.url, "secret": "hook-secret"},
            )
            assert hook.status_code == 200, hook.text
            rule = {
                "name": name,
                "metric_name": "requests",
                "condition": ">=",
                "threshold": 3,
                "window_seconds": 60,
                "severity": "critical",
                "model": SAMPLE_NAME,
                "message_template": "{model} answered {value:.0f} requests",
            }
            created = await client.post("/monitoring/alerts/rules", json=rule, headers=admin)
            assert created.status_code == 201, created.text
            for i in range(4):
                await client.post("/predict", json={"text": f"alert {i}", "model": SAMPLE_NAME})
            events = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not events:
                events = [
                    json.loads(r.body)
                    for r in list(receiver.requests)
                    if json.loads(r.body).get("name") == name
                ]
                await asyncio.sleep(0.3)
            listed = (await client.get("/monitoring/alerts/rules")).json()
            deleted = await client.delete(f"/monitoring/alerts/rules/{name}", headers=admin)
            await client.post(
                "/api/v1/webhook", headers=admin, json={"url": receiver.url, "is_active": False}
            )
    assert events, "no alert.fired delivery within 20 s"
    assert events[0]["event"] == "alert.fired"
    assert events[0]["message"].startswith(f"{SAMPLE_NAME} answered")
    assert all(r.signature_ok for r in list(receiver.requests))
    assert name in [r["name"] for r in listed["rules"]]
    assert name in [f["name"] for f in listed["firing"]]
    assert deleted.status_code == 200


async def test_bad_alert_rules_get_a_422_naming_the_field(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        admin = await admin_headers(client)
        before = (await client.get("/monitoring/alerts/rules")).json()["rules"]
        bad = {"name": "x", "metric": "f1_score", "condition": "<", "threshold": 1}
        answer = await client.post("/monitoring/alerts/rules", json=bad, headers=admin)
        anonymous = await client.post(
            "/monitoring/alerts/rules",
            json={**bad, "metric": "accuracy"},
        )
        missing = await client.delete("/monitoring/alerts/rules/never-made", headers=admin)
        after = (await client.get("/monitoring/alerts/rules")).json()["rules"]
    assert answer.status_code == 422
    assert "metric" in answer.text
    assert "success_rate" in answer.text
    assert anonymous.status_code == 401
    assert missing.status_code == 404
    assert after == before


def test_mlserve_alerts_prints_json_and_an_80_column_table(stack: Stack) -> None:
    runner = CliRunner()
    as_json = runner.invoke(app, ["alerts", "--url", stack.base_url, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert set(json.loads(as_json.output)) >= {"alerts", "rules", "firing"}
    table = runner.invoke(app, ["alerts", "--url", stack.base_url])
    assert table.exit_code == 0, table.output
    assert "alerts" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    down = runner.invoke(app, ["alerts", "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1
