"""Triton model configuration as typed objects, rendered to ``config.pbtxt`` in one place.

Nobody edits ``config.pbtxt`` by hand: publishing builds a :class:`ModelConfig` and
:func:`render_pbtxt` writes it. The field names follow Triton's ``model_config.proto``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


class DataType(StrEnum):
    """Triton tensor types used by mlserve's models."""

    FP32 = "TYPE_FP32"
    FP64 = "TYPE_FP64"
    INT32 = "TYPE_INT32"
    INT64 = "TYPE_INT64"
    BOOL = "TYPE_BOOL"
    STRING = "TYPE_STRING"

    @property
    def wire_name(self) -> str:
        """The name used in inference requests (``FP32``, ``BYTES``, ...)."""
        return "BYTES" if self is DataType.STRING else self.value.removeprefix("TYPE_")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output, without the implicit batch dimension."""

    name: str
    data_type: DataType
    dims: tuple[int, ...]
    label_filename: str | None = None
    allow_ragged_batch: bool = False
    """Let Triton batch requests whose variable dims differ (token inputs); the backend
    pads them. Only mlserve's runner supports it, not the native onnxruntime backend."""


@dataclass(frozen=True)
class QueuePolicy:
    """What Triton does with requests waiting for a batch."""

    timeout_action: Literal["REJECT", "DELAY"] = "REJECT"
    default_timeout_microseconds: int = 0
    allow_timeout_override: bool = True
    max_queue_size: int = 0


@dataclass(frozen=True)
class DynamicBatching:
    """Dynamic batcher settings."""

    max_queue_delay_microseconds: int = 0
    preferred_batch_size: tuple[int, ...] = ()
    default_queue_policy: QueuePolicy | None = None
    """None (the default) writes no policy: an unbounded queue, no queue timeouts (nor
    per-request ones); the embedded Triton's batcher stalls ~500 ms now and then with one."""


@dataclass(frozen=True)
class InstanceGroup:
    """Where and how many copies of each loaded version run."""

    kind: Literal["KIND_CPU", "KIND_GPU", "KIND_AUTO"] = "KIND_CPU"
    count: int = 1


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions Triton loads: the ``specific`` list, or ``latest`` N, or ``all``."""

    specific: tuple[int, ...] = ()
    latest: int | None = None

    def render(self) -> str:
        if self.specific:
            versions = ", ".join(str(v) for v in sorted(self.specific))
            return f"version_policy: {{ specific: {{ versions: [ {versions} ] }} }}"
        if self.latest is not None:
            return f"version_policy: {{ latest: {{ num_versions: {self.latest} }} }}"
        return "version_policy: { all: {} }"


@dataclass(frozen=True)
class ModelConfig:
    """A Triton model configuration as mlserve writes it."""

    name: str
    backend: Literal["python", "onnxruntime"] | str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    dynamic_batching: DynamicBatching = field(default_factory=DynamicBatching)
    instance_group: InstanceGroup = field(default_factory=InstanceGroup)
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    parameters: tuple[tuple[str, str], ...] = ()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render_tensor(spec: TensorSpec) -> str:
    dims = ", ".join(str(d) for d in spec.dims)
    parts = [
        f"name: {_quote(spec.name)}",
        f"data_type: {spec.data_type.value}",
        f"dims: [ {dims} ]",
    ]
    if spec.label_filename:
        parts.append(f"label_filename: {_quote(spec.label_filename)}")
    if spec.allow_ragged_batch:
        parts.append("allow_ragged_batch: true")
    return "  {\n    " + "\n    ".join(parts) + "\n  }"


def _render_dynamic_batching(batching: DynamicBatching) -> str:
    policy = batching.default_queue_policy
    lines = [
        "dynamic_batching {",
        f"  max_queue_delay_microseconds: {batching.max_queue_delay_microseconds}",
    ]
    if batching.preferred_batch_size:
        sizes = ", ".join(str(s) for s in batching.preferred_batch_size)
        lines.append(f"  preferred_batch_size: [ {sizes} ]")
    if policy is not None:
        lines += [
            "  default_queue_policy {",
            f"    timeout_action: {policy.timeout_action}",
            f"    default_timeout_microseconds: {policy.default_timeout_microseconds}",
            f"    allow_timeout_override: {str(policy.allow_timeout_override).lower()}",
            f"    max_queue_size: {policy.max_queue_size}",
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines)


def render_pbtxt(config: ModelConfig) -> str:
    """Render ``config`` as the text of a ``config.pbtxt``."""
    blocks = [
        f"name: {_quote(config.name)}",
        f"backend: {_quote(config.backend)}",
        f"max_batch_size: {config.max_batch_size}",
        "input [\n" + ",\n".join(_render_tensor(t) for t in config.inputs) + "\n]",
        "output [\n" + ",\n".join(_render_tensor(t) for t in config.outputs) + "\n]",
        _render_dynamic_batching(config.dynamic_batching),
        "instance_group [\n  {\n"
        f"    kind: {config.instance_group.kind}\n"
        f"    count: {config.instance_group.count}\n"
        "  }\n]",
        config.version_policy.render(),
    ]
    for key, value in config.parameters:
        blocks.append(
            f"parameters {{ key: {_quote(key)} value: {{ string_value: {_quote(value)} }} }}"
        )
    return "\n".join(blocks) + "\n"
