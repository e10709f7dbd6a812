"""Version labels: integers inside (Triton, the repository), ``v<N>`` on the wire.

The SDK sends ``version="v1"``; people also type ``1``. Both parse to ``1``.
"""

from __future__ import annotations

import re

from mlserve.errors import InvalidInputError

_VERSION = re.compile(r"^[vV]?(\d{1,9})$")


def parse_version(label: str | int, field: str = "version") -> int:
    """``"v3"``, ``"3"`` or ``3`` -> ``3``; InvalidInputError naming the field otherwise."""
    if isinstance(label, int) and not isinstance(label, bool):
        number = label
    else:
        match = _VERSION.match(str(label).strip())
        if match is None:
            raise InvalidInputError(
                f"{field} {label!r} is not a version: use 'v<N>' or '<N>' with N >= 1 (e.g. 'v1')"
            )
        number = int(match.group(1))
    if number < 1:
        raise InvalidInputError(f"{field} must be >= 1 (got {label!r}); versions start at v1")
    return number


def version_label(version: int) -> str:
    """``3`` -> ``"v3"``."""
    return f"v{version}"
