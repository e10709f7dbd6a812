"""The real perf_analyzer (installed by ``make perf-analyzer``) against the test Triton.

A short measurement window at concurrency 1 and 2: the binary starts with its libraries,
drives the sample model over gRPC and HTTP with our texts, and its CSV parses into rows.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlserve.benchmarking.perf_analyzer import (
    PerfAnalyzerError,
    PerfAnalyzerRun,
    parse_perf_csv,
    perf_analyzer_binary,
    perf_analyzer_command,
    run_perf_analyzer,
    write_text_inputs,
)
from mlserve.benchmarking.render import render_csv
from mlserve.samples.sentiment_model import SAMPLE_NAME
from tests.support.triton_server import TritonServer

TEXTS = ["This product is amazing!", "Terrible, it broke after a day.", "It is fine."]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_the_real_perf_analyzer_measures_the_sample_model(
    triton_server: TritonServer, tmp_path: Path, protocol: str
) -> None:
    inputs = write_text_inputs(tmp_path / "inputs.json", TEXTS)
    url = triton_server.grpc_url if protocol == "grpc" else triton_server.http_url
    run = PerfAnalyzerRun(
        model=SAMPLE_NAME,
        url=url.removeprefix("http://"),
        protocol=protocol,  # type: ignore[arg-type]
        input_data=inputs,
        concurrency=(1, 2),
        measurement_interval_ms=500,
        stability_percentage=1000,  # a shared test machine: prove it runs, not how fast
        max_trials=10,
    )
    rows = run_perf_analyzer(run, workdir=tmp_path, timeout_s=180)
    assert [row.level for row in rows] == [1, 2]
    for row in rows:
        assert row.throughput > 10
        assert 0 < row.p50_us <= row.p90_us <= row.p95_us <= row.p99_us
        assert row.server_compute_infer_us > 0
    assert "Concurrency: 2" in (tmp_path / "perf_analyzer.log").read_text()


def test_perf_analyzer_reports_an_unknown_model_with_its_own_message(
    triton_server: TritonServer, tmp_path: Path
) -> None:
    run = PerfAnalyzerRun(
        model="no-such-model",
        url=triton_server.grpc_url,
        input_data=write_text_inputs(tmp_path / "inputs.json", TEXTS),
        measurement_interval_ms=200,
    )
    with pytest.raises(
        PerfAnalyzerError, match=r"perf_analyzer exited 99: .*unknown model.*no-such-model"
    ):
        run_perf_analyzer(run, workdir=tmp_path, timeout_s=60)


def test_the_shell_wrapper_runs_the_same_binary() -> None:
    done = subprocess.run(
        [str(Path(__file__).parents[2] / "bin" / "perf_analyzer"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "error while loading shared libraries" not in done.stderr
    assert done.returncode == 0
    assert "Perf Analyzer Version 2.40.0" in done.stdout + done.stderr


def test_a_missing_install_names_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(PerfAnalyzerError, match="run `make perf-analyzer`"):
        perf_analyzer_binary(tmp_path / "no-venv")


def test_uneven_concurrency_levels_are_refused_with_the_fix(tmp_path: Path) -> None:
    run = PerfAnalyzerRun(model="m", url="x:1", input_data=tmp_path, concurrency=(1, 2, 8))
    with pytest.raises(PerfAnalyzerError, match=r"evenly spaced .*\[1, 2, 8\]"):
        perf_analyzer_command(run, tmp_path / "out.csv")


def test_the_csv_parser_reads_mlserve_benchmarks_csv_too() -> None:
    assert render_csv([]).startswith("Concurrency,Inferences/Second")
    text = (
        "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
        "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
        "p50 latency,p90 latency,p95 latency,p99 latency\n"
        "16,2692.5,0,1200,300,20,2000,10,0,2900,4000,5000,7600\n"
    )
    (row,) = parse_perf_csv(text)
    assert (row.level, row.throughput, row.p50_us, row.p99_us) == (16, 2692.5, 2900, 7600)


def test_a_csv_without_rows_or_columns_is_refused() -> None:
    with pytest.raises(PerfAnalyzerError, match="not a perf_analyzer CSV"):
        parse_perf_csv("a,b\n1,2\n")
    with pytest.raises(PerfAnalyzerError, match="no rows"):
        parse_perf_csv("Concurrency,Inferences/Second\n")
