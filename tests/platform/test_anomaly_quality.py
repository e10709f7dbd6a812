"""Anomaly scores in data quality: the window's outlier share and score distribution against
the reference scores a version was published with (pure logic, a real SQLite store)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlserve.monitoring.profile import compute_tabular_profile
from mlserve.platform.anomaly_quality import anomaly_reference, anomaly_section
from mlserve.platform.data_quality import DataQualityService
from mlserve.platform.prediction_log import PredictionLog, PredictionRecord
from mlserve.platform.store_sqlite import SqliteStore
from mlserve.repository.metadata import ModelMetadata, TensorInfo
from mlserve.serving.platform_adapters import catalog_version
from tests.platform.platform_fakes import FakeCatalog


def reference(scores: Any) -> dict[str, Any]:
    records = [{"x": float(i)} for i in range(len(scores))]
    profile = compute_tabular_profile(records, ["x"], scores=scores)
    found = anomaly_reference(profile["signals"])
    assert found is not None
    return found


def test_reference_is_the_background_outlier_share_and_score_bins() -> None:
    scores = np.r_[np.full(90, 0.2), np.full(10, -0.1)]
    found = reference(scores)
    assert found["outlier_share"] == pytest.approx(0.1)
    assert found["n"] == 100
    assert len(found["counts"]) == len(found["cuts"]) + 1
    assert anomaly_reference({}) is None
    assert (
        anomaly_reference(
            compute_tabular_profile([{"x": float(i)} for i in range(40)], ["x"])["signals"]
        )
        is None
    )


def test_section_without_reference_summarizes_the_window() -> None:
    section = anomaly_section([0.3, -0.2, 0.1, float("nan"), -0.4], None)
    assert section["n"] == 4
    assert section["outlier_share"] == 0.5
    assert section["score"]["min"] == -0.4
    assert section["score"]["max"] == 0.3
    assert section["has_reference"] is False
    assert "status" not in section
    assert "negative = outlier" in section["direction"]
    assert anomaly_section([], None) == {"n": 0, "direction": section["direction"]}


def test_section_against_a_reference_is_stable_or_drifted() -> None:
    rng = np.random.default_rng(0)
    ref = reference(rng.normal(0.15, 0.1, 500))
    same = anomaly_section(rng.normal(0.15, 0.1, 300).tolist(), ref)
    assert same["status"] == "stable"
    assert same["score_psi"] < 0.1
    assert same["reference_outlier_share"] == pytest.approx(ref["outlier_share"])
    worse = anomaly_section(rng.normal(-0.1, 0.1, 300).tolist(), ref)
    assert worse["status"] == "drifted"
    assert worse["outlier_share"] > 0.7 > ref["outlier_share"]


def test_catalog_versions_carry_the_anomaly_reference() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(0.1, 0.1, 100)
    profile = compute_tabular_profile(
        [{"x": float(v)} for v in rng.normal(size=100)], ["x"], scores=scores
    )
    metadata = ModelMetadata(
        name="detector",
        version=1,
        framework="sklearn",
        task="anomaly-detection",
        input_kind="tabular",
        inputs=[TensorInfo(name="input", datatype="FP64", dims=[1])],
        outputs=[TensorInfo(name="scores", datatype="FP64", dims=[1])],
        reference_profile=profile,
        published_at=datetime.now(UTC),
    )
    shown = catalog_version(metadata, True).metadata
    assert "reference_profile" not in shown
    assert shown["anomaly_reference"]["outlier_share"] == pytest.approx((scores < 0).mean())
    plain = metadata.model_copy(update={"reference_profile": None})
    assert "anomaly_reference" not in catalog_version(plain, True).metadata


async def test_the_data_quality_report_adds_the_anomaly_section(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    log = PredictionLog(store, max_size=1000)
    catalog = FakeCatalog()
    catalog.add("detector", 1)
    catalog.add("classifier", 1)
    rng = np.random.default_rng(2)
    ref = reference(rng.normal(0.15, 0.1, 400))
    catalog.models["detector"][1].metadata["anomaly_reference"] = ref
    service = DataQualityService(store, log, catalog)
    now = time.time()

    def record(model: str, i: int, score: float | None) -> PredictionRecord:
        return PredictionRecord(
            prediction_id=f"{model}-{i}",
            request_id="r",
            model=model,
            version=1,
            ts=now,
            latency_ms=1.0,
            output=-1 if score is not None and score < 0 else 1,
            inputs={"x": float(i)},
            score=score,
        )

    await log.record(
        [record("detector", i, float(s)) for i, s in enumerate(rng.normal(-0.2, 0.1, 50))]
    )
    await log.record([record("classifier", i, None) for i in range(5)])
    try:
        report = await service.report("detector", 1, 1)
        assert report["anomaly"]["n"] == 50
        assert report["anomaly"]["status"] == "drifted"
        assert report["anomaly"]["outlier_share"] > 0.9
        assert "anomaly" not in await service.report("classifier", 1, 1)
        without_catalog = await DataQualityService(store, log).report("detector", 1, 1)
        assert without_catalog["anomaly"]["has_reference"] is False
    finally:
        await store.close()
