"""Replay simulated traffic through the drift monitor to measure false alarms and detection.

The sample sentiment data (:mod:`mlserve.samples.sentiment_data`) trains a TF-IDF +
logistic-regression model in-process; its test split becomes the reference profile, the
way publishing computes one from validation data. Traffic is then drawn from fresh
sentences of the same generator (stationary), or shifted:

- ``label_mix``: true labels 10% negative / 90% positive (the reference is balanced);
- ``foreign_language``: 20% of requests are Spanish or German sentences;
- ``random_tokens``: 20% of requests are strings of random letters.

``strength`` changes the dose: the positive share for ``label_mix`` (default 0.9), the
off-distribution share for the other two (default 0.2).

Used by ``benchmarks/drift_simulation.py`` (full figures) and the monitoring tests (a
smaller run asserting the goals). Every run is deterministic for its seed.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlserve.monitoring.drift import DriftMonitor
from mlserve.monitoring.profile import compute_text_profile
from mlserve.monitoring.vocabulary import sklearn_vocabulary
from mlserve.samples.sentiment_data import LABELS, generate

Scenario = Literal["label_mix", "foreign_language", "random_tokens"]
SCENARIOS: tuple[Scenario, ...] = ("label_mix", "foreign_language", "random_tokens")
DEFAULT_STRENGTH: dict[str, float] = {
    "label_mix": 0.9,
    "foreign_language": 0.2,
    "random_tokens": 0.2,
}
MODEL = "sentiment"

_FOREIGN_SUBJECTS = [
    "el producto", "la entrega", "el servicio", "la comida", "das Produkt", "der Service",
    "die Lieferung", "das Hotel", "la aplicación", "die Kamera",
]  # fmt: skip
_FOREIGN_PREDICATES = [
    "es muy bueno", "fue terrible", "llegó el martes", "funciona bastante bien",
    "ist wirklich gut", "war schrecklich", "kam am Dienstag", "funktioniert nicht",
    "no me gusta nada", "ist zu teuer", "es demasiado caro", "hat zwei Einstellungen",
]  # fmt: skip


def foreign_sentence(rng: random.Random) -> str:
    """A short Spanish or German review sentence."""
    text = f"{rng.choice(_FOREIGN_SUBJECTS)} {rng.choice(_FOREIGN_PREDICATES)}."
    return text[0].upper() + text[1:]


def random_token_text(rng: random.Random) -> str:
    """A handful of random lowercase 'words'."""
    words = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9)))
        for _ in range(rng.randint(3, 12))
    ]
    return " ".join(words).capitalize() + "."


@dataclass
class _Pool:
    texts: list[str]
    probabilities: npt.NDArray[np.float64]
    labels: list[str]


@dataclass(frozen=True)
class TrialResult:
    """One replay: false alarms before the shift, and when (if) the shift was detected."""

    scenario: str
    requests: int
    false_alarms: int
    detection_delay: int | None
    """Shifted requests observed until a window reported drift; None: not detected."""
    drifted_signals: tuple[str, ...] = ()


class SentimentTrafficSimulation:
    """A trained sample model, its reference profile, and pools of traffic to replay."""

    def __init__(self, seed: int = 7, *, pool_size: int = 6_000, train_size: int = 1_500) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.seed = seed
        data = generate(train_size, seed=seed)
        self.pipeline: Any = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
        self.pipeline.fit(data.train_texts, data.train_labels)
        self.label_order = [str(label) for label in self.pipeline.classes_]
        reference_probabilities = self.pipeline.predict_proba(data.test_texts)
        self.profile = compute_text_profile(
            data.test_texts,
            reference_probabilities,
            self.label_order,
            sklearn_vocabulary(self.pipeline),
        )
        fresh = generate(pool_size, seed=seed + 1_000, test_fraction=1.0)
        self.normal = self._pool(fresh.test_texts, fresh.test_labels)
        rng = random.Random(seed + 2_000)
        foreign = [foreign_sentence(rng) for _ in range(pool_size // 5)]
        tokens = [random_token_text(rng) for _ in range(pool_size // 5)]
        self.foreign = self._pool(foreign, ["?"] * len(foreign))
        self.random_tokens = self._pool(tokens, ["?"] * len(tokens))
        self._by_label = {
            label: [i for i, y in enumerate(self.normal.labels) if y == label] for label in LABELS
        }

    def _pool(self, texts: list[str], labels: list[str]) -> _Pool:
        probabilities = np.asarray(self.pipeline.predict_proba(texts), dtype=np.float64)
        return _Pool(texts, probabilities, labels)

    def monitor(self, window_size: int = 500, alpha: float = 0.01) -> DriftMonitor:
        """A fresh monitor that knows this model's reference profile."""
        monitor = DriftMonitor(window_size, alpha=alpha)
        monitor.set_reference(MODEL, 1, self.profile)
        return monitor

    def _draw(
        self, rng: random.Random, scenario: Scenario | None, strength: float = 0.0
    ) -> tuple[str, Any]:
        if scenario == "label_mix":
            label = "positive" if rng.random() < strength else "negative"
            i = rng.choice(self._by_label[label])
            return self.normal.texts[i], self.normal.probabilities[i]
        if scenario in ("foreign_language", "random_tokens") and rng.random() < strength:
            pool = self.foreign if scenario == "foreign_language" else self.random_tokens
            i = rng.randrange(len(pool.texts))
            return pool.texts[i], pool.probabilities[i]
        i = rng.randrange(len(self.normal.texts))
        return self.normal.texts[i], self.normal.probabilities[i]

    def stationary(self, requests: int, *, seed: int, window_size: int = 500) -> TrialResult:
        """Replay ``requests`` requests of unchanged traffic; every alarm is a false one."""
        rng = random.Random(seed)
        monitor = self.monitor(window_size)
        alarms = 0
        for _ in range(requests):
            text, probabilities = self._draw(rng, None)
            report = monitor.observe(MODEL, 1, text, probabilities)
            alarms += int(report is not None and report.detected)
        return TrialResult("stationary", requests, alarms, None)

    def shift(
        self,
        scenario: Scenario,
        *,
        seed: int,
        strength: float | None = None,
        max_requests: int = 2_000,
        window_size: int = 500,
    ) -> TrialResult:
        """Stationary traffic for a random part of a window, then ``scenario`` until detected.

        The shift starts at a random point inside a window, so the first window that sees
        it is partly stationary, as in production.
        """
        rng = random.Random(seed)
        monitor = self.monitor(window_size)
        warmup = rng.randrange(window_size)
        dose = DEFAULT_STRENGTH[scenario] if strength is None else strength
        alarms = 0
        for _ in range(warmup):
            text, probabilities = self._draw(rng, None)
            report = monitor.observe(MODEL, 1, text, probabilities)
            alarms += int(report is not None and report.detected)
        for shifted in range(1, max_requests + 1):
            text, probabilities = self._draw(rng, scenario, dose)
            report = monitor.observe(MODEL, 1, text, probabilities)
            if report is not None and report.detected:
                names = tuple(s.signal for s in report.signals if s.drifted)
                return TrialResult(scenario, warmup + shifted, alarms, shifted, names)
        return TrialResult(scenario, warmup + max_requests, alarms, None)
