"""Seed S2's curl examples, as written (no token), against the real ``mlserve up``: on a
local stack requests from this machine act as the admin (``auth.trust_loopback``); the
same requests get 401 where that trust is off, through a proxy, or when it was asked for
on a networked bind (refused at start, with one line)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from mlserve.repository.store import ModelRepository
from mlserve.samples.sentiment_model import train_sentiment
from tests.cli.test_up import _start_up, _wait_ready
from tests.conftest import Stack

SEED_HOST = "http://localhost:8001"
# Copied verbatim from seed S2 (only the host is replaced by the test server's).
S2_VERSIONS = "curl http://localhost:8001/models/event_classifier/versions"
S2_PROMOTE = (
    'curl -X POST "http://localhost:8001/models/event_classifier/promote'
    '?version=2&target_stage=Production"'
)
S2_CREATE = """curl -X POST http://localhost:8001/experiments/create \\
  -H "Content-Type: application/json" \\
  -d '{
    "name": "Event Classifier v1 vs v2",
    "description": "Compare baseline with optimized model",
    "model_type": "event_classifier",
    "variants": [
      {"name": "control", "version": "1", "traffic_percentage": 50},
      {"name": "treatment", "version": "2", "traffic_percentage": 50}
    ],
    "duration_hours": 24,
    "success_metrics": {
      "success_rate": {"threshold": 0.95, "weight": 1.0},
      "avg_latency_ms": {"threshold": 100, "weight": 0.5}
    }
  }'"""
S2_RESULTS = "curl http://localhost:8001/experiments/{experiment_id}/results"
S2_STOP = "curl -X POST http://localhost:8001/experiments/{experiment_id}/stop"
S2_DASHBOARD = "curl http://localhost:8001/monitoring/dashboard/event_classifier"
S2_METRICS = "curl http://localhost:8001/monitoring/metrics"
S2_ALERTS = "curl http://localhost:8001/monitoring/alerts"


def curl(command: str, base: str, *extra: str) -> tuple[int, str]:
    """Run the seed's ``command`` with bash against ``base``; (status, body)."""
    line = command.replace(SEED_HOST, base)
    flags = " ".join(["-sS", "-w", "'\\n%{http_code}'", *extra])
    done = subprocess.run(
        ["bash", "-c", f"{line} {flags}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def publish_event_classifier(repository: Path) -> None:
    """Seed S2's model (two versions) and the sample ``sentiment`` the default routes use."""
    store = ModelRepository(repository)
    for name in ("sentiment", "event_classifier"):
        store.publish_version(train_sentiment(1), name, 1)
        store.publish_version(train_sentiment(2), name, 2)


def test_seed_s2_curls_work_as_written_against_mlserve_up(tmp_path: Path) -> None:
    publish_event_classifier(tmp_path / "model_repository")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLSERVE_")},
        "MLSERVE_MODELS_DIR": str(tmp_path / "model_repository"),
    }
    process, base = _start_up(tmp_path, env)
    try:
        _wait_ready(base, process)
        versions = curl(S2_VERSIONS, base)
        promoted = curl(S2_PROMOTE, base)
        created = curl(S2_CREATE, base)
        assert created[0] == 201, created
        experiment_id = json.loads(created[1])["experiment_id"]
        for i in range(20):
            answer = httpx.post(
                f"{base}/predict", json={"model": "event_classifier", "text": f"meeting {i}"}
            )
            assert answer.status_code == 200, answer.text
        results = curl(S2_RESULTS.replace("{experiment_id}", experiment_id), base)
        stopped = curl(S2_STOP.replace("{experiment_id}", experiment_id), base)
        dashboard = curl(S2_DASHBOARD, base)
        alerts = curl(S2_ALERTS, base)
        metrics = curl(S2_METRICS, base)
        proxied = curl(S2_PROMOTE, base, "-H", "'X-Forwarded-For: 203.0.113.9'")
        history = httpx.get(f"{base}/models/event_classifier/history").json()
        online = _online_policy_without_a_token(base)
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode()

    assert versions[0] == 200, versions
    assert [v["version"] for v in json.loads(versions[1])["versions"]] == ["v1", "v2"]
    assert promoted[0] == 200, promoted
    assert json.loads(promoted[1])["production"] == 2
    assert results[0] == 200, results
    assert [v["name"] for v in json.loads(results[1])["variants"]] == ["control", "treatment"]
    assert stopped[0] == 200, stopped
    assert json.loads(stopped[1])["status"] == "stopped"
    assert dashboard[0] == 200, dashboard
    assert json.loads(dashboard[1])["model_name"] == "event_classifier"
    assert alerts[0] == 200, alerts
    assert metrics[0] == 200
    assert "mlserve_requests_total" in metrics[1]
    assert proxied[0] == 401, proxied  # through a proxy: never trusted
    stage_changes = [t for t in history["transitions"] if t["action"] == "stage"]
    assert [(t["by"], t["version"], t["to_stage"]) for t in stage_changes] == [
        ("local-admin", 2, "Production")
    ]
    assert "local admin" in output, output
    configured, predicted, proxied_online = online
    assert configured.status_code == 200, configured.text
    assert predicted.status_code == 200, predicted.text  # the hot route left it to the guards
    assert predicted.json()["predictions"][0]["action"] in ONLINE_ACTIONS
    assert proxied_online.status_code == 401, proxied_online.text


ONLINE_ACTIONS = ["show_discount", "no_action"]


def _online_policy_without_a_token(base: str) -> tuple[httpx.Response, ...]:
    """S0's online policy configured and asked from this machine with no token (loopback
    trust), and the same prediction through a proxy (never trusted)."""
    contract = {"features": [{"name": "age", "type": "continuous"}], "actions": ONLINE_ACTIONS}
    configured = httpx.post(
        f"{base}/api/v1/model_config",
        data={
            "name": "promo",
            "version": "v1",
            "task_type": "policy_next",
            "feature_contract": json.dumps(contract),
        },
    )
    body = {"inputs": [{"age": 30}]}
    predicted = httpx.post(f"{base}/api/v1/online_predict/promo/v1", json=body)
    proxied = httpx.post(
        f"{base}/api/v1/online_predict/promo/v1",
        json=body,
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    return configured, predicted, proxied


def test_the_same_requests_get_401_without_loopback_trust(stack: Stack) -> None:
    """The session's control plane: started as docker-compose and Helm start it (trust
    off), on loopback like ``mlserve up``."""
    assert stack.settings.auth.trust_loopback is None
    base = stack.base_url
    promote = curl(S2_PROMOTE, base)
    create = curl(S2_CREATE, base)
    stop = curl(S2_STOP.replace("{experiment_id}", "exp-000000000000"), base)
    assert (promote[0], create[0], stop[0]) == (401, 401, 401), (promote, create, stop)
    assert "bearer token" in promote[1]


def test_up_refuses_loopback_trust_on_a_networked_bind_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mlserve"), "up", "--host", "0.0.0.0", "--no-samples"],
        env={
            **os.environ,
            "MLSERVE_MODELS_DIR": str(tmp_path / "repo"),
            "MLSERVE_AUTH__TRUST_LOOPBACK": "true",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "auth.trust_loopback" in lines[0]
    assert "0.0.0.0" in lines[0]
