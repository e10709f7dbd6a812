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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from mlserve.errors import SettingsError


class SettingsSection(BaseModel):
    """A nested group of settings. Unknown keys are refused, so a misspelt or retired key in
    the config file or an ``MLSERVE_SECTION__KEY`` variable is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class CacheSettings(SettingsSection):
    """Prediction cache."""

    enabled: bool = True
    """Serve repeated inputs from the cache."""
    ttl_seconds: float = Field(default=300.0, gt=0)
    """How long a cached prediction lives."""
    max_size: int = Field(default=10_000, ge=1)
    """Entries kept by the in-memory cache (LRU beyond that)."""
    redis_url: str | None = None
    """Use Redis at this URL (``redis://host:port/db``); in-memory when unset."""
    replay_max_body_bytes: int = Field(default=4096, ge=0)
    """With the in-memory cache, predict request bodies up to this size are remembered byte
    for byte (at most ``max_size`` of them, for ``ttl_seconds``), and the same body again is
    answered without parsing, cleaning or a cache lookup (``mlserve.serving.repeats``). Not
    with Redis, whose outages must show; 0 turns it off."""


class MonitoringSettings(SettingsSection):
    """Prometheus metrics and drift monitoring."""

    enabled: bool = True
    """Run the drift monitor and poll Triton's metrics (``/metrics`` on the API port, which
    Prometheus scrapes, is served either way)."""
    drift_window: int = Field(default=500, ge=50)
    """Requests per live window compared against a version's reference profile."""
    drift_samples_per_second: float = Field(default=250.0, ge=0)
    """Most predictions per model version and second that enter the drift windows (beyond
    it they only count in the label and confidence metrics): bounds monitoring's CPU under
    load (a drift sample costs 30-120 µs here, so 250/s is at most 3% of a core) while a
    window of 500 still fills in 2 s. 0: every prediction."""
    triton_poll_seconds: float = Field(default=5.0, gt=0)
    """How often Triton's statistics are read."""
    drift_alpha: float = Field(default=0.01, gt=0, lt=1)
    """False-alarm probability per evaluated window, split across signals (Bonferroni)."""
    min_success_rate: float = Field(default=0.95, ge=0, le=1)
    """Alert when a version's share of successful requests falls below this."""
    max_avg_latency_ms: float = Field(default=500.0, gt=0)
    """Alert when a version's average request latency rises above this, in ms."""
    alert_min_requests: int = Field(default=20, ge=1)
    """Requests needed in the stats horizon before success-rate and latency alerts fire."""
    stats_horizon_seconds: float = Field(default=300.0, gt=0)
    """Time span the success rate and average latency of alerts are computed over."""
    baseline_intervals: int = Field(default=12, ge=3)
    """Poll intervals that form the baseline serving-performance rises are judged against."""
    report_column_alpha: float = Field(default=0.05, gt=0, lt=1)
    """Drift reports: a column drifts when its test's p-value is below this."""
    report_drift_share: float = Field(default=0.5, gt=0, le=1)
    """Drift reports: the dataset drifts when at least this share of its columns drifted."""
    report_min_rows: int = Field(default=200, ge=1)
    """Drift reports: rows each side (reference, current window) needs before the dataset
    is judged; fewer give the verdict "not enough data"."""


class TritonSettings(SettingsSection):
    """Where Triton runs and how models are configured for it."""

    url: str | None = None
    """External Triton gRPC address (``host:port``); when set no embedded Triton is started."""
    http_url: str | None = None
    """External Triton HTTP address (``http://host:8000``), used for inference over HTTP and
    benchmark statistics; default: the gRPC address's host with ``http_port``."""
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
    """Requests Triton queues per model before rejecting (0 = unbounded). With this and
    ``queue_timeout_ms`` both 0 no queue policy is written: the embedded Triton's batcher
    then avoids rare ~500 ms stalls it shows with a policy (README, Performance); the
    control plane's in-flight bound and client deadline still apply."""
    queue_timeout_ms: int = Field(default=5_000, ge=0)
    """Default time a request may wait in Triton's queue (0 = no limit)."""
    serve_versions: int = Field(default=3, ge=1)
    """Newest versions of each model kept loaded (older ones stay on disk)."""
    ort_threads: int = Field(default=1, ge=0)
    """ONNX Runtime intra-op threads per model instance in the embedded Triton (0: one per
    core). One thread per instance measured fastest for small models on 2 cores; raise it
    for transformer models on bigger machines."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    """How long to wait for the embedded Triton to become ready."""
    infer_protocol: Literal["http", "grpc"] = "http"
    """How the control plane sends inference to Triton: ``http`` (KServe v2 REST with binary
    tensors on keep-alive connections; measured 3-5x less control-plane CPU per call than
    gRPC here) or ``grpc`` (the shared grpc.aio channel, one multiplexed connection).
    Health checks and repository control always use gRPC."""
    calls_in_flight: int | None = Field(default=None, ge=0)
    """Triton calls the control plane keeps in flight per model version. Requests that arrive
    while they are all busy share the next call (up to ``max_batch_size`` texts): far less
    CPU per request under load, no wait for a lone request. Default: one per model instance
    (``instance_count``), since an instance runs one batch at a time and a further call
    would only wait in Triton's queue with a smaller batch. 0: each request is its own call."""

    gather_turns: int = Field(default=4, ge=0, le=64)
    """Event-loop turns a shared call lets pass before it takes the waiting requests, so that
    requests whose clients are already sending join it (fewer turns once a full call waits:
    ``max_batch_size`` texts or the in-flight bound). Measured on 2 cores at concurrency 16:
    calls of ~7 texts at 0, ~13 at 3, ~16 at 4 or 5, and the CPU per cold request, all
    processes together, ~255 -> ~180 µs. A lone request still never waits; at concurrency 4
    the p50 rose from ~1.9 to ~2.0 ms. 0: take them at once."""

    @property
    def effective_calls_in_flight(self) -> int:
        """``calls_in_flight``, or ``instance_count`` when unset."""
        return self.instance_count if self.calls_in_flight is None else self.calls_in_flight

    request_timeout_s: float = Field(default=10.0, gt=0)
    """Client-side timeout for a Triton call when the request sets no deadline."""
    log_dir: Path | None = None
    """Where the embedded Triton writes its log (default: ``<models_dir>/../var/log``)."""


class ServerSettings(SettingsSection):
    """The control plane's HTTP server."""

    host: str = "127.0.0.1"
    """Bind address."""
    port: int = 8080
    """Bind port."""
    workers: int = Field(default=1, ge=1)
    """uvicorn worker processes."""


class LimitsSettings(SettingsSection):
    """Load bounds of the control plane: in-flight requests and request deadlines."""

    max_inflight_per_model: int = Field(default=256, ge=1)
    """Texts in flight per model in one control-plane process; beyond it a request is refused
    at once with 429 and ``Retry-After`` (no queueing here: Triton queues)."""
    default_timeout_ms: int = Field(default=10_000, ge=1)
    """Deadline of a predict request that sets no ``timeout_ms``."""
    max_timeout_ms: int = Field(default=60_000, ge=1)
    """Largest ``timeout_ms`` a request may ask for (larger ones get 422)."""

    @model_validator(mode="after")
    def _default_within_cap(self) -> LimitsSettings:
        if self.default_timeout_ms > self.max_timeout_ms:
            raise ValueError(
                f"limits.default_timeout_ms ({self.default_timeout_ms}) exceeds "
                f"limits.max_timeout_ms ({self.max_timeout_ms}); lower it or raise the cap"
            )
        return self


class AuthSettings(SettingsSection):
    """Accounts, bearer tokens and the state of the ``/api/v1`` platform API."""

    admin_user: str | None = None
    """First admin, created at start when no user of that name exists (also
    ``MLSERVE_ADMIN_USER``). There is no default admin and no default password."""
    admin_password: SecretStr | None = None
    """Password of ``admin_user`` (also ``MLSERVE_ADMIN_PASSWORD``); used only to create it."""
    token_ttl_seconds: float = Field(default=12 * 3600.0, gt=0)
    """How long a bearer token from ``POST /api/v1/token`` stays valid."""
    webhook_allow_private: bool = False
    """Allow webhook URLs on loopback/private/link-local addresses (also
    ``MLSERVE_WEBHOOK_ALLOW_PRIVATE``); off by default to prevent SSRF."""
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    """Delivery attempts per webhook event (exponential backoff) before it is marked failed."""
    materialize_ttl_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    """How long a materialized prediction can be fetched."""
    prediction_log_size: int = Field(default=100_000, ge=100)
    """Predictions kept for feedback, online metrics and data quality (oldest dropped)."""
    state_path: Path | None = None
    """SQLite file for platform state when no Redis is configured (default
    ``<models_dir>/../var/platform.sqlite3``); single-node only."""


class LoggingSettings(SettingsSection):
    """The one-line-per-request log on stdout."""

    format: Literal["auto", "json", "text"] = "auto"
    """``json``: one JSON object per line (for log shippers); ``text``: one readable line;
    ``auto``: text when stdout is a terminal, JSON otherwise."""
    requests: bool = True
    """Write a line per request (route, status, latency and its parts, model, version,
    cached, routed_by, request id)."""
    payloads: bool = False
    """Add the request body (its first ``payload_max_bytes``) to each line. Off by default:
    bodies hold texts and features."""
    payload_max_bytes: int = Field(default=2048, ge=0, le=1_000_000)
    """Most body bytes a line carries when ``payloads`` is on."""


class TrainingSettings(SettingsSection):
    """``POST /models/{name}/train``: where datasets may come from and what a job may use."""

    data_root: Path | None = None
    """Server-side datasets (``dataset_path``) must lie under this folder; unset: uploads
    only."""
    work_dir: Path | None = None
    """Uploaded datasets and job logs (default ``<models_dir>/../var/training``)."""
    workers: int = Field(default=1, ge=1, le=8)
    """Training processes (jobs beyond them wait in a queue); never the serving loop."""
    worker_threads: int = Field(default=1, ge=1, le=64)
    """Threads each training process may use (BLAS, XGBoost, LightGBM)."""
    worker_nice: int = Field(default=19, ge=0, le=19)
    """Scheduling niceness of training processes, so serving keeps the CPU it needs."""
    worker_idle_priority: bool = True
    """Run training processes under Linux's SCHED_IDLE policy: they get the CPU only when
    serving leaves it idle (training slows under load instead of serving)."""
    max_trials: int = Field(default=200, ge=1)
    """Largest ``n_optimization_trials`` a request may ask for."""
    max_time_budget_s: float = Field(default=1800.0, gt=0)
    """Longest optimisation time a request may ask for."""
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    """Largest dataset upload."""
    max_rows: int = Field(default=2_000_000, ge=100)
    """Most rows a dataset may have."""
    max_queued_jobs: int = Field(default=8, ge=1)
    """Jobs waiting or running at once; more are refused with 429."""


class MlflowSettings(SettingsSection):
    """The MLflow tracking server models are imported from and training runs log to."""

    tracking_uri: str | None = None
    """Tracking server URL (``http://host:5000``); unset: ``MLFLOW_TRACKING_URI``, and
    training logs nothing to MLflow when neither is set."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Longest wait for the tracking server to answer one call: an unreachable server is a
    one-line error after this, not a hang."""


class Settings(BaseSettings):
    """Everything mlserve can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="MLSERVE_",
        env_nested_delimiter="__",
        extra="forbid",
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
    limits: LimitsSettings = LimitsSettings()
    """In-flight bounds and request deadlines."""
    redis_url: str | None = None
    """Redis for the cache and durable state; overrides ``cache.redis_url`` when set."""
    triton_url: str | None = None
    """Shortcut for ``triton.url`` (``MLSERVE_TRITON_URL``): use an external Triton."""
    admin_token: str | None = None
    """Bearer token required by the admin endpoints of the plain API (unset: loopback only)."""
    auth: AuthSettings = AuthSettings()
    """Accounts, tokens and platform state of the ``/api/v1`` API."""
    admin_user: str | None = None
    """Shortcut for ``auth.admin_user`` (``MLSERVE_ADMIN_USER``)."""
    admin_password: SecretStr | None = None
    """Shortcut for ``auth.admin_password`` (``MLSERVE_ADMIN_PASSWORD``)."""
    webhook_allow_private: bool = False
    """Shortcut for ``auth.webhook_allow_private`` (``MLSERVE_WEBHOOK_ALLOW_PRIVATE``)."""
    mlflow: MlflowSettings = MlflowSettings()
    """MLflow tracking server (model import, training runs)."""
    training: TrainingSettings = TrainingSettings()
    """Training jobs."""
    logging: LoggingSettings = LoggingSettings()
    """Request logs."""

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
    def inference_http_url(self) -> str | None:
        """Triton's HTTP address for inference, or None when ``triton.infer_protocol`` is
        ``grpc``: ``triton.http_url``, else the gRPC host (external or embedded) with
        ``triton.http_port``."""
        if self.triton.infer_protocol != "http":
            return None
        if self.triton.http_url:
            return self.triton.http_url
        grpc = self.external_triton
        host = grpc.removeprefix("grpc://").rsplit(":", 1)[0] if grpc else self.triton.host
        return f"http://{host}:{self.triton.http_port}"

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
    """The process-wide settings, built once from the environment and config file.

    Raises :class:`SettingsError` naming each invalid setting, where it can be set and what
    it must be (not pydantic's multi-line report)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_invalid_settings(exc)) from None


def describe_invalid_settings(error: ValidationError) -> str:
    """One line per ``error``: e.g. ``invalid setting triton.gather_turns = '-1'
    (MLSERVE_TRITON__GATHER_TURNS or triton.gather_turns in config.yaml): Input should be
    greater than or equal to 0``, joined by ``; ``."""
    config_file = os.environ.get("MLSERVE_CONFIG", "config.yaml")
    parts = []
    for item in error.errors():
        path = [str(part) for part in item["loc"]]
        if not path:
            parts.append(f"invalid settings: {item['msg']}")
            continue
        name = ".".join(path)
        shown = not isinstance(item["input"], dict) and not any(
            marker in path[-1] for marker in _UNSHOWN_VALUES
        )
        given = f" = {item['input']!r}" if shown else ""
        where = f"MLSERVE_{'__'.join(path).upper()} or {name} in {config_file}"
        problem = item["msg"]
        if item["type"] == "extra_forbidden":
            problem = "no such setting (misspelt or retired?); mlserve/settings.py lists them all"
        parts.append(f"invalid setting {name}{given} ({where}): {problem}")
    return "; ".join(parts)


_UNSHOWN_VALUES = ("password", "secret", "redis_url")
"""Settings whose given value an error leaves out: it may hold a credential."""
