"""The text workload and its unique_ratio knob."""

from __future__ import annotations

from mlserve.benchmarking.workload import TextWorkload, default_texts

TEXTS = [f"sentence {i}" for i in range(200)]


def test_unique_ratio_zero_repeats_from_the_pool() -> None:
    workload = TextWorkload(TEXTS, unique_ratio=0.0, pool_size=5)
    sent = workload.take(500)
    assert set(sent) <= set(workload.pool)
    assert len(set(sent)) == 5


def test_unique_ratio_one_never_repeats_even_across_runs() -> None:
    first = TextWorkload(TEXTS, unique_ratio=1.0, pool_size=5).take(300)
    second = TextWorkload(TEXTS, unique_ratio=1.0, pool_size=5).take(300)
    assert len(set(first)) == 300
    assert not set(first) & set(second)
    assert all(text.split(" ", 1)[1] in TEXTS for text in first)


def test_unique_ratio_sets_the_share_of_unique_texts() -> None:
    workload = TextWorkload(TEXTS, unique_ratio=0.3, pool_size=4)
    sent = workload.take(2000)
    unique = [text for text in sent if text not in workload.pool]
    assert 0.25 < len(unique) / len(sent) < 0.35


def test_the_same_seed_gives_the_same_pool_and_blank_texts_are_skipped() -> None:
    a = TextWorkload([*TEXTS, "  "], unique_ratio=0.0, pool_size=10, seed=3)
    b = TextWorkload(TEXTS, unique_ratio=0.0, pool_size=10, seed=3)
    assert a.pool == b.pool
    assert a.take(50) == b.take(50)


def test_default_texts_are_the_sentiment_samples() -> None:
    texts = default_texts()
    assert len(texts) == 1500
    assert all(texts)
