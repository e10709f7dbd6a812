"""Settings: one object, read once, passed down.

Values come from, in order of precedence: keyword arguments, ``MLSERVE_*`` environment
variables (nested keys with ``__``, e.g. ``MLSERVE_CACHE__TTL_SECONDS``), the YAML file
named by ``MLSERVE_CONFIG`` (default ``./config.yaml`` when it exists), then defaults.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class CacheSettings(BaseModel):
    """Prediction cache."""

    enabled: bool = True
    """Serve repeated inputs from the cache."""
    ttl_seconds: float = Field(default=300.0, gt=0)
    """How long a cached prediction lives."""
    max_size: int = Field(default=10_000, ge=1)
    """Entries kept by the in-memory cache (LRU beyond that)."""
    redis_url: str | None = None
    """Use Redis at this URL (``redis://host:port/db``); in-memory when unset."""


class MonitoringSettings(BaseModel):
    """Prometheus metrics and drift monitoring."""

    enabled: bool = True
    """Expose ``/metrics`` and run the drift monitor."""
    port: int | None = None
    """Also serve metrics on this port (a separate listener); none when unset."""
    drift_window: int = Field(default=500, ge=50)
    """Requests per live window compared against a version's reference profile."""
    triton_poll_seconds: float = Field(default=5.0, gt=0)
    """How often Triton's statistics are read."""


class TritonSettings(BaseModel):
    """Where Triton runs and how models are configured for it."""

    url: str | None = None
    """External Triton gRPC address (``host:port``); when set no embedded Triton is started."""
    http_url: str | None = None
    """External Triton HTTP address, used for the repository API and metrics."""
    metrics_url: str | None = None
    """External Triton metrics URL (``http://host:8002/metrics``)."""
    host: str = "127.0.0.1"
    """Address the embedded Triton binds to."""
    http_port: int = 8000
    """Embedded Triton HTTP port."""
    grpc_port: int = 8001
    """Embedded Triton gRPC port."""
    metrics_port: int = 8002
    """Embedded Triton metrics port."""
    backend: Literal["mlserve_onnx", "onnxruntime"] = "mlserve_onnx"
    """``mlserve_onnx``: our ONNX Runtime runner on Triton's Python backend (embedded Triton);
    ``onnxruntime``: the native backend of the NGC container."""
    instance_kind: Literal["KIND_CPU", "KIND_GPU", "KIND_AUTO"] = "KIND_CPU"
    """Where model instances run."""
    instance_count: int = Field(default=1, ge=1)
    """Model instances per loaded version."""
    max_queue_size: int = Field(default=256, ge=0)
    """Requests Triton queues per model before rejecting (0 = unbounded)."""
    queue_timeout_ms: int = Field(default=5_000, ge=0)
    """Default time a request may wait in Triton's queue (0 = no limit)."""
    serve_versions: int = Field(default=3, ge=1)
    """Newest versions of each model kept loaded (older ones stay on disk)."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    """How long to wait for the embedded Triton to become ready."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """Client-side timeout for a Triton call when the request sets no deadline."""
    log_dir: Path | None = None
    """Where the embedded Triton writes its log (default: ``<models_dir>/../var/log``)."""


class ServerSettings(BaseModel):
    """The control plane's HTTP server."""

    host: str = "127.0.0.1"
    """Bind address."""
    port: int = 8080
    """Bind port."""
    workers: int = Field(default=1, ge=1)
    """uvicorn worker processes."""


class Settings(BaseSettings):
    """Everything mlserve can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="MLSERVE_",
        env_nested_delimiter="__",
        extra="ignore",
        protected_namespaces=(),
    )

    models_dir: Path = Path("model_repository")
    """The Triton model repository."""
    default_model: str = "sentiment"
    """Model used when a request names none."""
    max_batch_size: int = Field(default=64, ge=1)
    """Triton's max_batch_size for published models."""
    batch_timeout_ms: float = Field(default=0.1, ge=0)
    """Dynamic batcher wait for more requests, in ms; small so a lone request is not held."""
    max_text_length: int = Field(default=10_000, ge=1)
    """Longest text accepted by the predict APIs, in characters."""
    max_batch_texts: int = Field(default=100, ge=1)
    """Most texts in one ``/batch-predict``."""
    cache: CacheSettings = CacheSettings()
    """Prediction cache."""
    monitoring: MonitoringSettings = MonitoringSettings()
    """Metrics and drift."""
    triton: TritonSettings = TritonSettings()
    """Triton location and model configuration."""
    server: ServerSettings = ServerSettings()
    """Control-plane HTTP server."""
    redis_url: str | None = None
    """Redis for the cache and durable state; overrides ``cache.redis_url`` when set."""
    triton_url: str | None = None
    """Shortcut for ``triton.url`` (``MLSERVE_TRITON_URL``): use an external Triton."""
    admin_token: str | None = None
    """Bearer token required by the admin endpoints of the plain API (unset: loopback only)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("MLSERVE_CONFIG", "config.yaml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @property
    def external_triton(self) -> str | None:
        """The external Triton gRPC address, or None when mlserve runs its own."""
        return self.triton_url or self.triton.url

    @property
    def effective_redis_url(self) -> str | None:
        """The Redis URL in force, from either setting."""
        return self.redis_url or self.cache.redis_url

    @property
    def queue_delay_us(self) -> int:
        """Dynamic-batching delay in microseconds."""
        return int(self.batch_timeout_ms * 1000)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once from the environment and config file."""
    return Settings()
