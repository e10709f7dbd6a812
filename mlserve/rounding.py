"""Decimal rounding for what the request path writes: answers and request log lines.

Rounding as numpy rounds the probabilities: a scaled integer round, the scale a constant.
Python's correctly rounded ``round(x, n)`` formats the float (~1 µs each here, and the
request path rounds up to eight values); the two differ only within a rounding error of a
half in the last place. NaN and infinities (a broken model's output) pass through, as
``round(x, n)`` lets them.
"""

from __future__ import annotations

import math

_isfinite = math.isfinite


def round3(value: float) -> float:
    """``value`` to 3 decimals (milliseconds)."""
    return round(value * 1000.0) / 1000.0 if _isfinite(value) else value


def round6(value: float) -> float:
    """``value`` to 6 decimals (confidences and scores)."""
    return round(value * 1000000.0) / 1000000.0 if _isfinite(value) else value
