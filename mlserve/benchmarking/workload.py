"""The texts a benchmark sends, with a knob for how often the cache can hit.

A fraction ``unique_ratio`` of texts is made unique by a prefix no run ever repeats (so
neither the control plane's cache nor Triton's can answer them); the rest repeat from a
small pool, which the cache answers after the first pass. The prefix goes in front because
cleaning and tokenizers truncate at the end.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Sequence


def default_texts() -> list[str]:
    """The sample sentiment texts (train and test)."""
    from mlserve.samples import sentiment_data

    dataset = sentiment_data.generate()
    return [*dataset.train_texts, *dataset.test_texts]


class TextWorkload:
    """An endless, seeded sequence of texts with a controlled share of unique ones."""

    def __init__(
        self,
        texts: Sequence[str],
        *,
        unique_ratio: float,
        pool_size: int,
        seed: int = 0,
    ) -> None:
        usable = [text for text in texts if text.strip()]
        if not usable:
            raise ValueError("no non-empty texts to send")
        self._texts = usable
        self._rng = random.Random(seed)
        self._pool = self._rng.sample(usable, min(pool_size, len(usable)))
        self.unique_ratio = unique_ratio
        self._run = uuid.uuid4().hex[:10]
        self._counter = itertools.count()

    @property
    def pool(self) -> list[str]:
        return list(self._pool)

    def next_text(self) -> str:
        if self.unique_ratio > 0 and self._rng.random() < self.unique_ratio:
            return f"ref{self._run}n{next(self._counter)} {self._rng.choice(self._texts)}"
        return self._rng.choice(self._pool)

    def take(self, n: int) -> list[str]:
        """The next ``n`` texts."""
        return [self.next_text() for _ in range(n)]
