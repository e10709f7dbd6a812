"""How settings wire the serving stack (nothing connects while it is built)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlserve.control_plane.stack import ServingStack
from mlserve.settings import Settings


def built(tmp_path: Path, **overrides: Any) -> ServingStack:
    return ServingStack.build(
        Settings(
            models_dir=tmp_path,
            triton_url="127.0.0.1:1",
            triton={"http_url": "http://127.0.0.1:2"},
            **overrides,
        )
    )


@pytest.mark.parametrize(
    ("cache", "replays"),
    [
        ({"enabled": True}, True),
        ({"enabled": True, "replay_max_body_bytes": 0}, False),
        ({"enabled": False}, False),
        ({"enabled": True, "redis_url": "redis://127.0.0.1:1/0"}, False),
    ],
)
async def test_repeated_bodies_are_replayed_only_from_the_in_memory_cache(
    tmp_path: Path, cache: dict[str, Any], replays: bool
) -> None:
    stack = built(tmp_path, cache=cache)
    try:
        assert (stack.repeats is not None) is replays
    finally:
        await stack.cache.close()
        await stack.triton.close()
