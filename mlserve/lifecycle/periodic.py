"""One background pass repeated forever: the experiment supervisor's and the model watch's
loop. A failed pass is logged and the next one runs after ``interval_s``; cancelling the
task stops it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def repeat_forever(
    one_pass: Callable[[], Awaitable[None]], interval_s: float, what: str
) -> None:
    """Run ``one_pass`` every ``interval_s`` seconds until cancelled; ``what`` names it in
    the log when a pass fails."""
    while True:
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s pass failed; retrying", what)
        await asyncio.sleep(interval_s)
