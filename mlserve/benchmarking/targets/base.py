"""What a benchmark target does: check it can run, then send requests and time them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Self


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request as the client saw it."""

    latency_s: float
    error: str | None = None
    """Kind of failure (``http_503``, ``timeout``, ``grpc_unavailable``...); None on success."""
    cached: int = 0
    """Texts the response marked as served from the cache."""
    cache_reported: int = 0
    """Texts whose response said whether they were cached."""


class Target(ABC):
    """A server under load. ``check`` raises; ``send`` never does (failures are outcomes)."""

    description: str = "target"

    @abstractmethod
    async def check(self) -> None:
        """Fail fast with a one-line ``MLServeError`` when the server is down, the model is
        missing or the request is refused; a successful check also warms the path up."""

    @abstractmethod
    async def send(self, texts: list[str]) -> Outcome:
        """Send one request carrying ``texts`` and time it."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
