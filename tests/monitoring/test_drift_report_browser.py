"""Drift reports opened in a real headless Chromium: the CLI's file and the served page.

The page must load with no console error, show one chart per column with two bars per bin,
and render (the screenshot holds the reference and current bar colours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from mlserve_sdk.client import MLServeClient
from sklearn.linear_model import LogisticRegression

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack
from tests.monitoring.test_drift_report import frame, write
from tests.support.browser import headless_chromium, open_page
from tests.support.cli import run_mlserve

REFERENCE_BLUE = (0x4C, 0x78, 0xA8)
CURRENT_ORANGE = (0xF5, 0x85, 0x18)
MODEL = "drift-report-churn"
FEATURES = ["age", "income", "tenure"]


def chart_counts(browser: Any) -> dict[str, int]:
    return dict(
        browser.execute_script(
            """return {
              charts: document.querySelectorAll('svg.dist').length,
              ref: document.querySelectorAll('svg.dist rect.ref').length,
              cur: document.querySelectorAll('svg.dist rect.cur').length,
              drawn: [...document.querySelectorAll('svg.dist rect')]
                       .filter(r => r.getBBox().height > 0).length,
              rows: document.querySelectorAll('#columns tbody tr').length,
            }"""
        )
    )


def test_cli_report_renders_in_chromium(tmp_path: Path) -> None:
    ref = write(frame(1000, seed=1), tmp_path / "ref.csv")
    cur = write(frame(500, shift=1.0, seed=3, shifted_columns=1), tmp_path / "cur.csv")
    out = tmp_path / "report.html"
    done = run_mlserve(
        "drift", "report", "churn", "--reference", str(ref), "--current", str(cur), "-o", str(out)
    )
    assert done.returncode == 0, done.stderr

    with headless_chromium() as browser:
        page = open_page(browser, out.as_uri())
        counts = chart_counts(browser)
        verdict = browser.find_element("id", "verdict").text

    assert page.console_errors == []
    assert verdict == "Dataset: no drift"  # x0 and colour: 2 of 5 columns
    assert counts["charts"] == counts["rows"] == 5
    assert counts["ref"] == counts["cur"] > 5 * 2
    assert counts["drawn"] > counts["ref"]  # most bars have a height
    assert page.distinct_colours() > 10
    assert page.has_colour(REFERENCE_BLUE)
    assert page.has_colour(CURRENT_ORANGE)


def churn(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float) + shift * 20,
            "income": rng.normal(50.0 + shift * 30, 15.0, n).round(2),
            "tenure": rng.integers(0, 120, n).astype(float),
        }
    )


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> MLServeClient:
    client = MLServeClient(server_url=stack.base_url)
    client.login(ADMIN_USER, ADMIN_PASSWORD)
    train = churn(600, seed=1)
    y = ((train.age / 80 + train.income / 100) > 1.0).astype(int)
    model = LogisticRegression(max_iter=500).fit(train, y)
    started = client.deploy(
        model=model,
        name=MODEL,
        version="v1",
        features=FEATURES,
        background_df=train.head(400),
        metrics={"accuracy": 0.9},
        task_type="classification",
    )
    final = client.wait_for_deployment(started["deployment_id"], poll_interval=1, timeout=300)
    assert final["status"] == "success", final
    live = churn(250, seed=2, shift=1.0)
    for start in range(0, 250, 50):
        rows = live.iloc[start : start + 50].to_dict("records")
        client.predict(MODEL, "v1", {"inputs": [{k: float(v) for k, v in r.items()} for r in rows]})
    return client


def test_served_report_renders_in_chromium(stack: Stack, deployed: MLServeClient) -> None:
    url = f"{stack.base_url}/monitoring/drift/{MODEL}/report?window=1h"
    answer = httpx.get(url, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")

    with headless_chromium() as browser:
        page = open_page(browser, url)
        counts = chart_counts(browser)
        verdict = browser.find_element("id", "verdict").text
        subtitle = browser.find_element("css selector", "p.sub").text

    assert page.console_errors == []
    assert verdict == "Dataset: drift"  # age and income moved: 2 of 3 columns
    assert "(250 rows)" in subtitle
    assert counts["charts"] == counts["rows"] == 3
    assert page.has_colour(REFERENCE_BLUE)
    assert page.has_colour(CURRENT_ORANGE)


def test_served_report_errors(stack: Stack, deployed: MLServeClient) -> None:
    base = f"{stack.base_url}/monitoring/drift"
    cases = [
        (f"{base}/no-such-model/report", 404, "is not published"),
        (f"{base}/{MODEL}/report?window=1y", 422, "window '1y' is not a duration"),
        (f"{base}/{MODEL}/report?version=9", 404, "9"),
        (f"{base}/sentiment/report", 404, "has no reference profile"),
    ]
    for url, status, message in cases:
        answer = httpx.get(url, timeout=30)
        assert answer.status_code == status, (url, answer.text)
        assert message in answer.json()["error"], answer.text


def test_cli_window_report_reads_the_server(
    stack: Stack, deployed: MLServeClient, tmp_path: Path
) -> None:
    out = tmp_path / "live.html"
    done = run_mlserve(
        "drift", "report", MODEL, "--window", "1h", "--url", stack.base_url, "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert 'id="verdict">Dataset: drift<' in out.read_text()
    missing = run_mlserve(
        "drift", "report", "sentiment", "--window", "1h", "--url", stack.base_url, "-o", str(out)
    )
    assert missing.returncode == 1
    assert "answered 404" in missing.stderr
    assert "no reference profile" in missing.stderr
    down = run_mlserve(
        "drift", "report", MODEL, "--window", "1h", "--url", "http://127.0.0.1:9", "-o", str(out)
    )
    assert down.returncode == 1
    assert "cannot reach the control plane" in down.stderr
