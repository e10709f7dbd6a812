"""Load on Triton's gRPC infer (``tritonclient.grpc.aio``), one channel for all requests."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException

from mlserve.benchmarking.config import BenchmarkConfig
from mlserve.benchmarking.targets.base import Outcome, Target
from mlserve.errors import (
    InvalidInputError,
    MLServeError,
    NotFoundError,
    ServiceUnavailableError,
    TritonError,
)

_UNREACHABLE = {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED"}


def grpc_error_kind(exc: InferenceServerException) -> str:
    """``timeout`` for deadline exceeded, else ``grpc_<status>`` (``grpc_unavailable``...)."""
    status = str(exc.status() or "unknown")
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return "timeout"
    return "grpc_" + status.removeprefix("StatusCode.").lower()


def grpc_address(url: str) -> str:
    """``host:port`` from ``host:port`` or ``grpc://host:port``."""
    return url.split("://", 1)[-1].rstrip("/")


class TritonGrpcTarget(Target):
    """Each request is one gRPC ``ModelInfer`` with a [n, 1] BYTES tensor."""

    def __init__(self, config: BenchmarkConfig) -> None:
        assert config.model is not None
        self.address = grpc_address(config.url)
        self.model = config.model
        self.batch_size = config.batch_size
        self.version = "" if config.version is None else str(config.version)
        self.description = f"Triton gRPC at {self.address}"
        self._input_name = config.input_name
        self._output_name = config.output_name
        self._timeout_s = config.request_timeout_s
        self._check_timeout_s = config.connect_timeout_s
        self._client = grpcclient.InferenceServerClient(self.address)

    def _label(self) -> str:
        return self.model if not self.version else f"{self.model} version {self.version}"

    async def _infer(self, texts: list[str], timeout_s: float) -> None:
        tensor = grpcclient.InferInput(self._input_name, [len(texts), 1], "BYTES")
        tensor.set_data_from_numpy(
            np.array([[text.encode("utf-8")] for text in texts], dtype=np.object_)
        )
        await self._client.infer(
            self.model,
            [tensor],
            model_version=self.version,
            outputs=[grpcclient.InferRequestedOutput(self._output_name)],
            client_timeout=timeout_s,
        )

    async def check(self) -> None:
        try:
            await self._client.is_server_live(client_timeout=self._check_timeout_s)
        except InferenceServerException as exc:
            raise ServiceUnavailableError(
                f"Cannot reach Triton gRPC at {self.address} ({exc.message()}); check the "
                f"address (Triton's gRPC port, default 8001) and that Triton runs"
            ) from None
        try:
            ready = await self._client.is_model_ready(
                self.model, self.version, client_timeout=self._check_timeout_s
            )
        except InferenceServerException:
            ready = False
        if not ready:
            raise NotFoundError(
                f"Model {self._label()!r} is not ready on Triton at {self.address}; "
                f"ready models: {await self._ready_models()}"
            )
        try:
            await self._infer(["benchmark check"] * self.batch_size, self._timeout_s)
        except InferenceServerException as exc:
            raise self._refusal(exc) from None

    def _refusal(self, exc: InferenceServerException) -> MLServeError:
        message = f"Triton refused an inference on {self._label()!r}: {exc.message()}"
        status = str(exc.status())
        if status in _UNREACHABLE:
            return ServiceUnavailableError(message)
        if status == "StatusCode.INVALID_ARGUMENT":
            return InvalidInputError(
                f"{message} (the benchmark sends input {self._input_name!r} BYTES [n, 1] "
                f"and reads {self._output_name!r})"
            )
        return TritonError(message)

    async def _ready_models(self) -> str:
        try:
            index: Any = await self._client.get_model_repository_index(
                as_json=True, client_timeout=self._check_timeout_s
            )
        except InferenceServerException:
            return "(unknown: the repository index could not be read)"
        ready = sorted(
            f"{m.get('name')} v{m.get('version')}"
            for m in index.get("models", [])
            if m.get("state") == "READY"
        )
        return ", ".join(ready) or "none"

    async def send(self, texts: list[str]) -> Outcome:
        started = time.perf_counter()
        try:
            await self._infer(texts, self._timeout_s)
        except InferenceServerException as exc:
            return Outcome(time.perf_counter() - started, error=grpc_error_kind(exc))
        return Outcome(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._client.close()
