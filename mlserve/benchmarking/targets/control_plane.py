"""Load on the control plane's plain API: ``POST /predict`` or ``POST /batch-predict``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from mlserve.benchmarking.config import BenchmarkConfig
from mlserve.benchmarking.failures import (
    describe_http_error,
    error_for_status,
    response_error_text,
)
from mlserve.benchmarking.targets.base import Outcome, Target
from mlserve.errors import ServiceUnavailableError
from mlserve.http1 import Http1Client, error_kind


def model_fields(model: str | None, version: int | None) -> dict[str, Any]:
    """The ``model`` and ``version`` fields of a predict body; empty for the default model."""
    fields: dict[str, Any] = {}
    if model is not None:
        fields["model"] = model
    if version is not None:
        fields["version"] = version
    return fields


def count_cached(body: Any) -> tuple[int, int]:
    """(texts cached, texts that reported it) from a predict or batch-predict response.

    Looks for a boolean ``cached`` at the top level and in each item of ``predictions``.
    """
    if not isinstance(body, dict):
        return 0, 0
    items = body.get("predictions")
    candidates = [body, *items] if isinstance(items, list) else [body]
    flags = [c["cached"] for c in candidates if isinstance(c, dict) and "cached" in c]
    return sum(1 for flag in flags if flag is True), len(flags)


class ControlPlaneTarget(Target):
    """Each request is one predict call with ``batch_size`` texts."""

    def __init__(self, config: BenchmarkConfig, *, max_connections: int) -> None:
        self.base_url = config.url.rstrip("/")
        if "://" not in self.base_url:
            self.base_url = f"http://{self.base_url}"
        self.batch = config.batch_size > 1
        self.batch_size = config.batch_size
        self.path = "/batch-predict" if self.batch else "/predict"
        self.description = f"control plane at {self.base_url}{self.path}"
        self._model_fields = model_fields(config.model, config.version)
        headers = {"content-type": "application/json"}
        fast_headers: dict[str, str] = {}
        if config.auth_token:
            headers["authorization"] = f"Bearer {config.auth_token}"
            fast_headers["authorization"] = f"Bearer {config.auth_token}"
        self._fast = Http1Client(
            self.base_url,
            headers=fast_headers,
            timeout_s=config.request_timeout_s,
            connect_timeout_s=config.connect_timeout_s,
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(config.request_timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    def _body(self, texts: list[str]) -> bytes:
        body: dict[str, Any] = {"texts": texts} if self.batch else {"text": texts[0]}
        body.update(self._model_fields)
        return orjson.dumps(body)

    async def check(self) -> None:
        try:
            response = await self._client.post(
                self.path, content=self._body(["benchmark check"] * self.batch_size)
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"Cannot reach the control plane at {self.base_url} ({describe_http_error(exc)});"
                f" start it with `mlserve up` or pass its URL"
            ) from None
        if response.status_code != 200:
            raise error_for_status(
                response.status_code,
                f"The control plane at {self.base_url} refused a {self.path} request "
                f"(HTTP {response.status_code}): {response_error_text(response)}",
            )

    async def send(self, texts: list[str]) -> Outcome:
        body = self._body(texts)
        started = time.perf_counter()
        try:
            status, content, _ = await self._fast.post(self.path, body)
        except Exception as exc:
            return Outcome(time.perf_counter() - started, error=error_kind(exc))
        latency = time.perf_counter() - started
        if status != 200:
            return Outcome(latency, error=f"http_{status}")
        try:
            cached, reported = count_cached(orjson.loads(content))
        except orjson.JSONDecodeError:
            return Outcome(latency, error="bad_response")
        return Outcome(latency, cached=cached, cache_reported=reported)

    async def aclose(self) -> None:
        await self._fast.aclose()
        await self._client.aclose()
