"""The one place that speaks Triton's protocol.

:class:`TritonClient` holds a single shared gRPC channel (``tritonclient.grpc.aio``) for
inference and repository control, and an ``httpx`` client for the metrics endpoint. Every
Triton failure is translated into an :class:`~mlserve.errors.MLServeError` so that callers
never see ``InferenceServerException``: Triton down or a model not ready → 503, a full
queue → 429, a queue or client deadline → 504 naming the stage, anything else → 502.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from google.protobuf.json_format import MessageToDict
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from mlserve.errors import (
    DeadlineExceededError,
    MLServeError,
    OverloadedError,
    ServiceUnavailableError,
    TritonError,
)

_GRPC_MAX_MESSAGE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ModelState:
    """One row of Triton's repository index."""

    name: str
    version: int | None
    state: str
    reason: str = ""


class TritonClient:
    """Async access to one Triton server (gRPC ``host:port``)."""

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, metrics_url: str | None = None
    ) -> None:
        self.url = url.removeprefix("grpc://")
        self.timeout_s = timeout_s
        host = self.url.rsplit(":", 1)[0]
        self.metrics_url = metrics_url or f"http://{host}:8002/metrics"
        self._grpc: InferenceServerClient | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def grpc(self) -> InferenceServerClient:
        # Created lazily so the channel binds to the running event loop.
        if self._grpc is None:
            self._grpc = InferenceServerClient(
                self.url,
                channel_args=[
                    ("grpc.max_send_message_length", _GRPC_MAX_MESSAGE),
                    ("grpc.max_receive_message_length", _GRPC_MAX_MESSAGE),
                    ("grpc.keepalive_time_ms", 30_000),
                ],
            )
        return self._grpc

    async def close(self) -> None:
        if self._grpc is not None:
            await self._grpc.close()
            self._grpc = None
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
        request_inputs = [_infer_input(name, array) for name, array in inputs.items()]
        requested = [InferRequestedOutput(name) for name in outputs]
        client_timeout = timeout_s if timeout_s is not None else self.timeout_s
        try:
            result = await self.grpc.infer(
                model,
                request_inputs,
                model_version=str(version) if version is not None else "",
                outputs=requested,
                timeout=queue_timeout_us,
                client_timeout=client_timeout,
            )
        except InferenceServerException as exc:
            raise _translate(exc, model, version) from None
        return {name: result.as_numpy(name) for name in outputs}

    # -- health and repository -----------------------------------------------------------

    async def server_ready(self) -> bool:
        """True when Triton answers and reports itself ready; never raises."""
        try:
            return bool(await self.grpc.is_server_ready(client_timeout=2.0))
        except (InferenceServerException, OSError):
            return False

    async def model_index(self) -> list[ModelState]:
        """Every model/version Triton knows in its repository, with its state."""
        try:
            index = await self.grpc.get_model_repository_index(
                as_json=True, client_timeout=self.timeout_s
            )
        except InferenceServerException as exc:
            raise _translate(exc, None, None) from None
        rows = index.get("models", []) if isinstance(index, dict) else []
        return [
            ModelState(
                name=row["name"],
                version=int(row["version"]) if row.get("version") else None,
                state=row.get("state", ""),
                reason=row.get("reason", ""),
            )
            for row in rows
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
            await self.grpc.load_model(name, client_timeout=max(self.timeout_s, 300.0))
        except InferenceServerException as exc:
            raise ServiceUnavailableError(
                f"Triton could not load model {name!r}: {exc.message()}"
            ) from None

    async def unload_model(self, name: str) -> None:
        try:
            await self.grpc.unload_model(name, client_timeout=max(self.timeout_s, 60.0))
        except InferenceServerException as exc:
            raise _translate(exc, name, None) from None

    async def statistics(self, name: str = "") -> dict[str, Any]:
        """Triton's statistics API (cumulative counters), as JSON-style dicts."""
        try:
            stats = await self.grpc.get_inference_statistics(
                model_name=name, client_timeout=self.timeout_s
            )
        except InferenceServerException as exc:
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


def _infer_input(name: str, array: npt.NDArray[Any]) -> InferInput:
    if array.dtype.kind in ("U", "S", "O"):
        array = np.asarray(
            [s.encode() if isinstance(s, str) else s for s in array.ravel()], dtype=np.object_
        ).reshape(array.shape)
        datatype = "BYTES"
    else:
        datatype = np_to_triton_dtype(array.dtype)
    tensor = InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _translate(
    exc: InferenceServerException, model: str | None, version: int | None
) -> MLServeError:
    status = str(exc.status() or "")
    message = exc.message() or str(exc)
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
