"""The deployment files, checked without Docker: compose structure, rules, dashboards."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlserve.settings import Settings
from tests.deploy.promql import (
    DASHBOARDS,
    DEPLOY,
    ROOT,
    RULE_FILES,
    alert_base,
    dashboard_queries,
    metric_names,
    recorded_names,
    rules,
    template_metric_names,
)

TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:24.10-py3"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _flag(command: list[str], name: str) -> str | None:
    for item in command:
        if item.startswith(f"{name}="):
            return item.split("=", 1)[1]
    return None


def test_metric_names_are_extracted_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, model) (rate(mlserve_x_bucket{model=~"$model",'
        ' status=~"4..|5.."}[$__rate_interval]))) / ignoring (label) group_left '
        "sum(nv_y offset 5m) * 1e6 + mlserve:z:rate5m or vector(0)"
    )
    assert metric_names(expr) == {"mlserve_x_bucket", "nv_y", "mlserve:z:rate5m"}
    assert alert_base("mlserve:success_ratio:rate5m < 0.95") == "mlserve:success_ratio:rate5m"


def test_compose_runs_triton_explicit_with_a_gpu(compose: dict[str, Any]) -> None:
    triton = compose["services"]["triton"]
    assert triton["image"] == TRITON_IMAGE
    command = triton["command"]
    assert command[0] == "tritonserver"
    assert _flag(command, "--model-control-mode") == "explicit"
    assert _flag(command, "--model-repository") == "/models"
    assert "./model_repository:/models" in triton["volumes"]
    devices = triton["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    ports = {p.split(":")[1] for p in triton["ports"]}
    assert {"8000", "8001", "8002"} <= ports


def test_compose_control_plane_settings_are_real(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"]["control-plane"]
    dockerfile = ROOT / service["build"]["context"] / service["build"]["dockerfile"]
    assert dockerfile.is_file()
    environment = {k: str(v) for k, v in service["environment"].items()}
    for key, value in environment.items():
        monkeypatch.setenv(key, re.sub(r"\$\{[^}]*:-([^}]*)\}", r"\1", value))
    settings = Settings()
    assert settings.triton.backend == "onnxruntime"
    assert settings.external_triton == "triton:8001"
    assert settings.triton.metrics_url == "http://triton:8002/metrics"
    assert settings.effective_redis_url == "redis://redis:6379/0"
    assert settings.server.workers == 2  # safe with the shared cache above
    assert settings.auth.state_redis_url is None, "platform state must not share the cache Redis"
    assert settings.auth.state_path == Path("/var/lib/mlserve/platform.sqlite3")
    assert any(v.endswith(":/var/lib/mlserve") for v in service["volumes"])
    assert settings.models_dir == Path("/models")
    assert "./model_repository:/models" in service["volumes"]
    assert set(service["depends_on"]) == {"triton", "redis"}
    assert settings.auth.trust_loopback is False  # a local proxy or sidecar must not be admin


def test_dockerfile_copies_files_that_exist() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    sources = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ")]
    assert sources
    for group in sources:
        for source in group:
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert re.search(r'^CMD \["mlserve", "up"', text, re.M)


def test_compose_mounts_exist_and_prometheus_scrapes_the_services(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"triton", "control-plane", "redis", "prometheus", "grafana"}
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists() or source == "./model_repository", (name, source)
            else:
                assert source in named, f"{name} uses undeclared volume {source}"
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    # The API port asks for a token in compose; Prometheus scrapes monitoring.port instead.
    env = services["control-plane"]["environment"]
    assert targets["mlserve"] == [f"control-plane:{env['MLSERVE_MONITORING__PORT']}"]
    assert "metrics" in yaml.safe_load(env["MLSERVE_AUTH__REQUIRE_TOKEN_FOR"])
    assert targets["triton"] == ["triton:8002"]


def test_rules_pass_promtool() -> None:
    assert RULE_FILES
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, RULE_FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {"record" if "record" in r else "alert" for r in rules()}
    assert kinds == {"record", "alert"}
    for rule in rules():
        if "alert" in rule:
            alert_base(rule["expr"])


def test_grafana_provisioning_matches_dashboards(compose: dict[str, Any]) -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (datasource,) = sources["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "mlserve.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]
    titles = set()
    uids = set()
    for dashboard in DASHBOARDS:
        board = json.loads(dashboard.read_text())
        titles.add(board["title"])
        uids.add(board["uid"])
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
            assert panel["targets"], panel["title"]
    assert len(DASHBOARDS) == 4
    assert len(uids) == 4
    assert len(titles) == 4


def test_every_query_names_stack_metrics() -> None:
    recorded = recorded_names()
    queries = dashboard_queries()
    assert len(queries) >= 20
    for query in queries:
        names = metric_names(query.expr)
        assert names, query
        for name in names:
            assert name.startswith(("mlserve_", "nv_")) or name in recorded, (query, name)
    for _, name in template_metric_names():
        assert name.startswith(("mlserve_", "nv_"))
