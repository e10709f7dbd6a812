"""The fidelity suite: every model of :mod:`mlserve.converters.fidelity_cases` is served
exactly on a Unicode-heavy held-out set, or refused with its declared reason; the table of
supported models in docs/publishing.md is generated from the same list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlserve.converters.fidelity_cases import (
    TABLE_BEGIN,
    TABLE_DOC,
    FidelityCase,
    cases,
    held_out_texts,
    supported_models_table,
    tabular_data,
)
from mlserve.converters.loading import export_file, export_native_model
from mlserve.errors import ConversionError

ROOT = Path(__file__).resolve().parents[2]


def held_out_records() -> list[dict[str, object]]:
    frame, *_ = tabular_data()
    rows = frame.iloc[400:]
    return list(rows.to_dict(orient="records"))


def _params() -> list[object]:
    # MiniLM's export and parity take about a minute on 2 shared cores.
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.id.startswith("minilm") else [])
        for c in cases()
    ]


@pytest.mark.parametrize("case", _params())
def test_each_model_is_served_exactly_or_refused_with_its_reason(
    case: FidelityCase, tmp_path: Path
) -> None:
    if case.family == "pytorch":
        # What `mlserve load FILE --samples texts` does with the file the user saved.
        path = case.build(tmp_path)
        texts = held_out_texts(case)
        export = lambda: export_file(path, name=case.id, sample_texts=texts, max_bytes=10**9)  # noqa: E731
    elif case.family == "text":
        model = case.build()
        held_out = held_out_texts(case)
        export = lambda: export_native_model(model, name=case.id, sample_texts=held_out)  # noqa: E731
    else:
        model = case.build()
        records = held_out_records()
        names = getattr(model, "feature_names_in_", getattr(model, "feature_names_", None))
        if names is not None and len(names) < len(records[0]):
            # numeric-only models; LightGBM renames "income (€)" to "income_(€)"
            numeric = ["age", "income (€)", "score", "visits"]
            records = [{n: r[c] for n, c in zip(names, numeric, strict=True)} for r in records]
        export = lambda: export_native_model(model, name=case.id, background=records)  # noqa: E731

    if case.refused:
        with pytest.raises(ConversionError) as caught:
            export()
        assert case.refused in caught.value.message
        assert "\n" not in caught.value.message
        return
    exported = export()

    report = exported.parity
    assert report.passed, report.summary()
    assert report.label_mismatches == 0
    if exported.task == "classification":
        assert report.max_abs_diff <= 1e-4
    assert report.n_samples >= 60
    assert np.isfinite(report.max_abs_diff)


def test_the_suite_covers_at_least_sixty_models_of_both_families() -> None:
    families = [c.family for c in cases()]
    assert len(cases()) >= 60
    assert families.count("text") >= 25
    assert families.count("tabular") >= 25
    assert families.count("pytorch") >= 5
    assert len({c.id for c in cases()}) == len(cases())


def test_the_supported_models_table_is_generated_from_the_suite() -> None:
    page = (ROOT / TABLE_DOC).read_text()
    fix = "run: python -m mlserve.converters.fidelity_cases --write-docs"
    assert TABLE_BEGIN in page, fix
    assert supported_models_table() in page, fix
    # One copy only: a second table on another page would go stale unchecked.
    others = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    assert [p.name for p in others if p != ROOT / TABLE_DOC and TABLE_BEGIN in p.read_text()] == []
