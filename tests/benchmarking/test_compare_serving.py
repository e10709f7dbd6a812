"""``benchmarks/compare_serving.py`` end to end against the session stack: its JSON format
(``mlserve.compare_serving/1``) is what future changes are judged by, so it is pinned here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Stack

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "compare_serving.py"
SCENARIOS = [
    "onnxruntime",
    "triton-grpc",
    "triton-http",
    "predict-cold",
    "predict-warm",
    "asgi-floor",
    "batch-predict-cold",
    "batch-predict-warm",
]
STEP_FIELDS = {
    "concurrency",
    "throughput",
    "inferences_per_s",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "errors",
    "errors_by_kind",
    "cache_hit_ratio",
    "server_queue_us",
    "server_compute_infer_us",
    "server_avg_batch_size",
}


def test_one_run_compares_every_path_on_the_same_model_and_load(
    stack: Stack, tmp_path: Path
) -> None:
    output = tmp_path / "compare.json"
    command = [
        sys.executable, str(SCRIPT),
        "--url", stack.base_url,
        "--triton-grpc", stack.triton.grpc_url,
        "--triton-http", stack.triton.http_url,
        "--models-dir", str(stack.repository.root),
        "--stack-pid", str(os.getpid()),  # the test's control plane, and Triton below it
        "--concurrency", "1", "2",
        "--requests", "60", "--window-s", "0.3", "--max-windows", "3", "--batch-size", "4",
        "--no-overload", "--rounds", "2", "--output", str(output),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "targets (issue 4)" in run.stdout
    doc = json.loads(output.read_text())
    assert doc["format"] == "mlserve.compare_serving/1"
    probe = doc["machine"]["cpu_probe_us"]
    assert probe["before"] > 0
    assert probe["after"] > 0
    assert doc["model"]["name"] == "sentiment"
    assert doc["load"]["concurrency"] == [1, 2]
    assert list(doc["scenarios"]) == SCENARIOS
    for name, scenario in doc["scenarios"].items():
        steps = scenario["steps"]
        assert [s["concurrency"] for s in steps] == [1, 2], name
        for step in steps:
            assert step.keys() >= STEP_FIELDS, name
            assert step["errors"] == 0, (name, step["errors_by_kind"])
            assert step["throughput"] > 0, name
    roles = {"load_generator", "control_plane", "tritonserver", "python_stub", "total"}
    for name in SCENARIOS[1:]:
        for step in doc["scenarios"][name]["steps"]:
            cpu = step["cpu_us_per_request"]
            assert cpu.keys() == roles, name
            assert cpu["total"] == pytest.approx(sum(cpu[r] for r in roles - {"total"}), abs=1)
    assert "cpu_us_per_request" not in doc["scenarios"]["onnxruntime"]["steps"][0]

    # /proc counts in 10 ms ticks: these short steps are judged together, not one by one.
    def cpu_of(*names: str) -> list[dict[str, float]]:
        return [s["cpu_us_per_request"] for n in names for s in doc["scenarios"][n]["steps"]]

    triton_paths = cpu_of("triton-grpc", "triton-http", "predict-cold", "batch-predict-cold")
    assert sum(c["tritonserver"] for c in triton_paths) > 0
    assert sum(c["python_stub"] for c in triton_paths) > 0
    assert sum(c["control_plane"] for c in cpu_of("predict-cold", "predict-warm")) > 0
    assert doc["ratios"]["cpu_bound_predict_cold_over_triton_http_c2"] > 0
    cold, warm = doc["scenarios"]["predict-cold"], doc["scenarios"]["predict-warm"]
    assert all(s["cache_hit_ratio"] == 0 for s in cold["steps"])
    assert all(s["cache_hit_ratio"] == 1 for s in warm["steps"])
    assert all(s["server_requests"] == 0 for s in warm["steps"])  # Triton never saw them
    floor = doc["scenarios"]["asgi-floor"]["steps"]
    assert all(s["cache_hit_ratio"] == 1 for s in floor)  # it answers a real cached answer
    assert sum(s["cpu_us_per_request"]["tritonserver"] for s in floor) == 0
    assert doc["ratios"]["asgi_floor_over_predict_cold_throughput_c2"] > 0
    assert doc["scenarios"]["batch-predict-cold"]["steps"][0]["server_avg_batch_size"] >= 4
    assert "predict_cold_over_triton_http_throughput_c2" in doc["ratios"]
    assert "predict_cold_minus_triton_grpc_p50_ms_c1" in doc["ratios"]
    assert {t["name"].split(" (")[0] for t in doc["targets"]} == {
        "predict keeps 60% of Triton HTTP throughput",
        "predict p50 within 1.5 ms of Triton gRPC p50",
        "warm-cache p50 3x lower than cold",
        "warm-cache throughput 3x higher than cold",
    }
    assert all(isinstance(t["met"], bool) for t in doc["targets"])
    assert [t["name"] for t in doc["targets"] if "asgi_floor" in t] == [
        "warm-cache p50 3x lower than cold (c=2)",
        "warm-cache throughput 3x higher than cold (c=2)",
        "warm-cache p50 3x lower than cold (c=1)",
        "warm-cache throughput 3x higher than cold (c=1)",
    ]
    assert [t["name"] for t in doc["targets"] if "cpu_bound" in t] == [
        "predict keeps 60% of Triton HTTP throughput (c=2)",
        "warm-cache throughput 3x higher than cold (c=2)",
        "warm-cache throughput 3x higher than cold (c=1)",
    ]
    key = "predict_warm_over_cold_throughput_c2"
    by_round = [r["ratios"][key] for r in doc["rounds"]]
    assert len(by_round) == 2
    assert doc["ratios"][key] == round((by_round[0] + by_round[1]) / 2, 3)  # the median
    stamped = list(tmp_path.glob("compare-*.json"))
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text()) == doc


def test_a_stack_pid_that_is_not_running_ends_the_run_with_one_line(tmp_path: Path) -> None:
    command = [
        sys.executable, str(SCRIPT),
        "--url", "http://127.0.0.1:9",
        "--triton-grpc", "127.0.0.1:9",
        "--triton-http", "http://127.0.0.1:9",
        "--models-dir", str(tmp_path),
        "--stack-pid", "999999999",
        "--output", str(tmp_path / "out.json"),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "--stack-pid 999999999: no such process here; pass the pid of a running mlserve up, "
        "tritonserver or control plane"
    ]
    assert not (tmp_path / "out.json").exists()


def test_a_stack_pid_without_url_is_refused_before_starting_anything() -> None:
    command = [sys.executable, str(SCRIPT), "--stack-pid", str(os.getpid())]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode != 0
    assert "--stack-pid goes with --url" in run.stderr
    assert "starting mlserve up" not in run.stdout
