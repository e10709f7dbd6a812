"""``mlserve benchmark`` through Typer: output formats, and one-line errors with exit code 1."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from mlserve.benchmarking import CSV_COLUMNS
from mlserve.cli.benchmark import benchmark_command
from mlserve.settings import get_settings
from tests.benchmarking.conftest import PredictServer, TritonUnderTest

app = typer.Typer(pretty_exceptions_enable=False)
app.command("benchmark")(benchmark_command)
app.command("noop")(lambda: None)  # two commands, so `benchmark` is a subcommand as in mlserve
runner = CliRunner()

FAST = ["--measurement-interval", "200", "--max-trials", "3"]


@pytest.fixture(autouse=True)
def no_configured_triton(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The configured Triton points at a closed port, so no stray server adds a breakdown."""
    monkeypatch.setenv("MLSERVE_TRITON__HTTP_PORT", str(closed_port))
    monkeypatch.setenv("MLSERVE_TRITON__GRPC_PORT", str(closed_port))
    monkeypatch.delenv("MLSERVE_TRITON_URL", raising=False)
    monkeypatch.delenv("MLSERVE_TRITON__HTTP_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["benchmark", *args], env={"COLUMNS": "160"})


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_json_lists_one_step_per_concurrency_with_the_required_fields(
    predict_server: PredictServer,
) -> None:
    result = invoke(
        "sentiment", "60", "--url", predict_server.url, "--concurrency", "1:4:x2",
        "--unique-ratio", "0", "--json", *FAST,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)
    assert [s["concurrency"] for s in steps] == [1, 2, 4]
    required = {"throughput", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "errors"}
    required |= {"cache_hit_ratio", "server_queue_us", "server_avg_batch_size"}
    for step in steps:
        assert required <= step.keys()
        assert step["errors"] == 0
        assert step["throughput"] > 0
        assert step["p50_ms"] <= step["p99_ms"]
    # unique ratio 0: the texts repeat from a pool of 32, so later steps are mostly hits
    assert steps[-1]["cache_hit_ratio"] > 0.9
    assert predict_server.requests >= 3 * 60


def test_table_and_perf_analyzer_csv(predict_server: PredictServer, tmp_path: Path) -> None:
    out = tmp_path / "steps.csv"
    result = invoke("sentiment", "30", "--url", predict_server.url, "-c", "2", "--csv", str(out))

    assert result.exit_code == 0, result.output
    assert "c=2" in result.stdout
    assert "p99 ms" in result.stdout
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1][0] == "2"
    assert float(rows[1][1]) > 0


def test_batch_size_and_data_file(predict_server: PredictServer, tmp_path: Path) -> None:
    data = tmp_path / "texts.txt"
    data.write_text("first text\n\nsecond text\n")
    result = invoke(
        "sentiment", "10", "--url", predict_server.url, "--batch-size", "4",
        "--data", str(data), "--unique-ratio", "0", "--json", *FAST,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [step] = json.loads(result.stdout)
    assert step["inferences_per_s"] == pytest.approx(4 * step["throughput"])
    # the warm-up check, then at most n requests; only the 2 texts of the file (+ the check's)
    assert predict_server.texts <= 4 * 11
    assert predict_server.seen <= {"first text", "second text", "benchmark check"}


def test_request_rate_mode(predict_server: PredictServer) -> None:
    result = invoke(
        "sentiment", "20", "--url", predict_server.url, "--request-rate", "40", "--json", *FAST
    )
    assert result.exit_code == 0, result.output
    [step] = json.loads(result.stdout)
    assert step["concurrency"] is None
    assert step["request_rate"] == 40


def test_a_bad_target_is_one_line(predict_server: PredictServer) -> None:
    result = invoke("sentiment", "10", "--url", predict_server.url, "--target", "triton-grcp")
    assert_one_line_error(result, "--target must be one of", "triton-grpc", "'triton-grcp'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-c", "0:4"], "concurrency"),
        (["--unique-ratio", "2"], "unique_ratio"),
        (["--stability-percentage", "0"], "stability_pct"),
    ],
)
def test_bad_options_are_one_line(
    predict_server: PredictServer, args: list[str], fragment: str
) -> None:
    assert_one_line_error(invoke("sentiment", "10", "--url", predict_server.url, *args), fragment)


def test_n_below_one_is_one_line(predict_server: PredictServer) -> None:
    assert_one_line_error(invoke("sentiment", "0", "--url", predict_server.url), "n must be")


def test_a_missing_data_file_is_one_line(predict_server: PredictServer, tmp_path: Path) -> None:
    result = invoke(
        "sentiment", "10", "--url", predict_server.url, "--data", str(tmp_path / "nope.txt")
    )
    assert_one_line_error(result, "--data", "does not exist")


def test_an_unknown_model_is_one_line_with_the_server_reason(
    predict_server: PredictServer,
) -> None:
    result = invoke("missing", "10", "--url", predict_server.url)
    assert_one_line_error(result, "HTTP 404", "Unknown model 'missing'")


@pytest.mark.parametrize("target", ["control-plane", "triton-grpc", "triton-http"])
def test_a_server_that_is_down_is_one_line(closed_port: int, target: str) -> None:
    url = (
        f"127.0.0.1:{closed_port}" if target == "triton-grpc" else f"http://127.0.0.1:{closed_port}"
    )
    result = invoke("sentiment", "10", "--target", target, "--url", url)
    assert_one_line_error(result, "Cannot reach", str(closed_port))


def test_a_server_that_is_down_by_default_url_names_the_fix(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSERVE_SERVER__PORT", str(closed_port))
    get_settings.cache_clear()
    assert_one_line_error(invoke("sentiment", "10"), "Cannot reach", "mlserve up")


def test_triton_grpc_with_the_server_side_breakdown(triton_textlen: TritonUnderTest) -> None:
    result = invoke(
        "textlen", "30", "--target", "triton-grpc", "--url", triton_textlen.grpc_url,
        "--triton-http-url", triton_textlen.http_url, "-c", "2", "--json", *FAST,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [step] = json.loads(result.stdout)
    assert step["errors"] == 0
    assert step["server_requests"] == 30
    assert step["server_compute_infer_us"] > 0
    assert step["cache_hit_ratio"] is None


@pytest.mark.parametrize("target", ["triton-grpc", "triton-http"])
def test_a_model_triton_does_not_serve_is_one_line(
    triton_textlen: TritonUnderTest, target: str
) -> None:
    url = triton_textlen.grpc_url if target == "triton-grpc" else triton_textlen.http_url
    result = invoke("nosuchmodel", "10", "--target", target, "--url", url)
    assert_one_line_error(result, "nosuchmodel")
