"""wrk sending unique bodies, against a real HTTP server, and reading its report."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mlserve.benchmarking import wrk
from mlserve.benchmarking.wrk import WrkError, WrkRun, parse_report, run_wrk, write_bodies
from tests.benchmarking.conftest import PredictServer

REPORT = """Running 3s test @ http://127.0.0.1:8000
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.40ms    3.71ms  63.02ms   87.61%
    Req/Sec     6.85k   612.30     7.63k    83.33%
  Latency Distribution
     50%  227.00us
     75%   10.49ms
     90%   12.37ms
     99%    1.02s
  20451 requests in 3.01s, 7.44MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   6794.35
Transfer/sec:      2.47MB
"""


def texts_file(path: Path, n: int, model: str | None = None) -> Path:
    extra = {"model": model} if model else {}
    return write_bodies(path, (orjson.dumps({"text": f"text {i}", **extra}) for i in range(n)))


def test_every_body_is_sent_once_and_the_report_matches_what_the_server_saw(
    predict_server: PredictServer, tmp_path: Path
) -> None:
    bodies = texts_file(tmp_path / "bodies", 20_000)
    result = run_wrk(WrkRun(predict_server.url, "/predict", bodies, connections=4, seconds=1))
    assert result.errors == 0
    assert result.requests > 50
    # wrk counts answered requests; the server may have answered a few more at the end.
    assert result.requests <= predict_server.requests <= result.requests + 4
    assert len(predict_server.seen) == predict_server.texts  # no text twice: no cache hits
    assert result.req_per_s == pytest.approx(result.requests / result.seconds)
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.cpu_s > 0


def test_a_warm_up_from_another_part_of_the_file_leaves_the_run_cold(
    predict_server: PredictServer, tmp_path: Path
) -> None:
    bodies = texts_file(tmp_path / "bodies", 20_000)
    run_wrk(WrkRun(predict_server.url, "/predict", bodies, connections=2, seconds=1, start=10_000))
    run_wrk(WrkRun(predict_server.url, "/predict", bodies, connections=2, seconds=1))
    assert len(predict_server.seen) == predict_server.texts > 100


def test_answers_other_than_2xx_are_counted_as_errors(
    predict_server: PredictServer, tmp_path: Path
) -> None:
    bodies = texts_file(tmp_path / "bodies", 5_000, model="missing")  # the server answers 404
    result = run_wrk(WrkRun(predict_server.url, "/predict", bodies, connections=2, seconds=1))
    assert result.requests > 0
    assert result.errors == result.requests


def test_a_server_that_is_not_there_ends_the_run_with_wrks_reason(
    closed_port: int, tmp_path: Path
) -> None:
    bodies = texts_file(tmp_path / "bodies", 10)
    url = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(WrkError, match=r"wrk exited 1: unable to connect .* refused"):
        run_wrk(WrkRun(url, "/predict", bodies, connections=2, seconds=1))


def test_the_report_is_read_in_its_units() -> None:
    result = parse_report(REPORT, cpu_s=0.5)
    assert result.requests == 20451
    assert result.seconds == pytest.approx(3.01)
    assert result.p50_ms == pytest.approx(0.227)
    assert result.p99_ms == pytest.approx(1020.0)
    assert result.errors == 2 + 1 + 4
    assert result.cpu_s == 0.5


def test_a_report_without_latencies_is_refused() -> None:
    with pytest.raises(WrkError, match="no --latency report"):
        parse_report("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_a_missing_wrk_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    bodies = texts_file(tmp_path / "bodies", 1)
    with pytest.raises(WrkError, match="make system-packages"):
        run_wrk(WrkRun("http://127.0.0.1:1", "/predict", bodies, connections=1, seconds=1))


def test_a_wrk_that_hangs_is_stopped_and_said(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "wrk"  # stands in for a wrk stuck past its run (not a server mock)
    fake.write_text("#!/bin/sh\nexec /bin/sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(wrk, "GRACE_S", 0.5)
    bodies = texts_file(tmp_path / "bodies", 1)
    with pytest.raises(WrkError, match=r"did not end within 0.5 s after its 1 s run"):
        run_wrk(WrkRun("http://127.0.0.1:1", "/predict", bodies, connections=1, seconds=1))


@pytest.mark.parametrize(
    ("threads", "headers", "message"),
    [
        (9, {"Content-Type": "application/json"}, "threads must be 1 to 8"),
        (1, {"X-A": "b|c"}, "cannot be passed"),
    ],
)
def test_settings_wrk_cannot_honour_are_refused(
    tmp_path: Path, threads: int, headers: dict[str, str], message: str
) -> None:
    bodies = texts_file(tmp_path / "bodies", 1)
    run = WrkRun("http://127.0.0.1:1", "/p", bodies, 1, 1, threads=threads, headers=headers)
    with pytest.raises(WrkError, match=message):
        run_wrk(run)
