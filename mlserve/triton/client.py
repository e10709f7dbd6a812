"""The one place that speaks Triton's protocol.

:class:`TritonClient` holds a single shared ``grpc.aio`` channel, with Triton's generated
service stub (from ``tritonclient``), for inference and repository control, and an ``httpx``
client for the metrics endpoint. Every Triton failure is translated into an
:class:`~mlserve.errors.MLServeError` so that callers never see ``grpc`` errors: Triton down
or a model not ready → 503, a full queue → 429, a queue or client deadline → 504 naming the
stage, anything else → 502.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import numpy.typing as npt
from google.protobuf.json_format import MessageToDict
from tritonclient.grpc import service_pb2, service_pb2_grpc

from mlserve.errors import (
    DeadlineExceededError,
    MLServeError,
    OverloadedError,
    ServiceUnavailableError,
    TritonError,
)
from mlserve.triton.tensors import add_input, read_outputs

_GRPC_MAX_MESSAGE = 64 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", _GRPC_MAX_MESSAGE),
    ("grpc.max_receive_message_length", _GRPC_MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 30_000),
]


@dataclass(frozen=True)
class ModelState:
    """One row of Triton's repository index."""

    name: str
    version: int | None
    state: str
    reason: str = ""


class TritonClient:
    """Async access to one Triton server (gRPC ``host:port``).

    Requests are built as protobuf messages and sent on the generated service stub: the
    request path pays for one message and one RPC, not for a general-purpose client's
    per-call objects (``tritonclient``'s ``InferInput``/``InferResult``).
    """

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, metrics_url: str | None = None
    ) -> None:
        self.url = url.removeprefix("grpc://")
        self.timeout_s = timeout_s
        host = self.url.rsplit(":", 1)[0]
        self.metrics_url = metrics_url or f"http://{host}:8002/metrics"
        self._channel: grpc.aio.Channel | None = None
        self._stub: service_pb2_grpc.GRPCInferenceServiceStub | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def stub(self) -> service_pb2_grpc.GRPCInferenceServiceStub:
        """The service stub on the shared channel, created on first use so that the
        channel binds to the running event loop."""
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.url, options=_CHANNEL_OPTIONS)
            self._stub = service_pb2_grpc.GRPCInferenceServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- inference -----------------------------------------------------------------------

    async def infer(
        self,
        model: str,
        version: int | None,
        inputs: Mapping[str, npt.NDArray[Any]],
        outputs: Sequence[str],
        *,
        timeout_s: float | None = None,
        queue_timeout_us: int | None = None,
    ) -> dict[str, npt.NDArray[Any]]:
        """Run one request. ``timeout_s`` bounds the whole call (client deadline);
        ``queue_timeout_us`` overrides the model's queue-policy timeout for this request."""
        request = service_pb2.ModelInferRequest(
            model_name=model, model_version=str(version) if version is not None else ""
        )
        for name, array in inputs.items():
            add_input(request, name, array)
        for name in outputs:
            request.outputs.add().name = name
        if queue_timeout_us is not None:
            request.parameters["timeout"].int64_param = queue_timeout_us
        try:
            response = await self.stub.ModelInfer(
                request, timeout=timeout_s if timeout_s is not None else self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, model, version) from None
        return read_outputs(response, list(outputs))

    # -- health and repository -----------------------------------------------------------

    async def server_ready(self) -> bool:
        """True when Triton answers and reports itself ready; never raises."""
        try:
            answer = await self.stub.ServerReady(service_pb2.ServerReadyRequest(), timeout=2.0)
        except (grpc.aio.AioRpcError, OSError):
            return False
        return bool(answer.ready)

    async def model_index(self) -> list[ModelState]:
        """Every model/version Triton knows in its repository, with its state."""
        try:
            index = await self.stub.RepositoryIndex(
                service_pb2.RepositoryIndexRequest(), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, None, None) from None
        return [
            ModelState(
                name=row.name,
                version=int(row.version) if row.version else None,
                state=row.state,
                reason=row.reason,
            )
            for row in index.models
        ]

    async def ready_versions(self, name: str) -> list[int]:
        """Versions of ``name`` Triton serves right now, ascending."""
        return sorted(
            row.version
            for row in await self.model_index()
            if row.name == name and row.state == "READY" and row.version is not None
        )

    async def load_model(self, name: str) -> None:
        """(Re)load ``name`` from the repository; Triton swaps versions without dropping
        in-flight requests. Raises ServiceUnavailableError with Triton's reason."""
        try:
            await self.stub.RepositoryModelLoad(
                service_pb2.RepositoryModelLoadRequest(model_name=name),
                timeout=max(self.timeout_s, 300.0),
            )
        except grpc.aio.AioRpcError as exc:
            raise ServiceUnavailableError(
                f"Triton could not load model {name!r}: {exc.details()}"
            ) from None

    async def unload_model(self, name: str) -> None:
        try:
            await self.stub.RepositoryModelUnload(
                service_pb2.RepositoryModelUnloadRequest(model_name=name),
                timeout=max(self.timeout_s, 60.0),
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, name, None) from None

    async def statistics(self, name: str = "") -> dict[str, Any]:
        """Triton's statistics API (cumulative counters), as JSON-style dicts."""
        try:
            stats = await self.stub.ModelStatistics(
                service_pb2.ModelStatisticsRequest(name=name), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, name or None, None) from None
        return MessageToDict(stats, preserving_proto_field_name=True)  # type: ignore[no-any-return]

    async def metrics_text(self) -> str:
        """Triton's Prometheus exposition text."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0)
        try:
            response = await self._http.get(self.metrics_url)
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                f"Triton metrics at {self.metrics_url} unreachable: {exc}"
            ) from None
        response.raise_for_status()
        return response.text


def _translate(exc: grpc.aio.AioRpcError, model: str | None, version: int | None) -> MLServeError:
    status = exc.code().name
    message = exc.details() or str(exc)
    lowered = message.lower()
    what = f"model {model!r}" + (f" version {version}" if version is not None else "")
    if "DEADLINE_EXCEEDED" in status or "deadline exceeded" in lowered:
        return DeadlineExceededError(
            f"{what}: no answer from Triton before the deadline; raise timeout_ms or retry",
            stage="inference",
        )
    if "timeout expired" in lowered:
        return DeadlineExceededError(
            f"{what}: request waited in Triton's queue past its deadline; raise timeout_ms "
            "or reduce load",
            stage="queue",
        )
    if "exceeds maximum queue size" in lowered:
        return OverloadedError(f"{what}: Triton's queue is full; retry shortly", retry_after=1.0)
    if "unknown model" in lowered or "is not found" in lowered:
        # The control plane resolves names against the repository first, so a model Triton
        # does not know is one that is (re)loading, e.g. after a Triton restart.
        return ServiceUnavailableError(
            f"{what} is not loaded in Triton yet ({message}); retry shortly"
        )
    if "not ready" in lowered or "UNAVAILABLE" in status or "failed to connect" in lowered:
        return ServiceUnavailableError(f"Triton is unavailable ({message}); retry shortly")
    return TritonError(f"Triton failed on {what}: {message}")
