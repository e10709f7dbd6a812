"""A real server a test starts and stops (tritonserver, HAProxy, the control plane, ...)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartedService:
    """``with Service(...) as running:``: :meth:`start` on entry (and :meth:`stop` if that
    fails half way, so no process or folder is left behind), :meth:`stop` on exit."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
