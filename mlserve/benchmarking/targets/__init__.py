"""The servers a benchmark can load: the control plane, Triton over gRPC, Triton over HTTP."""

from __future__ import annotations

from mlserve.benchmarking.config import BenchmarkConfig
from mlserve.benchmarking.targets.base import Outcome, Target


def make_target(config: BenchmarkConfig, *, max_connections: int) -> Target:
    """The target ``config.target`` names; call inside the running event loop (gRPC binds to
    it). ``max_connections`` should cover the highest concurrency of the sweep."""
    if config.target == "control-plane":
        from mlserve.benchmarking.targets.control_plane import ControlPlaneTarget

        return ControlPlaneTarget(config, max_connections=max_connections)
    if config.target == "triton-http":
        from mlserve.benchmarking.targets.triton_http import TritonHttpTarget

        return TritonHttpTarget(config, max_connections=max_connections)
    from mlserve.benchmarking.targets.triton_grpc import TritonGrpcTarget

    return TritonGrpcTarget(config)


__all__ = ["Outcome", "Target", "make_target"]
