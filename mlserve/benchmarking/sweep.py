"""Load-level ranges in perf_analyzer's syntax.

``"8"`` is one level; ``"1:32:x2"`` multiplies from 1 to 32 (1, 2, 4, 8, 16, 32);
``"4:16:4"`` adds (4, 8, 12, 16); ``"2:6"`` steps by 1. The end is included when the
progression reaches it exactly and never exceeded.
"""

from __future__ import annotations

from mlserve.errors import InvalidInputError

_MAX_LEVELS = 1000


def parse_concurrency_range(spec: str, *, field: str = "concurrency") -> list[int]:
    """Concurrency levels (positive integers) from ``spec``."""
    levels = _parse(spec, field=field, integer=True)
    return [int(level) for level in levels]


def parse_rate_range(spec: str, *, field: str = "request_rate") -> list[float]:
    """Request rates (positive requests/s, fractional allowed) from ``spec``."""
    return _parse(spec, field=field, integer=False)


def _parse(spec: str, *, field: str, integer: bool) -> list[float]:
    kind = "whole numbers" if integer else "numbers"
    usage = (
        f"{field} takes N, START:END, START:END:STEP (linear) or START:END:xFACTOR "
        f"(geometric), with positive {kind}, e.g. 1:32:x2"
    )
    parts = [part.strip() for part in spec.strip().split(":")]
    if not 1 <= len(parts) <= 3 or any(not part for part in parts):
        raise InvalidInputError(f"{usage}; got {spec!r}")
    start = _number(parts[0], integer=integer, usage=usage, spec=spec)
    end = _number(parts[1], integer=integer, usage=usage, spec=spec) if len(parts) > 1 else start
    if end < start:
        raise InvalidInputError(f"{usage}; the end must not be below the start, got {spec!r}")
    step_text = parts[2] if len(parts) == 3 else "1"
    geometric = step_text.lower().startswith("x")
    step = _number(
        step_text[1:] if geometric else step_text,
        integer=integer and not geometric,
        usage=usage,
        spec=spec,
    )
    if geometric and step <= 1:
        raise InvalidInputError(f"{usage}; a factor must be above 1, got {spec!r}")

    levels: list[float] = []
    index = 0
    level = start
    while level <= end * (1 + 1e-9):
        levels.append(round(level) if integer else level)
        if len(levels) > _MAX_LEVELS:
            raise InvalidInputError(f"{field} {spec!r} gives more than {_MAX_LEVELS} levels")
        index += 1
        level = start * step**index if geometric else start + step * index
    return sorted(set(levels), key=levels.index)


def _number(text: str, *, integer: bool, usage: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"{usage}; got {spec!r}") from None
    if value <= 0 or value != value or value == float("inf"):
        raise InvalidInputError(f"{usage}; got {spec!r}")
    if integer and not value.is_integer():
        raise InvalidInputError(f"{usage}; got {spec!r}")
    return value
