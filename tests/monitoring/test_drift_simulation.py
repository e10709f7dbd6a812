"""The drift monitor's goal, on replayed sample traffic through a real trained model.

Stationary traffic: at most 1 false alarm per 10,000 requests. A label mix moved to 10/90,
or 20% of requests in another language or of random tokens: detected within 2,000
requests in at least 9 of 10 trials. (Full figures: ``benchmarks/drift_simulation.py``.)
"""

from __future__ import annotations

import pytest

from mlserve.monitoring.simulation import SCENARIOS, Scenario, SentimentTrafficSimulation

TRIALS = 10
MAX_DELAY = 2_000


@pytest.fixture(scope="module")
def simulations() -> list[SentimentTrafficSimulation]:
    """Three independently trained models, each with its own reference and traffic."""
    return [SentimentTrafficSimulation(seed=seed, pool_size=4_000) for seed in (7, 8, 9)]


def test_stationary_traffic_raises_at_most_one_false_alarm_per_10k(
    simulations: list[SentimentTrafficSimulation],
) -> None:
    results = [
        simulation.stationary(10_000, seed=100 + i) for simulation in simulations for i in range(3)
    ]
    requests = sum(r.requests for r in results)
    false_alarms = sum(r.false_alarms for r in results)
    assert requests == 90_000
    assert false_alarms <= requests / 10_000


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_shifts_are_detected_within_2000_requests(
    simulations: list[SentimentTrafficSimulation], scenario: Scenario
) -> None:
    results = [
        simulations[trial % len(simulations)].shift(
            scenario, seed=1_000 + trial, max_requests=MAX_DELAY
        )
        for trial in range(TRIALS)
    ]
    detected = [r for r in results if r.detection_delay is not None]
    assert len(detected) >= 9, [r.detection_delay for r in results]
    assert all(r.detection_delay is not None and r.detection_delay <= MAX_DELAY for r in detected)


def test_a_shift_is_detected_on_the_signals_it_moves(
    simulations: list[SentimentTrafficSimulation],
) -> None:
    label_mix = simulations[0].shift("label_mix", seed=5)
    assert "predicted_label" in label_mix.drifted_signals
    gibberish = simulations[0].shift("random_tokens", seed=5)
    assert "oov_rate" in gibberish.drifted_signals
