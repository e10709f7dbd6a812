"""Load on Triton's HTTP/REST v2 infer endpoint (JSON body, BYTES input, httpx)."""

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
from mlserve.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from mlserve.http1 import Http1Client, error_kind


class TritonHttpTarget(Target):
    """Each request is one ``POST v2/models/<m>[/versions/<v>]/infer`` with [n, 1] texts."""

    def __init__(self, config: BenchmarkConfig, *, max_connections: int) -> None:
        assert config.model is not None
        self.base_url = config.url.rstrip("/")
        if "://" not in self.base_url:
            self.base_url = f"http://{self.base_url}"
        self.model = config.model
        self.version = config.version
        self.batch_size = config.batch_size
        model_path = f"/v2/models/{self.model}"
        if self.version is not None:
            model_path += f"/versions/{self.version}"
        self._model_path = model_path
        self._input_name = config.input_name
        self._output_name = config.output_name
        self.description = f"Triton HTTP at {self.base_url}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"content-type": "application/json"},
            timeout=httpx.Timeout(config.request_timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )
        self._check_timeout = config.connect_timeout_s
        self._infer_path = f"{model_path}/infer"
        self._fast = Http1Client(
            self.base_url,
            timeout_s=config.request_timeout_s,
            connect_timeout_s=config.connect_timeout_s,
        )

    def _body(self, texts: list[str]) -> bytes:
        request: dict[str, Any] = {
            "inputs": [
                {
                    "name": self._input_name,
                    "shape": [len(texts), 1],
                    "datatype": "BYTES",
                    "data": texts,
                }
            ],
            "outputs": [{"name": self._output_name}],
        }
        return orjson.dumps(request)

    def _label(self) -> str:
        return self.model if self.version is None else f"{self.model} version {self.version}"

    async def check(self) -> None:
        try:
            await self._check()
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"Cannot reach Triton HTTP at {self.base_url} ({describe_http_error(exc)}); "
                f"check the URL (Triton's HTTP port, default 8000) and that Triton runs"
            ) from None

    async def _check(self) -> None:
        live = await self._client.get("/v2/health/live", timeout=self._check_timeout)
        if live.status_code != 200:
            raise ServiceUnavailableError(
                f"Triton at {self.base_url} is not live (HTTP {live.status_code})"
            )
        ready = await self._client.get(f"{self._model_path}/ready", timeout=self._check_timeout)
        if ready.status_code != 200:
            raise NotFoundError(
                f"Model {self._label()!r} is not ready on Triton at {self.base_url}; "
                f"ready models: {await self._ready_models()}"
            )
        response = await self._client.post(
            f"{self._model_path}/infer", content=self._body(["benchmark check"] * self.batch_size)
        )
        if response.status_code == 400:
            raise InvalidInputError(
                f"Triton refused an inference on {self._label()!r}: "
                f"{response_error_text(response)} (the benchmark sends input "
                f"{self._input_name!r} BYTES [n, 1] and reads {self._output_name!r})"
            )
        if response.status_code != 200:
            raise error_for_status(
                response.status_code,
                f"Triton refused an inference on {self._label()!r} "
                f"(HTTP {response.status_code}): {response_error_text(response)}",
            )

    async def _ready_models(self) -> str:
        try:
            response = await self._client.post("/v2/repository/index", content=b"{}")
            models = response.json()
        except (httpx.HTTPError, ValueError):
            return "(unknown: the repository index could not be read)"
        ready = sorted(
            f"{m.get('name')} v{m.get('version')}"
            for m in models
            if isinstance(m, dict) and m.get("state") == "READY"
        )
        return ", ".join(ready) or "none"

    async def send(self, texts: list[str]) -> Outcome:
        body = self._body(texts)
        started = time.perf_counter()
        try:
            status = (await self._fast.post(self._infer_path, body)).status
        except Exception as exc:
            return Outcome(time.perf_counter() - started, error=error_kind(exc))
        latency = time.perf_counter() - started
        if status != 200:
            return Outcome(latency, error=f"http_{status}")
        return Outcome(latency)

    async def aclose(self) -> None:
        await self._fast.aclose()
        await self._client.aclose()
